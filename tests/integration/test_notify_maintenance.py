"""The maintenance schedule resolves PagerDuty incidents once none of their blocks remains (expired, or undone by
`riposte unblock`), exactly once, and sends closed storm digests: the real handler against moto (EC2, DynamoDB,
Secrets Manager) with PagerDuty and Slack on a local HTTP server, within the table calls its role is granted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer

from demo.local import LambdaContext, create_state_table
from riposte.core import config as cfg
from riposte.core.model import Plan, Status
from riposte.core.ports import Digest, DigestItem
from riposte.engine import maintenance, pipeline, runner, setup
from riposte.handlers import environment
from riposte.handlers import maintenance as handler_module
from riposte.runtime import Runtime, build
from riposte.sources.webhooks import map_body
from tests.webhooks_samples import body

TABLE = "riposte-notify-state"
KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = NOW - timedelta(hours=25)  # blocks made then (24h) have expired
# The maintenance role's grant on the table (stacks/constructs/maintenance.py: MAINTENANCE_TABLE_CALLS).
MAINTENANCE_TABLE_CALLS = {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}


@dataclass
class World:
    server: HTTPServer
    config: cfg.Config
    acl: str
    rt: Runtime
    monkeypatch: pytest.MonkeyPatch

    def requests(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(request.data) for request, _ in self.server.log if request.path == path]

    def alerts(self) -> list[Plan]:
        found = map_body("alertmanager", body("alertmanager_firing.json"), self.config)
        return [pipeline.plan_event(e, self.config) for e in found]

    def respond(self, plan: Plan, when: datetime) -> None:
        result = runner.execute(plan, self.config, self.rt.ports, self.rt.notifiers, when)
        assert [a.status for a in result.actions] == [Status.DONE], result.actions
        assert [(n.name, n.status) for n in result.notifications] == [
            ("slack", Status.DONE),
            ("pagerduty", Status.DONE),
        ]

    def maintain(self) -> dict[str, Any]:
        self.monkeypatch.setenv(cfg.ENV_VAR, self.config.to_json())
        self.monkeypatch.setenv(environment.TABLE, TABLE)
        handler_module.runtime.cache_clear()
        summary: dict[str, Any] = handler_module.handler({"source": "aws.events"}, LambdaContext())  # type: ignore[arg-type]
        return summary


@pytest.fixture
def world(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json({"status": "success"}, status=202)
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    monkeypatch.delenv(environment.TABLE, raising=False)
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        create_state_table(boto3.client("dynamodb"), TABLE)
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name="riposte/slack-webhook-url", SecretString=httpserver.url_for("/slack"))
        secrets.create_secret(
            Name="riposte/pagerduty-routing-key",
            SecretString=json.dumps({"routing_key": KEY, "url": httpserver.url_for("/v2/enqueue")}),
        )
        config = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [acl]}})
        yield World(httpserver, config, acl, build(config, table_name=TABLE), monkeypatch)
        handler_module.runtime.cache_clear()


def test_an_incident_is_resolved_once_its_block_expired_and_not_while_one_remains(world: World) -> None:
    old, recent = world.alerts()
    world.respond(old, LONG_AGO)
    world.respond(recent, NOW)
    assert [p["event_action"] for p in world.requests("/v2/enqueue")] == ["trigger", "trigger"]
    summary = world.maintain()
    assert [r["cidr"] for r in summary["removed"]] == ["91.240.118.50/32"]
    assert world.requests("/v2/enqueue")[2:] == [
        {"routing_key": KEY, "event_action": "resolve", "dedup_key": old.event.subject}
    ]
    assert [(n["notifier"], n["status"], n["target"]) for n in summary["notifications"]] == [
        ("pagerduty", "done", world.server.url_for("/").split("/")[2])
    ]
    assert summary["notifications"][0]["detail"] == "resolve (its blocks expired or were undone): HTTP 202"
    again = world.maintain()
    assert again["notifications"] == []
    assert len(world.requests("/v2/enqueue")) == 3  # exactly once


def test_an_incident_undone_by_unblock_is_resolved_by_the_next_run(world: World) -> None:
    _, recent = world.alerts()
    world.respond(recent, NOW)
    targets = maintenance.Targets(nacl=world.rt.ports.nacl, state=world.rt.ports.state)
    report = maintenance.run(targets, maintenance.unblock_planner("185.156.73.54"), now=NOW, dry_run=False)
    assert [a.status for a in report.applied] == ["removed"]
    summary = world.maintain()
    assert summary["removed"] == []  # the unblock did it; the schedule only sees that no block remains
    assert world.requests("/v2/enqueue")[1:] == [
        {"routing_key": KEY, "event_action": "resolve", "dedup_key": recent.event.subject}
    ]
    # The attacker is back after the incident closed: a new page (PagerDuty opens a new alert for the key).
    world.respond(recent, NOW + timedelta(minutes=10))
    assert [p["event_action"] for p in world.requests("/v2/enqueue")] == ["trigger", "resolve", "trigger"]


def test_a_closed_digest_is_sent_by_the_schedule_once(world: World) -> None:
    item = DigestItem(60, "medium", "probe", "no action", "e1")
    start = int(NOW.timestamp()) - 600
    digest = Digest("slack", start, 60, "tok", version=1, counts={"medium": 12}, top=(item,), members=("m",))
    assert world.rt.ports.state.save_digest(digest, 0)
    summary = world.maintain()
    assert [(n["notifier"], n["target"], n["status"]) for n in summary["notifications"]] == [
        ("slack", "digest", "done")
    ]
    (message,) = world.requests("/slack")
    assert message["blocks"][0]["text"]["text"] == "Digest: 12 more decisions in 1 minute"
    assert world.maintain()["notifications"] == []
    assert len(world.requests("/slack")) == 1


def test_the_maintenance_run_stays_within_its_table_grant(world: World) -> None:
    old, _ = world.alerts()
    world.respond(old, LONG_AGO)
    state = world.rt.ports.state
    assert state.save_digest(Digest("slack", 0, 60, "tok", version=1, counts={"low": 1}), 0)
    calls: set[str] = set()
    boto3.DEFAULT_SESSION = None
    original = boto3.session.Session.resource

    def spying(self: boto3.session.Session, *args: Any, **kwargs: Any) -> Any:
        resource = original(self, *args, **kwargs)
        resource.meta.client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.add(f"dynamodb:{model.name}")
        )
        return resource

    world.monkeypatch.setattr(boto3.session.Session, "resource", spying)
    summary = world.maintain()
    assert {n["status"] for n in summary["notifications"]} == {"done"}
    assert len(summary["notifications"]) == 2  # the resolve and the digest
    assert calls
    assert calls <= MAINTENANCE_TABLE_CALLS, calls - MAINTENANCE_TABLE_CALLS


def test_notification_trouble_never_fails_the_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    old, _ = world.alerts()
    world.respond(old, LONG_AGO)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr("riposte.engine.notify.resolve_unblocked", broken)
    summary = world.maintain()
    assert summary["notifications"] == []
    assert [r["cidr"] for r in summary["removed"]] == ["91.240.118.50/32"]


def test_no_time_left_leaves_the_notifications_to_the_next_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    old, _ = world.alerts()
    world.respond(old, LONG_AGO)
    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: 19_999)
    assert world.maintain()["notifications"] == []
    assert len(world.requests("/v2/enqueue")) == 1
    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: 20_000)
    assert [n["status"] for n in world.maintain()["notifications"]] == ["done"]
