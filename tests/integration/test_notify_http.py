"""PagerDuty and Slack over real HTTP (local servers on 127.0.0.1), driven through the runner with the real
notifiers and transport: the exact Events v2 requests, one page per incident whatever the retries, an
escalation folded into the same incident, resolves, a refused event said in Slack, and a storm's digest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from pytest_httpserver import HTTPServer

from riposte.actions import Ports
from riposte.adapters.http import HttpTransport
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import config as cfg
from riposte.core.model import EventKind, Plan, Result, Score, SecurityEvent, Status
from riposte.engine import notify, pipeline, runner, setup
from riposte.notifiers import Notifier
from riposte.notifiers.pagerduty import PagerDutyNotifier
from riposte.notifiers.slack import SlackNotifier
from riposte.sources.webhooks import map_body
from tests.conftest import load_event, with_detail
from tests.webhooks_samples import body

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
ACL = "acl-0123456789abcdef0"
NOW = datetime(2026, 11, 28, 4, 0, 5, tzinfo=UTC)


@dataclass
class World:
    server: HTTPServer
    state: MemoryState
    nacls: MemoryNacls
    notifiers: dict[str, Notifier]
    config: cfg.Config

    def requests(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(request.data) for request, _ in self.server.log if request.path == path]

    def pages(self) -> list[dict[str, Any]]:
        return self.requests("/v2/enqueue")

    def slack(self) -> list[dict[str, Any]]:
        return self.requests("/slack")

    def run(self, plan: Plan, when: datetime = NOW) -> Result:
        return runner.execute(plan, self.config, Ports(nacl=self.nacls, state=self.state), self.notifiers, when)

    def alerts(self, sample: str) -> list[Plan]:
        return [pipeline.plan_event(e, self.config) for e in map_body("alertmanager", body(sample), self.config)]


@pytest.fixture
def world(httpserver: HTTPServer) -> World:
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success", "message": "Event processed"}, status=202
    )
    httpserver.expect_request("/slack", method="POST").respond_with_data("ok")
    transport = HttpTransport(urllib3.PoolManager())
    secret = json.dumps({"routing_key": KEY, "url": httpserver.url_for("/v2/enqueue")})
    notifiers: dict[str, Notifier] = {
        "slack": SlackNotifier(transport, lambda: httpserver.url_for("/slack")),
        "pagerduty": PagerDutyNotifier(transport, lambda: secret),
    }
    config = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL]}})
    return World(httpserver, MemoryState(), MemoryNacls({ACL: []}), notifiers, config)


def test_an_alert_pages_once_and_its_resolution_resolves_the_same_incidents(world: World) -> None:
    firing = world.alerts("alertmanager_firing.json")
    subjects = [p.event.subject for p in firing]
    for plan in firing:
        world.run(plan)
    pages = world.pages()
    assert [(p["event_action"], p["dedup_key"], p["payload"]["severity"]) for p in pages] == [
        ("trigger", subjects[0], "critical"),
        ("trigger", subjects[1], "critical"),
    ]
    assert pages[0]["routing_key"] == KEY
    assert pages[0]["client"] == "Riposte"
    assert pages[0]["payload"]["summary"].startswith("CRITICAL 95/100: ")
    assert pages[0]["payload"]["source"] == "riposte/webhooks:alertmanager"
    assert pages[0]["payload"]["custom_details"]["actions"][0]["status"] == "done"
    assert [m["blocks"][0]["text"]["text"].split(":")[0] for m in world.slack()] == ["CRITICAL 95/100"] * 2
    assert "*Paging*\n• `pagerduty`: *done* (HTTP 202)" in json.dumps(world.slack()[0], ensure_ascii=False).replace(
        "\\n", "\n"
    )
    # Alertmanager re-sends a firing group every repeat_interval; SQS redelivers: no second page, no second post.
    for plan in world.alerts("alertmanager_firing.json"):
        world.run(plan, NOW + timedelta(minutes=30))
    assert len(world.pages()) == 2
    assert len(world.slack()) == 2
    # Resolved: the same dedup keys, event_action resolve and nothing else; Slack was told, so it hears of it.
    for plan in world.alerts("alertmanager_resolved.json"):
        result = world.run(plan, NOW + timedelta(hours=1))
        assert [(o.name, o.status) for o in result.notifications] == [
            ("slack", Status.DONE),
            ("pagerduty", Status.DONE),
        ]
        assert result.actions == ()
    assert world.pages()[2:] == [
        {"routing_key": KEY, "event_action": "resolve", "dedup_key": subjects[0]},
        {"routing_key": KEY, "event_action": "resolve", "dedup_key": subjects[1]},
    ]
    assert [m["blocks"][0]["text"]["text"].split(":")[0] for m in world.slack()[2:]] == ["RESOLVED"] * 2
    assert world.state.incidents == {}  # nothing left for the maintenance run to resolve
    # The resolution redelivered: nothing new.
    for plan in world.alerts("alertmanager_resolved.json"):
        world.run(plan, NOW + timedelta(hours=1, minutes=1))
    assert len(world.pages()) == 4
    assert len(world.slack()) == 4


def test_a_resolution_of_an_alert_nobody_was_told_of_only_resolves_on_the_pager(world: World) -> None:
    for plan in world.alerts("alertmanager_resolved.json"):
        world.run(plan)
    assert [p["event_action"] for p in world.pages()] == ["resolve", "resolve"]
    assert world.slack() == []


def test_an_escalation_triggers_again_with_the_same_dedup_key_and_a_routine_update_does_not(world: World) -> None:
    raw = load_event("bitcoin_outbound.json")
    config = setup.parse({"thresholds": {"page": 70}})
    world.config = config
    world.run(pipeline.plan(raw, config))
    world.run(pipeline.plan(with_detail(raw, updatedAt="2026-11-28T04:15:00.000Z"), config))  # same severity
    world.run(pipeline.plan(with_detail(raw, updatedAt="2026-11-28T04:30:00.000Z", severity=9.5), config))
    pages = world.pages()
    assert [(p["event_action"], p["payload"]["severity"]) for p in pages] == [
        ("trigger", "error"),
        ("trigger", "critical"),
    ]
    assert pages[0]["dedup_key"] == pages[1]["dedup_key"] == pipeline.plan(raw, config).event.subject
    assert len(world.slack()) == 2


def test_a_failed_chat_post_is_retried_without_paging_twice(world: World, httpserver: HTTPServer) -> None:
    # One-shot handlers answer before the fixture's permanent ones: Slack fails once, then works.
    httpserver.expect_oneshot_request("/slack").respond_with_data("no_service", status=404)
    (plan, _) = world.alerts("alertmanager_firing.json")
    first = world.run(plan)
    assert first.retryable
    assert [(o.name, o.status) for o in first.notifications] == [("slack", Status.FAILED), ("pagerduty", Status.DONE)]
    second = world.run(plan)  # the queue's retry of the same message
    assert [(o.name, o.status) for o in second.notifications] == [("slack", Status.DONE), ("pagerduty", Status.SKIPPED)]
    assert [p["event_action"] for p in world.pages()] == ["trigger"]


def test_a_refused_event_is_not_retried_and_slack_says_so(world: World, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/v2/enqueue").respond_with_json(
        {"status": "invalid event", "message": "Event object is invalid", "errors": ["'payload' is invalid"]},
        status=400,
    )
    (plan, _) = world.alerts("alertmanager_firing.json")
    result = world.run(plan)
    assert not result.retryable  # a bad event never gets better: not sent back to the queue
    (pager,) = [o for o in result.notifications if o.name == "pagerduty"]
    assert (pager.status, pager.retryable) == (Status.FAILED, False)
    assert ("notification", "pagerduty", "failed") in [(a.kind, a.name, a.status) for a in world.state.audit]
    (message,) = world.slack()
    (paging,) = [
        b["text"]["text"] for b in message["blocks"] if b.get("text", {}).get("text", "").startswith("*Paging*")
    ]
    refused = "HTTP 400, PagerDuty refused the event: 'payload' is invalid; not retried"
    assert paging == f"*Paging*\n• `pagerduty`: *FAILED* ({refused})"
    assert len(world.pages()) == 1


def storm_plan(n: int, score: int = 60) -> Plan:
    event = SecurityEvent(
        source="test",
        id=f"storm-{n}",
        type="Recon:Probe",
        title=f"probe number {n}",
        kind=EventKind.PORT_PROBE,
        entities=pipeline.plan(load_event("bitcoin_outbound.json"), cfg.Config()).event.entities,
    )
    return Plan(event=event, score=Score(score, ("test",)), notify=("slack",))


def test_a_storm_becomes_ten_messages_and_one_digest(world: World) -> None:
    for n in range(14):
        result = world.run(storm_plan(n, score=50 + n), NOW + timedelta(seconds=n))
        assert result.notifications[0].status is Status.DONE
    world.run(storm_plan(99, score=95), NOW + timedelta(seconds=20))  # critical: straight through
    assert len(world.slack()) == 11
    assert notify.flush_digests(world.notifiers, world.state, world.config, NOW + timedelta(seconds=54)) == []
    (sent,) = notify.flush_digests(world.notifiers, world.state, world.config, NOW + timedelta(seconds=55))
    assert (sent.name, sent.target, sent.status) == ("slack", "digest", Status.DONE)
    digest = world.slack()[-1]
    assert len(world.slack()) == 12
    assert digest["blocks"][0]["text"]["text"] == "Digest: 4 more decisions in 1 minute"
    top = digest["blocks"][2]["text"]["text"].split("\n")
    assert top[0] == "*Top 4 by score*"
    assert [line.split("*")[1] for line in top[1:]] == [
        "MEDIUM 63/100",
        "MEDIUM 62/100",
        "MEDIUM 61/100",
        "MEDIUM 60/100",
    ]
    assert notify.flush_digests(world.notifiers, world.state, world.config, NOW + timedelta(minutes=5)) == []
    assert len(world.slack()) == 12
    assert world.pages() == []


def test_an_unfilled_pager_secret_skips_with_its_reason(world: World) -> None:
    world.notifiers["pagerduty"] = PagerDutyNotifier(HttpTransport(urllib3.PoolManager()), lambda: "fill-me-in")
    (plan, _) = world.alerts("alertmanager_firing.json")
    result = world.run(plan)
    assert not result.retryable
    (pager,) = [o for o in result.notifications if o.name == "pagerduty"]
    assert (pager.status, pager.detail) == (
        Status.SKIPPED,
        "not configured: the secret does not hold a 32-character routing key",
    )
    assert world.state.incidents == {}  # nothing was paged, so nothing is left to resolve
