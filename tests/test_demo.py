"""`make demo`'s pipeline run (synth is covered by tests/infra): it must exit 0 and show what happened."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
def test_demo_runs_and_shows_the_block_and_the_slack_message() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "run_demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "FAILED" not in out
    assert "deny  91.240.118.77/32" in out
    assert "CRITICAL 90/100: C&C activity" in out
    assert "refused  protected address: 34.120.5.44 is allowlisted" in out
    assert "POST /webhooks/sumologic -> 202" in out
    assert "managed range 1-6 is full: added" in out
    assert "evicting" in out
    assert "trail logging: True" in out
    assert "trigger critical" in out  # PagerDuty
    assert "PagerDuty resolve" in out
    assert "all expectations met" in out
