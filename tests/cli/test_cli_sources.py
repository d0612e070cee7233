"""The CLI over every source: CloudTrail log files ({"Records": [...]}), GetFindings REST output, saved webhook
bodies (--source <tool>), bursts counted across the inputs of one run, and the extra commands' wiring."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from riposte import cli
from tests.conftest import EVENTS, ROOT

WEBHOOKS = ROOT / "tests" / "webhooks_samples"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    status = cli.main(list(args))
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def burst_case() -> dict[str, Any]:
    cases = json.loads((EVENTS / "cloudtrail" / "console_login_failure_burst.cases").read_text())
    case: dict[str, Any] = cases[0]
    return case


def test_a_cloudtrail_log_file_is_read_record_by_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = burst_case()
    records = [e["detail"] for e in [*case["history"], case["event"]]]
    logs = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail"
    logs.mkdir(parents=True)
    (logs / "log.json.gz").write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    digest = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail-Digest"
    digest.mkdir()
    (digest / "digest.json.gz").write_bytes(gzip.compress(b'{"digestStartTime": "x"}'))
    status, lines = run_cli(capsys, "score", str(tmp_path))
    assert status == 0
    assert [line["input"].rsplit("#", 1)[1] for line in lines] == [str(n) for n in range(len(records))]
    assert {line["source"] for line in lines} == {"cloudtrail"}
    # The fifth failure within five minutes is a burst: only it carries the burst's points.
    reasons = [" ".join(line["reasons"]) for line in lines]
    assert all("not yet a burst" in r for r in reasons[:-1])
    assert "(threshold 5)" in reasons[-1]
    assert lines[-1]["score"] > max(line["score"] for line in lines[:-1])


def test_getfindings_rest_output_is_read_like_the_cli_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = json.loads((EVENTS / "guardduty" / "get_findings" / "getfindings_pascal_iam_api_call.json").read_text())
    (tmp_path / "rest.json").write_text(json.dumps({"findings": exported["Findings"]}))
    status, lines = run_cli(capsys, "score", str(tmp_path / "rest.json"))
    assert status == 0
    assert [line["input"].rsplit("/", 1)[1] for line in lines] == ["rest.json#0"]
    assert lines[0]["source"] == "guardduty"


def test_a_saved_webhook_body_maps_to_one_event_per_offending_address(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run_cli(
        capsys, "score", "--source", "sumologic", str(WEBHOOKS / "sumologic_scheduled_search_aggregate.json")
    )
    assert status == 0
    assert len(lines) >= 2
    assert {line["source"] for line in lines} == {"webhooks:sumologic"}
    assert all(line["input"].endswith(f"#{n}") for n, line in enumerate(lines))
    assert all(len(line["entities"]["ips"]) == 1 for line in lines)


def test_a_resolved_alert_never_acts(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run_cli(capsys, "score", "--source", "alertmanager", str(WEBHOOKS / "alertmanager_resolved.json"))
    assert status == 0
    assert lines
    assert all(line["actions"] == [] for line in lines)
    assert all("resolved" in " ".join(line["reasons"]) for line in lines)


def test_a_body_the_front_door_would_refuse_is_an_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"ip": "010.1.1.1", "reason": "x", "severity": "high"}))
    status, lines = run_cli(capsys, "score", "--source", "generic", str(tmp_path / "bad.json"))
    assert status == 2
    assert "error" in lines[0]


def test_the_block_commands_are_wired(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIPOSTE_TABLE", raising=False)
    assert cli.main(["blocks"]) == 2
    assert "--table NAME" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
def test_serve_takes_an_alert_over_http_and_carries_it_out(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "demo"))
    from local import free_port, moto_server  # type: ignore[import-not-found]

    with moto_server() as endpoint:
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "RIPOSTE_WEBHOOK_TOKEN": "local-token-0123456789abcdef-0123456789",
            "PYTHONPATH": os.pathsep.join(sys.path),
        }
        config = tmp_path / "c.toml"
        config.write_text('[webhooks]\ntools = ["generic"]\n')
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("riposte")), "serve", "--config", str(config), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            body = json.dumps({"ip": "45.13.104.66", "reason": "credential stuffing", "severity": "critical"}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/webhooks/generic",
                data=body,
                headers={
                    "Authorization": "Bearer local-token-0123456789abcdef-0123456789",
                    "Content-Type": "application/json",
                },
            )
            for _ in range(100):
                try:
                    # Generous: the first request builds the AWS clients, slow on a loaded 2-core machine. A
                    # timeout is not retried, or the alert would be sent twice.
                    with urllib.request.urlopen(request, timeout=60) as response:
                        assert response.status == 202
                        break
                except (ConnectionError, urllib.error.URLError):
                    time.sleep(0.1)
            line = json.loads(server.stdout.readline())  # type: ignore[union-attr]
        finally:
            server.terminate()
            server.wait(timeout=10)
        assert line["source"] == "webhooks:generic"
        assert line["entities"]["ips"] == ["45.13.104.66"]
        assert line["actions"][0]["action"] == "block_ip"


def test_the_breaker_needs_its_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIPOSTE_TABLE", raising=False)
    assert cli.main(["breaker", "status"]) == 2
    assert "--table NAME" in capsys.readouterr().err


def test_the_breaker_is_shown_and_reset_against_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    import boto3
    from moto import mock_aws

    from demo.local import create_state_table
    from riposte.adapters.aws.dynamodb import DynamoState

    with mock_aws():
        create_state_table(boto3.client("dynamodb"), "state")
        DynamoState(boto3.resource("dynamodb").Table("state")).trip_breaker("too many", now=5)
        assert run_cli(capsys, "breaker", "status", "--table", "state") == (
            0,
            [{"breaker": "tripped", "detail": "too many (since 5)"}],
        )
        assert run_cli(capsys, "breaker", "reset", "--table", "state") == (0, [{"breaker": "closed", "detail": ""}])


def test_each_line_carries_the_evidence_a_person_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    body = ROOT / "tests" / "webhooks_samples" / "alertmanager_mixed_addresses.json"
    status, lines = run_cli(capsys, "score", "--source", "alertmanager", str(body))
    assert status == 0
    skipped = [v for line in lines for label, v in line["evidence"] if label == "Skipped address"]
    assert skipped == ["alerts[4].labels.src_ip: '185.156.073.54' has a leading zero"]
    assert all(isinstance(pair, list) and len(pair) == 2 for line in lines for pair in line["evidence"])
