"""Synthesize the way `cdk synth` / `cdk deploy` do: the CLI always sets CDK_DEFAULT_REGION (and, with
credentials, CDK_DEFAULT_ACCOUNT), which turns ARNs concrete and changes cdk-nag's finding ids. Every config
shape must pass cdk-nag with and without those variables (issue: an enforce config listing VPCs failed deploy)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import app as cdk_app
from riposte.engine import setup

ROOT = Path(__file__).resolve().parents[2]
ACL = "acl-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]

CONFIGS: dict[str, dict[str, Any]] = {
    "dry_run": {},
    "enforce_acls": {"mode": "enforce", "nacl": {"network_acl_ids": [ACL]}},
    "enforce_vpcs": {"mode": "enforce", "nacl": {"vpc_ids": [VPC]}},
    "enforce_both": {"mode": "enforce", "nacl": {"network_acl_ids": [ACL], "vpc_ids": [VPC]}},
}
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "agnostic": {},
    "region_only": {"CDK_DEFAULT_REGION": "eu-west-1"},
    "account_and_region": {"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "us-east-1"},
    "china": {"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "cn-north-1"},
}


# Every config with and without account/region; the other environments on the config that grants the most.
MATRIX = [(c, e) for c in CONFIGS for e in ("agnostic", "account_and_region")] + [
    ("enforce_both", "region_only"),
    ("enforce_both", "china"),
]


@pytest.mark.parametrize(("config", "environment"), MATRIX)
def test_every_config_passes_cdk_nag_however_the_environment_resolves(
    config: str, environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENTS[environment].items():
        monkeypatch.setenv(name, value)
    app = cdk.App(outdir=str(tmp_path))
    cdk_app.build(app, setup.parse(CONFIGS[config]))
    app.synth()  # raises on any cdk-nag violation
    (plugin,) = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    assert (plugin["conclusion"], plugin["violations"]) == ("success", [])
    acknowledged = {s["ruleName"] for s in plugin["suppressedViolations"]}
    wildcard_acl = [r for r in acknowledged if r.startswith("AwsSolutions-IAM5[Resource::") and "network-acl/*" in r]
    assert len(wildcard_acl) == (1 if "vpc" in config or "both" in config else 0), acknowledged


def test_the_cdk_cli_synthesizes_an_enforce_config_with_vpcs(tmp_path: Path) -> None:
    config = tmp_path / "riposte.toml"
    config.write_text(f'mode = "enforce"\n[nacl]\nvpc_ids = ["{VPC}"]\nnetwork_acl_ids = ["{ACL}"]\n')
    env = {
        **os.environ,
        "CDK_DEFAULT_ACCOUNT": "111122223333",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    result = subprocess.run(
        ["npx", "cdk", "synth", "--quiet", "-c", f"riposte:config={config}", "-o", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
