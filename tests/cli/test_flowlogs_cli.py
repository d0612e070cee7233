"""The CLI's flow-log pieces: ``riposte flowlogs`` (what the parser makes of payload files), and ``FlowReplay``,
through which ``riposte score``/``run`` read a directory of payload files as that sequence of invocations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from riposte import cli, inputs
from riposte.commands import flowlogs
from riposte.engine import setup
from riposte.flowlogs import DEFAULT_FORMAT, parse_format
from tests.cli.test_cli import KEYS
from tests.unit.flowlogs import scenario

ATTACKERS = {scenario.SCANNER, scenario.FLOOD, scenario.BRUTE}
CUSTOM = (
    "${version} ${vpc-id} ${subnet-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol}"
    " ${packets} ${bytes} ${start} ${end} ${action} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr}"
    " ${flow-direction} ${log-status}"
)


def flowlogs_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    status = flowlogs.main(["flowlogs", *args])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def payload_file(tmp_path: Path, lines: list[str], name: str = "payload.json", **options: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(scenario.subscription_event(lines, **options)))
    return path


# --- riposte flowlogs ----------------------------------------------------------------------------------------


def test_each_record_prints_its_fields_named_as_in_the_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = scenario.render(
        {
            "interface-id": "eni-0a0b0c0d0e0f10010",
            "srcaddr": scenario.SCANNER,
            "dstaddr": "10.0.1.10",
            "srcport": 40000,
            "dstport": 22,
            "protocol": 6,
            "packets": 3,
            "bytes": 180,
            "start": scenario.T0,
            "end": scenario.T0 + 59,
            "action": "REJECT",
        }
    )
    nodata = f"2 {scenario.ACCOUNT} eni-0a0b0c0d0e0f1ffff - - - - - - - {scenario.T0} {scenario.T0 + 59} - NODATA"
    status, out, _ = flowlogs_cli(capsys, str(payload_file(tmp_path, [line, nodata])))
    assert status == 0
    assert out[0] == {
        "version": 2,
        "account_id": scenario.ACCOUNT,
        "interface_id": "eni-0a0b0c0d0e0f10010",
        "srcaddr": scenario.SCANNER,
        "dstaddr": "10.0.1.10",
        "srcport": 40000,
        "dstport": 22,
        "protocol": 6,
        "packets": 3,
        "bytes": 180,
        "start": scenario.T0,
        "end": scenario.T0 + 59,
        "action": "REJECT",
        "log_status": "OK",
    }
    assert out[1]["srcaddr"] is None
    assert out[1]["packets"] is None
    assert out[1]["log_status"] == "NODATA"
    assert len(out) == 2


def test_a_custom_format_with_ipv6_is_read_with_its_own_field_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fmt = parse_format(CUSTOM)
    record = {
        "srcaddr": "2a02:1234:5678::9",
        "dstaddr": "2600:1f18:4a3:6b01::10",
        "interface-id": "eni-0a0b0c0d0e0f10010",
        "srcport": 50000,
        "dstport": 443,
        "protocol": 6,
        "packets": 12,
        "bytes": 3000,
        "start": scenario.T0,
        "end": scenario.T0 + 30,
        "action": "ACCEPT",
        "tcp-flags": 19,
    }
    path = payload_file(tmp_path, [scenario.render(record, fmt)])
    status, (out,), _ = flowlogs_cli(capsys, "--format", CUSTOM, str(path))
    assert status == 0
    assert list(out) == [name.replace("-", "_") for name in fmt.fields]
    assert (out["pkt_srcaddr"], out["type"], out["flow_direction"], out["tcp_flags"]) == (
        "2a02:1234:5678::9",
        "IPv6",
        "ingress",
        19,
    )
    # The same line read with the default format is not a record of it, and says why.
    status, (skipped,), _ = flowlogs_cli(capsys, str(path))
    assert status == 0
    assert skipped == {
        "input": f"{path}#0",
        "skipped": "expected 14 fields for the format, got 20",
        "message": scenario.render(record, fmt),
    }


def test_the_configured_format_is_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "riposte.toml"
    config.write_text(f'[flowlogs]\nlog_format = "{CUSTOM}"\n')
    line = scenario.render(
        {"srcaddr": scenario.BRUTE, "dstaddr": "10.0.0.5", "start": scenario.T0}, parse_format(CUSTOM)
    )
    status, (out,), _ = flowlogs_cli(capsys, "--config", str(config), str(payload_file(tmp_path, [line])))
    assert status == 0
    assert out["subnet_id"] == "subnet-0123456789abcdef0"


def test_lines_that_are_not_records_say_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = f"2 {scenario.ACCOUNT} eni-1 {scenario.FLOOD} 10.0.1.10 1 443 17 5 300 {scenario.T0} {scenario.T0} ACCEPT OK"
    junk = ["", "not a flow record", good.replace(" 5 300 ", " lots 300 "), good.replace(scenario.FLOOD, "10.0.0.300")]
    status, out, _ = flowlogs_cli(capsys, str(payload_file(tmp_path, [good, *junk])))
    assert status == 0  # a skipped line is an answer, not a failure
    assert "skipped" not in out[0]
    reasons = [o["skipped"] for o in out[1:]]
    assert reasons == [
        "empty line",
        "expected 14 fields for the format, got 4",
        "packets: 'lots' is not a number in 0..9223372036854775807",
        "srcaddr: '10.0.0.300' is not an IPv4 or IPv6 address",
    ]
    assert [o["input"] for o in out[1:]] == [f"{tmp_path / 'payload.json'}#{i}" for i in range(1, 5)]


def test_control_messages_print_nothing_and_other_inputs_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    control = tmp_path / "control.json"
    control.write_text(json.dumps(scenario.control_event()))
    status, out, _ = flowlogs_cli(capsys, str(control))
    assert (status, out) == (0, [])
    other = tmp_path / "finding.json"
    other.write_text(json.dumps({"detail": {}}))
    status, (line,), _ = flowlogs_cli(capsys, str(control), str(other))
    assert status == 2
    assert line["input"] == str(other)
    assert "not a CloudWatch Logs subscription payload" in line["error"]


def test_a_bad_format_is_refused_before_reading_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = flowlogs_cli(capsys, "--format", "${srcaddr} ${nonsense}", str(tmp_path))
    assert (status, out) == (2, [])
    assert "--format: unknown field 'nonsense' (token 2)" in err


def test_the_decoded_payload_reads_like_the_lambda_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = list(scenario.build().batches[0].lines)
    decoded = tmp_path / "decoded.json"
    decoded.write_text(json.dumps(scenario.subscription_payload(lines)))
    _, from_event, _ = flowlogs_cli(capsys, str(payload_file(tmp_path, lines)))
    _, from_decoded, _ = flowlogs_cli(capsys, str(decoded))
    assert from_decoded == [
        {**o, "input": o["input"].replace("payload.json", "decoded.json")} if "input" in o else o for o in from_event
    ]
    assert len(from_event) == len(lines)


# --- riposte score / run over payload files ----------------------------------------------------------------


def replay_lines(paths: list[str], config: Any, rt: Any = None) -> list[dict[str, Any]]:
    """What cli.main does for flow-log inputs once wired (see the module docstring of riposte.commands.flowlogs)."""
    replay = flowlogs.FlowReplay(config)
    out = []
    for item in inputs.read(paths):
        assert replay.wants(item.raw, None)
        out += [line for line, _ in replay.process(item, rt, cli._line)]
    return out


def test_score_over_a_directory_of_payloads_plans_exactly_the_three_blocks(tmp_path: Path) -> None:
    story = scenario.build()
    scenario.write_payloads(story, tmp_path / "payloads")
    config = setup.parse({"allowlist": ["34.120.0.0/16"], "flowlogs": {"own_cidrs": [scenario.VPC_V6]}})
    lines = replay_lines([str(tmp_path / "payloads")], config)
    assert all(set(line) == KEYS for line in lines)
    assert {line["source"] for line in lines} == {"flowlogs"}
    planned = {a["target"] for line in lines for a in line["actions"] if a["status"] == "planned"}
    refused = {a["target"]: a["detail"] for line in lines for a in line["actions"] if a["status"] == "refused"}
    assert planned == ATTACKERS
    assert set(refused) == {scenario.PARTNER, scenario.INTERNAL_SCANNER}
    assert "allowlisted" in refused[scenario.PARTNER]
    reported = {line["entities"]["ips"][0] for line in lines}
    assert reported == {*ATTACKERS, scenario.PARTNER, scenario.INTERNAL_SCANNER}  # no flash crowd, no prober
    # Within one window of onset: every event came while reading the onset window's payloads (named by window).
    assert all(f"-{story.onset}-" in line["input"] for line in lines)
    assert {line["title"].split(" from ")[0] for line in lines} >= {"Port scan", "Volume spike", "Brute force"}
    scanner = next(line for line in lines if line["entities"]["ips"] == [scenario.SCANNER])
    assert scanner["type"] == "FlowLogs:PortScan"
    assert scanner["reasons"][0].startswith("flow-log port_scan (")
    assert scanner["score"] >= 70
    assert scanner["entities"]["interfaces"]  # where its traffic landed


def test_replayed_in_another_order_the_windows_still_judge_their_own_traffic(tmp_path: Path) -> None:
    story = scenario.build()
    paths = scenario.write_payloads(story, tmp_path / "payloads")
    config = setup.parse({"allowlist": ["34.120.0.0/16"], "flowlogs": {"own_cidrs": [scenario.VPC_V6]}})
    first = replay_lines([str(p) for p in paths], config)
    again = replay_lines([str(p) for p in paths], config)  # a fresh run: fresh state, same verdicts
    assert [line["actions"] for line in first] == [line["actions"] for line in again]


def test_run_over_payload_files_blocks_exactly_the_three_attackers(tmp_path: Path) -> None:
    story = scenario.build()
    scenario.write_payloads(story, tmp_path / "payloads")
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        config = setup.parse(
            {
                "mode": "enforce",
                "allowlist": ["34.120.0.0/16"],
                "nacl": {"network_acl_ids": [acl]},
                "flowlogs": {"own_cidrs": [scenario.VPC_V6]},
            }
        )
        from riposte.runtime import build

        lines = replay_lines([str(tmp_path / "payloads")], config, build(config, table_name=None))
        entries = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Entries"]
    denied = {e["CidrBlock"] for e in entries if e["RuleAction"] == "deny" and e["RuleNumber"] < 32767}
    assert denied == {f"{ip}/32" for ip in ATTACKERS}
    done = {a["target"] for line in lines for a in line["actions"] if a["status"] == "done"}
    assert done == ATTACKERS


def test_a_file_that_is_not_a_payload_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"awslogs": {"data": "not base64!"}}))
    replay = flowlogs.FlowReplay(setup.parse({}))
    (item,) = inputs.read([str(bad)])
    assert replay.wants(item.raw, None)
    [(line, failed)] = replay.process(item, None, cli._line)
    assert line["input"] == str(bad)
    assert "not base64" in line["error"]
    assert not failed
    assert replay.wants({"anything": 1}, "flowlogs")
    assert not replay.wants(scenario.control_event(), "guardduty")


def test_the_default_format_is_the_v2_default() -> None:
    assert setup.parse({}).flowlogs.log_format == DEFAULT_FORMAT


def test_the_bundled_sample_payload_shows_a_scan_blocked_and_a_download_left_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sample = Path(__file__).resolve().parents[2] / "demo" / "samples" / "flowlogs-port-scan.json"
    assert cli.main(["score", str(sample)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["title"], [(a["action"], a["target"], a["status"]) for a in line["actions"]]) for line in lines] == [
        ("Port scan from 45.13.105.20", [("block_ip", "45.13.105.20", "planned")])
    ]
