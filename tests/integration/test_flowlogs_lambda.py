"""The flow-log Lambda on moto (DynamoDB flow state, EC2 network ACL, Secrets Manager) and a local Slack: the
synthetic multi-window scenario ends with exactly the three attackers blocked, in the window of their onset,
through both ways in (the subscription event and Kinesis batches); retries never count a payload twice; a
failure is raised (direct) or reported per record (Kinesis), never swallowed."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pytest_httpserver import HTTPServer

from demo.local import LambdaContext, create_state_table
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers import environment
from riposte.handlers import flowlogs as handler_module
from riposte.sources import InputError
from tests.unit.flowlogs import scenario

TABLE = "riposte-flowlogs-state"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/riposte-flowlogs"
ATTACKERS = {scenario.SCANNER, scenario.FLOOD, scenario.BRUTE}
PARTNERS = "34.120.0.0/16"


@dataclass
class Env:
    ec2: Any
    dynamodb: Any
    acl: str
    slack: HTTPServer
    now: list[float]

    def denied(self) -> set[str]:
        entries = self.ec2.describe_network_acls(NetworkAclIds=[self.acl])["NetworkAcls"][0]["Entries"]
        return {
            e["CidrBlock"] for e in entries if e["RuleAction"] == "deny" and not e["Egress"] and e["RuleNumber"] < 100
        }

    def items(self, prefix: str) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [i for i in items if i["pk"]["S"].startswith(prefix)]

    def slack_texts(self) -> list[str]:
        return [request.get_data(as_text=True) for request, _ in self.slack.log]


@pytest.fixture
def env(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(
            NetworkAclId=acl, RuleNumber=100, Egress=False, RuleAction="allow", CidrBlock="0.0.0.0/0", Protocol="-1"
        )
        dynamodb = boto3.client("dynamodb")
        create_state_table(dynamodb, TABLE)
        secrets = boto3.client("secretsmanager")
        httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
        secrets.create_secret(Name="riposte/slack-webhook-url", SecretString=httpserver.url_for("/slack"))
        secrets.create_secret(Name="riposte/pagerduty-routing-key", SecretString="placeholder")
        config = setup.parse(
            {
                "mode": "enforce",
                "allowlist": [PARTNERS],
                "nacl": {"network_acl_ids": [acl], "rule_range": [1, 99]},
                "flowlogs": {"vpc_ids": [vpc], "own_cidrs": [scenario.VPC_V6]},
            }
        )
        monkeypatch.setenv(cfg.ENV_VAR, config.to_json())
        monkeypatch.setenv(environment.TABLE, TABLE)
        monkeypatch.delenv(environment.STATE, raising=False)
        now = [float(scenario.T0)]
        monkeypatch.setattr(handler_module, "clock", lambda: now[0])
        handler_module.runtime.cache_clear()
        yield Env(ec2, dynamodb, acl, httpserver, now)
        handler_module.runtime.cache_clear()


def invoke(event: dict[str, Any]) -> Any:
    return handler_module.handler(event, LambdaContext(function_name="riposte-flowlogs"))  # type: ignore[arg-type]


def kinesis_batch(batches: list[scenario.Batch], first: int = 0) -> dict[str, Any]:
    records = []
    for n, batch in enumerate(batches, first):
        payload = scenario.subscription_payload(batch.lines, log_stream=f"{batch.interface}-all")
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": batch.interface,
                    "sequenceNumber": f"{49_000_000_000 + n:056d}",
                    "data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode(),
                    "approximateArrivalTimestamp": batch.window + 90,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{49_000_000_000 + n:056d}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/riposte-flowlogs",
                "awsRegion": "us-east-1",
                "eventSourceARN": STREAM_ARN,
            }
        )
    return {"Records": records}


def replay(env: Env, story: scenario.Scenario, delivery: str) -> None:
    """Every window's payloads as CloudWatch Logs delivers them, about 90 s after the window starts."""
    for window in story.windows:
        env.now[0] = window + 90
        batches = [b for b in story.batches if b.window == window]
        if delivery == "direct":
            for batch in batches:
                invoke(scenario.subscription_event(batch.lines, log_stream=f"{batch.interface}-all"))
        else:
            half = len(batches) // 2  # two Kinesis batches per window
            for part, first in ((batches[:half], 0), (batches[half:], half)):
                assert invoke(kinesis_batch(part, first=window + first)) == {"batchItemFailures": []}


@pytest.mark.parametrize("delivery", ["direct", "kinesis"])
def test_the_scenario_ends_with_exactly_the_three_attackers_blocked(env: Env, delivery: str) -> None:
    story = scenario.build()
    replay(env, story, delivery)
    assert env.denied() == {f"{ip}/32" for ip in ATTACKERS}
    # Each block was made for the offence in the window of onset: within one window of it.
    blocks = {i["sk"]["S"].split("#", 1)[1]: i["event_id"]["S"] for i in env.items("block#")}
    assert blocks == {f"{ip}/32": f"flowlogs:{ip}:{story.onset}" for ip in ATTACKERS}
    # The partner and the internal scanner were detected, refused by the guard and reported; nobody else was.
    audited = {i["pk"]["S"].removeprefix("event#") for i in env.items("event#")}
    assert audited == {
        f"flowlogs:{ip}:{story.onset}" for ip in {*ATTACKERS, scenario.PARTNER, scenario.INTERNAL_SCANNER}
    }
    refusals = {
        i["target"]["S"]: i["detail"]["S"]
        for i in env.items("event#")
        if i.get("kind", {}).get("S") == "action" and i["status"]["S"] == "refused"
    }
    assert set(refusals) == {scenario.PARTNER, scenario.INTERNAL_SCANNER}
    assert "allowlisted (34.120.0.0/16)" in refusals[scenario.PARTNER]
    assert "private" in refusals[scenario.INTERNAL_SCANNER]
    # Told at least once (again when a later invocation's merge raised the severity band), flagged each time.
    internal = [t for t in env.slack_texts() if scenario.INTERNAL_SCANNER in t]
    assert internal
    assert all("internal source" in t and "notify only" in t for t in internal)
    assert any("refused" in t for t in internal)  # once over the act threshold, the guard's refusal is shown
    assert all(scenario.SLOW not in t for t in env.slack_texts())  # the low-and-slow prober: never reported


def test_a_redelivered_payload_counts_once_and_blocks_nothing_more(env: Env) -> None:
    story = scenario.build()
    replay(env, story, "direct")
    flows = {i["pk"]["S"]: i["flows"]["N"] for i in env.items("flowwin#")}
    entries = env.denied()
    messages = len(env.slack.log)
    for batch in (b for b in story.batches if b.window == story.onset):  # Lambda retries the whole window
        invoke(scenario.subscription_event(batch.lines, log_stream=f"{batch.interface}-all"))
    assert {i["pk"]["S"]: i["flows"]["N"] for i in env.items("flowwin#")} == flows
    assert env.denied() == entries
    assert len(env.slack.log) == messages  # told once per offender, day and severity


def test_a_throttled_state_fails_the_direct_invocation_for_lambda_to_retry(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = scenario.build()
    onset = [b for b in story.batches if b.window == story.onset]
    replay(env, scenario.Scenario(fmt=story.fmt, windows=story.windows[:-1], onset=0, batches=story.batches), "direct")
    env.now[0] = story.onset + 90
    state = handler_module.runtime().state
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem"
    )
    original = state.merge_window
    monkeypatch.setattr(state, "merge_window", lambda *a, **k: (_ for _ in ()).throw(throttled))
    busiest = max(onset, key=lambda b: len(b.lines))
    with pytest.raises(ClientError):
        invoke(scenario.subscription_event(busiest.lines, log_stream=f"{busiest.interface}-all"))
    monkeypatch.setattr(state, "merge_window", original)
    for batch in onset:  # the retry, and the rest of the window
        invoke(scenario.subscription_event(batch.lines, log_stream=f"{batch.interface}-all"))
    assert env.denied() == {f"{ip}/32" for ip in ATTACKERS}


def test_a_kinesis_record_that_fails_is_reported_and_the_others_go_through(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = scenario.build()
    env.now[0] = story.windows[0] + 90
    batches = [b for b in story.batches if b.window == story.windows[0]][:3]
    event = kinesis_batch(batches)
    event["Records"][1]["kinesis"]["data"] = base64.b64encode(b"not gzip").decode()
    response = invoke(event)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["kinesis"]["sequenceNumber"]}]}
    assert env.items("flowpop#")  # the good records were processed


def test_a_direct_payload_that_is_not_cloudwatch_logs_data_fails_loudly(env: Env) -> None:
    with pytest.raises(InputError, match="not gzip"):
        invoke({"awslogs": {"data": base64.b64encode(b"plain").decode()}})
    with pytest.raises(InputError, match="neither"):
        invoke({"something": "else"})


def test_control_messages_are_ignored(env: Env) -> None:
    assert invoke(scenario.control_event()) == {"processed": []}
    assert env.items("flow") == []


def test_in_memory_state_needs_no_table_and_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (cfg.ENV_VAR, environment.TABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(environment.STATE, "memory")
    story = scenario.build()
    now = [0.0]
    monkeypatch.setattr(handler_module, "clock", lambda: now[0])
    handler_module.runtime.cache_clear()
    try:
        processed = []
        for batch in story.batches:
            now[0] = batch.window + 90
            processed += invoke(scenario.subscription_event(batch.lines))["processed"]
    finally:
        handler_module.runtime.cache_clear()
    assert handler_module.runtime.cache_info().currsize == 0
    found = {p["event_id"]: p for p in processed}
    assert set(found) == {f"flowlogs:{ip}:{story.onset}" for ip in {*story.offenders, *story.internal}}
    for ip in ATTACKERS:  # the default configuration: dry run, and no NACL to act on
        (action,) = found[f"flowlogs:{ip}:{story.onset}"]["actions"]
        assert (action["action"], action["status"]) == ("block_ip", "failed")
        assert "no network ACL" in action["detail"]


def test_the_environment_is_checked_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(environment.STATE, raising=False)
    monkeypatch.delenv(environment.TABLE, raising=False)
    monkeypatch.setenv(cfg.ENV_VAR, "{}")
    handler_module.runtime.cache_clear()
    with pytest.raises(cfg.ConfigError, match="RIPOSTE_TABLE must be set unless RIPOSTE_STATE=memory"):
        handler_module.runtime()
    monkeypatch.setenv(environment.STATE, "disk")
    with pytest.raises(cfg.ConfigError, match="RIPOSTE_STATE"):
        handler_module.runtime()
    handler_module.runtime.cache_clear()


def test_an_ipv6_scanner_rotating_its_address_is_blocked_as_its_slash_64(env: Env) -> None:
    entries = env.ec2.describe_network_acls(NetworkAclIds=[env.acl])["NetworkAcls"][0]["Entries"]
    assert not any(e.get("Ipv6CidrBlock") for e in entries if e["RuleAction"] == "deny")
    web = next(iter(scenario.WEB_V6))
    lines = []
    for n in range(200):  # one new address per probe, all in 2a0d:5600:24:7::/64
        record = {"srcaddr": f"2a0d:5600:24:7:{n + 1:x}:0:0:1", "dstaddr": web, "srcport": 40000, "dstport": n + 1}
        record.update({"protocol": 6, "packets": 1, "bytes": 80, "action": "REJECT"})
        record.update({"start": scenario.T0 + 5, "end": scenario.T0 + 6, "interface-id": scenario.WEB_V6[web]})
        lines.append(scenario.render(record))
    env.now[0] = scenario.T0 + 90
    invoke(scenario.subscription_event(lines, log_stream="eni-v6-all"))
    entries = env.ec2.describe_network_acls(NetworkAclIds=[env.acl])["NetworkAcls"][0]["Entries"]
    denied = [e.get("Ipv6CidrBlock") for e in entries if e["RuleAction"] == "deny" and not e["Egress"]]
    assert "2a0d:5600:24:7::/64" in denied
    blocks = {i["sk"]["S"].split("#", 1)[1] for i in env.items("block#")}
    assert blocks == {"2a0d:5600:24:7::/64"}
