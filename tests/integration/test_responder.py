"""The real responder handler against moto (EC2, DynamoDB, Secrets Manager) and a local Slack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer

from demo.local import LambdaContext, create_state_table, sqs_record
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers import environment, responder
from tests.conftest import load_event

TABLE = "riposte-test-state"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:riposte-events"


@dataclass
class Env:
    ec2: Any
    dynamodb: Any
    acl: str
    vpc: str
    unmanaged: list[dict[str, Any]]
    slack: HTTPServer

    def configure(self, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> cfg.Config:
        data: dict[str, Any] = {
            "mode": "enforce",
            "nacl": {"network_acl_ids": [self.acl], "rule_range": [1, 99]},
        }
        data.update(overrides)
        config = setup.parse(data)
        monkeypatch.setenv(cfg.ENV_VAR, config.to_json())
        monkeypatch.setenv(environment.TABLE, TABLE)
        responder.runtime.cache_clear()
        return config

    def entries(self) -> list[dict[str, Any]]:
        return list(self.ec2.describe_network_acls(NetworkAclIds=[self.acl])["NetworkAcls"][0]["Entries"])

    def denied(self) -> dict[str, int]:
        return {
            e["CidrBlock"]: e["RuleNumber"] for e in self.entries() if e["RuleAction"] == "deny" and not e["Egress"]
        }

    def audit(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [i for i in items if i["sk"]["S"].startswith("audit#")]


@pytest.fixture
def env(httpserver: HTTPServer) -> Iterator[Env]:
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        unmanaged = [
            {
                "RuleNumber": 1,
                "Egress": False,
                "RuleAction": "deny",
                "CidrBlock": "192.0.2.200/32",
                "Protocol": "-1",
            },
            {
                "RuleNumber": 100,
                "Egress": False,
                "RuleAction": "allow",
                "CidrBlock": "0.0.0.0/0",
                "Protocol": "6",
                "PortRange": {"From": 443, "To": 443},
            },
            {
                "RuleNumber": 100,
                "Egress": True,
                "RuleAction": "allow",
                "CidrBlock": "0.0.0.0/0",
                "Protocol": "-1",
            },
        ]
        for entry in unmanaged:
            ec2.create_network_acl_entry(NetworkAclId=acl, **entry)
        dynamodb = boto3.client("dynamodb")
        create_state_table(dynamodb, TABLE)
        secrets = boto3.client("secretsmanager")
        httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
        secrets.create_secret(Name="riposte/slack-webhook-url", SecretString=httpserver.url_for("/slack"))
        secrets.create_secret(Name="riposte/pagerduty-routing-key", SecretString="placeholder")
        yield Env(ec2, dynamodb, acl, vpc, unmanaged, httpserver)
        responder.runtime.cache_clear()


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            sqs_record(f"m-{n}", body if isinstance(body, str) else json.dumps(body), queue_arn=QUEUE_ARN)
            for n, body in enumerate(bodies)
        ]
    }


def handle(event: dict[str, Any]) -> dict[str, Any]:
    return dict(responder.handler(event, LambdaContext()))  # type: ignore[arg-type]


def unmanaged_untouched(env: Env) -> bool:
    entries = env.entries()
    return all(any(all(e.get(k) == v for k, v in rule.items()) for e in entries) for rule in env.unmanaged)


def test_block_lands_inside_the_managed_range_around_unmanaged_rules(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.configure(monkeypatch)
    assert handle(sqs_event(load_event("c2_activity_outbound.json"))) == {"batchItemFailures": []}
    denied = env.denied()
    assert denied["91.240.118.77/32"] == 2  # rule 1 is the user's own deny: stepped around
    assert denied["192.0.2.200/32"] == 1
    assert unmanaged_untouched(env)
    assert len(env.slack.log) == 1
    audit = {(i["kind"]["S"], i["name"]["S"], i["status"]["S"]) for i in env.audit()}
    assert {
        ("decision", "policy", "done"),
        ("action", "block_ip", "done"),
        ("notification", "slack", "done"),
    } <= audit
    blocks = [i for i in env.dynamodb.scan(TableName=TABLE)["Items"] if i["pk"]["S"].startswith("block#")]
    assert [(b["pk"]["S"], b["sk"]["S"], b["rule_number"]["N"]) for b in blocks] == [
        (f"block#{env.acl}", "ingress#91.240.118.77/32", "2")
    ]


def test_redelivery_adds_no_second_entry_and_no_second_message(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.configure(monkeypatch)
    message = sqs_event(load_event("c2_activity_outbound.json"))
    handle(message)
    count = len(env.entries())
    assert handle(message) == {"batchItemFailures": []}
    assert len(env.entries()) == count
    assert len(env.slack.log) == 1


def test_dry_run_mutates_nothing_and_records_what_it_would_do(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    before = env.entries()
    env.configure(monkeypatch, mode="dry_run")
    assert handle(sqs_event(load_event("c2_activity_outbound.json"))) == {"batchItemFailures": []}
    assert env.entries() == before
    actions = [i for i in env.audit() if i["kind"]["S"] == "action"]
    assert [(a["status"]["S"], a["detail"]["S"]) for a in actions] == [
        ("dry_run", f"{env.acl}: would deny 91.240.118.77/32 as rule 2 (dry run)")
    ]
    assert len(env.slack.log) == 1  # people still hear about it


def test_allowlisted_address_is_refused_and_recorded(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.configure(monkeypatch, allowlist=["34.120.0.0/16"])
    before = env.entries()
    handle(sqs_event(load_event("tor_client_partner.json")))
    assert env.entries() == before
    (action,) = [i for i in env.audit() if i["kind"]["S"] == "action"]
    assert action["status"]["S"] == "refused"
    assert "allowlisted (34.120.0.0/16)" in action["detail"]["S"]


def test_a_full_managed_range_is_refused_clearly_and_overwrites_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.configure(monkeypatch, nacl={"network_acl_ids": [env.acl], "rule_range": [1, 1]})
    before = env.entries()
    response = handle(sqs_event(load_event("c2_activity_outbound.json")))
    assert response == {"batchItemFailures": []}  # a full range will not empty itself on retry
    assert env.entries() == before
    (action,) = [i for i in env.audit() if i["kind"]["S"] == "action"]
    assert action["status"]["S"] == "refused"
    assert action["detail"]["S"].startswith(f"{env.acl}: managed range 1-1 is full; ")
    assert "no block of Riposte's to evict" in action["detail"]["S"]  # rule 1 is the user's own
    assert "refused" in env.slack.log[0][0].get_data(as_text=True)


def test_the_rule_quota_is_enforced_although_moto_does_not(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.configure(monkeypatch, nacl={"network_acl_ids": [env.acl], "rule_quota": 2})
    handle(sqs_event(load_event("c2_activity_outbound.json")))
    assert "91.240.118.77/32" not in env.denied()
    (action,) = [i for i in env.audit() if i["kind"]["S"] == "action"]
    assert "rule quota reached: 2 of 2 ingress rules" in action["detail"]["S"]


def test_vpc_scoped_configuration_blocks_in_every_acl_of_the_vpc(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.configure(monkeypatch, nacl={"vpc_ids": [env.vpc]})
    handle(sqs_event(load_event("bitcoin_outbound.json")))
    acls = env.ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [env.vpc]}])["NetworkAcls"]
    assert len(acls) == 2  # the VPC's default ACL and ours
    for acl in acls:
        assert any(e.get("CidrBlock") == "45.13.105.9/32" and e["RuleAction"] == "deny" for e in acl["Entries"])


def test_bad_messages_fail_alone_and_are_counted_not_dropped(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.configure(monkeypatch)
    response = handle(sqs_event("not json", {"hello": "world"}, load_event("bitcoin_outbound.json")))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    assert "45.13.105.9/32" in env.denied()


def test_slack_outage_fails_the_record_for_retry_and_the_retry_does_not_block_twice(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.configure(monkeypatch)
    env.slack.clear()
    env.slack.expect_oneshot_request("/slack").respond_with_data("down", status=404)
    message = sqs_event(load_event("c2_activity_outbound.json"))
    assert handle(message) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    env.slack.expect_request("/slack").respond_with_data("ok")
    count = len(env.entries())
    assert handle(message) == {"batchItemFailures": []}
    assert len(env.entries()) == count


def test_a_bad_configuration_fails_the_invocation_naming_the_field(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cfg.ENV_VAR, json.dumps({"thresholds": {"act": 500}}))
    monkeypatch.setenv(environment.TABLE, TABLE)
    responder.runtime.cache_clear()
    with pytest.raises(cfg.ConfigError, match=r"thresholds\.act"):
        handle(sqs_event(load_event("c2_activity_outbound.json")))
