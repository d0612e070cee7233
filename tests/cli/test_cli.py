"""The `riposte score` / `riposte run` contract other tools rely on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from riposte import cli
from tests.conftest import EVENTS, GUARDDUTY, ROOT

# The contract: these keys, never renamed or dropped (new ones may be added: "parties" was).
# The contract: fields are added (parties, then evidence), never renamed or dropped.
KEYS = {"input", "source", "type", "title", "score", "severity", "reasons", "entities", "actions", "notify"}
KEYS |= {"parties", "evidence"}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    status = cli.main(list(args))
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines()]


def test_score_prints_the_contract_for_one_finding(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(GUARDDUTY / "c2_activity_outbound.json")
    status, (line,) = run_cli(capsys, "score", path)
    assert status == 0
    assert set(line) == KEYS
    assert line["input"] == path
    assert (line["source"], line["type"], line["score"], line["severity"]) == (
        "guardduty",
        "Backdoor:EC2/C&CActivity.B",
        90,
        "critical",
    )
    assert line["entities"] == {
        "ips": ["91.240.118.77"],
        "instances": ["i-0a1b2c3d4e5f60718"],
        "access_keys": [],
        "principals": [],
        "accounts": ["123456789012"],
        "buckets": [],
        "clusters": [],
        "functions": [],
        "db_instances": [],
        "domains": [],
        "subnets": ["subnet-0a1b2c3d4e5f60718"],
        "interfaces": ["eni-0f1e2d3c4b5a69788"],
        "trails": [],
        "detectors": [],
        "security_group_rules": [],
        "kms_keys": [],
    }
    assert line["parties"] == [
        {"kind": "ip", "value": "91.240.118.77", "role": "peer", "network": True},
        {"kind": "instance", "value": "i-0a1b2c3d4e5f60718", "role": "compromised", "network": False},
        {"kind": "subnet", "value": "subnet-0a1b2c3d4e5f60718", "role": "affected", "network": False},
        {"kind": "interface", "value": "eni-0f1e2d3c4b5a69788", "role": "affected", "network": False},
        {"kind": "account", "value": "123456789012", "role": "affected", "network": False},
    ]
    assert line["actions"] == [{"action": "block_ip", "target": "91.240.118.77", "status": "planned", "detail": ""}]
    assert [n["notifier"] for n in line["notify"]] == ["slack", "pagerduty"]
    assert all(isinstance(r, str) for r in line["reasons"])


def test_directories_are_read_recursively_in_name_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(GUARDDUTY / "bitcoin_outbound.json", tmp_path / "b.json")
    (tmp_path / "sub").mkdir()
    shutil.copy(GUARDDUTY / "c2_activity_outbound.json", tmp_path / "sub" / "a.json")
    shutil.copy(GUARDDUTY / "tor_client_partner.json", tmp_path / "a.json")
    (tmp_path / ".hidden.json").write_text("junk")
    status, lines = run_cli(capsys, "score", str(tmp_path))
    assert status == 0
    assert [Path(line["input"]).relative_to(tmp_path).as_posix() for line in lines] == [
        "a.json",
        "b.json",
        "sub/a.json",
    ]


def test_arrays_json_lines_and_get_findings_output_are_indexed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [json.loads((GUARDDUTY / n).read_text()) for n in ("bitcoin_outbound.json", "c2_activity_outbound.json")]
    (tmp_path / "array.json").write_text(json.dumps(events))
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    status, lines = run_cli(
        capsys,
        "score",
        str(tmp_path / "array.json"),
        str(tmp_path / "lines.jsonl"),
        str(EVENTS / "get_findings_output.json"),
    )
    assert status == 0
    assert [line["input"].rsplit("/", 1)[1] for line in lines] == [
        "array.json#0",
        "array.json#1",
        "lines.jsonl#0",
        "lines.jsonl#1",
        "get_findings_output.json#0",
    ]
    assert [line["score"] for line in lines] == [85, 90, 85, 90, 85]


def test_malformed_inputs_are_reported_and_the_run_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "1-broken.json").write_text('{"source": "aws.guardduty", ')
    (tmp_path / "2-unknown.json").write_text('{"hello": "world"}')
    bad_finding = json.loads((GUARDDUTY / "bitcoin_outbound.json").read_text())
    del bad_finding["detail"]["accountId"]
    (tmp_path / "3-invalid.json").write_text(json.dumps(bad_finding))
    (tmp_path / "4-lines.jsonl").write_text('{"hello": 1}\nnot json\n')
    shutil.copy(GUARDDUTY / "bitcoin_outbound.json", tmp_path / "5-good.json")
    status, lines = run_cli(capsys, "score", str(tmp_path), str(tmp_path / "missing.json"))
    assert status == 2
    errors = {Path(line["input"]).name: line.get("error") for line in lines}
    assert errors["1-broken.json"].startswith("not valid JSON")
    assert "unrecognized event shape" in errors["2-unknown.json"]
    assert "accountId: Field required" in errors["3-invalid.json"]
    assert "unrecognized event shape" in errors["4-lines.jsonl#0"]
    assert errors["4-lines.jsonl#1"].startswith("line 2: not valid JSON")
    assert errors["5-good.json"] is None
    assert errors["missing.json"] == "no such file or directory"
    assert set(next(line for line in lines if line["input"].endswith("5-good.json"))) == KEYS


def test_allow_refuses_the_address(capsys: pytest.CaptureFixture[str]) -> None:
    status, (line,) = run_cli(capsys, "score", "--allow", "34.120.0.0/16", str(GUARDDUTY / "tor_client_partner.json"))
    assert status == 0
    assert line["actions"][0]["status"] == "refused"
    assert "allowlisted (34.120.0.0/16)" in line["actions"][0]["detail"]


def test_a_bad_allow_or_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["score", "--allow", "nonsense", str(GUARDDUTY)]) == 2
    assert "--allow: allowlist.0: 'nonsense' is not a valid CIDR" in capsys.readouterr().err
    config = tmp_path / "c.toml"
    config.write_text("[thresholds]\nact = -1\n")
    assert cli.main(["score", "--config", str(config), str(GUARDDUTY)]) == 2
    assert "thresholds.act" in capsys.readouterr().err


def test_config_thresholds_change_the_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[thresholds]\nnotify = 10\npage = 95\nact = 20\n")
    _, (line,) = run_cli(capsys, "score", "--config", str(config), str(GUARDDUTY / "port_probe_multi.json"))
    assert {a["target"]: a["status"] for a in line["actions"]} == {
        "45.13.104.50": "planned",
        "10.0.0.9": "refused",
    }


def test_source_can_be_forced(capsys: pytest.CaptureFixture[str]) -> None:
    status, (line,) = run_cli(capsys, "score", "--source", "guardduty", str(GUARDDUTY / "bitcoin_outbound.json"))
    assert (status, line["source"]) == (0, "guardduty")


def test_installed_console_script_prints_json_lines() -> None:
    binary = Path(sys.executable).with_name("riposte")
    result = subprocess.run(
        [str(binary), "score", str(GUARDDUTY / "bitcoin_outbound.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["score"] == 85


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
def test_run_carries_out_the_plan_against_a_local_aws(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "demo"))
    import boto3
    from local import moto_server  # type: ignore[import-not-found]

    with moto_server() as endpoint:
        ec2 = boto3.client("ec2", endpoint_url=endpoint)
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        config = tmp_path / "c.toml"
        config.write_text(f'mode = "enforce"\n[nacl]\nnetwork_acl_ids = ["{acl}"]\n')
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONPATH": str(ROOT / "lambdas"),  # this checkout's code, whichever one the venv installed
        }
        binary = Path(sys.executable).with_name("riposte")
        result = subprocess.run(
            [str(binary), "run", "--config", str(config), str(GUARDDUTY / "bitcoin_outbound.json")],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        # Every input was read, but the notifications failed: exit 3, not 0 (and not 2: nothing was rejected).
        assert result.returncode == 0, result.stderr  # nothing failed: the notifiers are not configured
        line = json.loads(result.stdout)
        assert line["actions"][0]["status"] == "done"
        assert line["actions"][0]["detail"] == f"{acl}: added 45.13.105.9/32 as rule 1, expires in 24h"
        # No notifier secret exists in this account: not configured, said so, never retried in a storm.
        assert {n["notifier"]: n["status"] for n in line["notify"]} == {
            "slack": "skipped",
            "pagerduty": "skipped",
        }
        assert all(n["detail"].startswith("not configured") for n in line["notify"])
        entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
        assert [(e["RuleNumber"], e["CidrBlock"], e["RuleAction"]) for e in entries] == [(1, "45.13.105.9/32", "deny")]


def test_score_is_pure_it_never_loads_an_aws_sdk() -> None:
    code = (
        "import sys; from riposte import cli; "
        f"status = cli.main(['score', {str(GUARDDUTY)!r}]); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')); "
        "sys.exit(f'loaded {loaded}' if loaded else status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
