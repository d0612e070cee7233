"""PagerDuty Events v2: the exact request, a stable dedup key per subject, and outcomes that never raise."""

from __future__ import annotations

import json

import pytest
import urllib3
from pytest_httpserver import HTTPServer

from riposte.adapters.http import HttpTransport
from riposte.core import config as cfg
from riposte.core.model import Result, Status
from riposte.engine import pipeline
from riposte.notifiers import NOTIFIERS, Route
from riposte.notifiers.pagerduty import DEDUP_KEY_MAX, EVENTS_URL, PagerDutyNotifier, dedup_key, destination, render
from tests.conftest import load_event, with_detail

KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def result_for(name: str = "c2_activity_outbound.json") -> Result:
    plan = pipeline.plan(load_event(name), cfg.Config())
    return Result(plan=plan, actions=plan.actions)


def notifier(secret: str | None) -> PagerDutyNotifier:
    return PagerDutyNotifier(HttpTransport(urllib3.PoolManager()), lambda: secret)


def test_trigger_carries_the_events_v2_fields() -> None:
    body = render(result_for(), KEY)
    assert body["routing_key"] == KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "guardduty:123456789012:us-east-1:a1c2e3f4a5b6c7d8e9f0a1b2c3d4e501"
    payload = body["payload"]
    assert payload["summary"].startswith("CRITICAL 90/100: C&C activity")
    assert payload["severity"] == "critical"
    assert payload["source"] == "riposte/guardduty/123456789012"
    assert payload["custom_details"]["score"] == 90
    assert payload["custom_details"]["actions"][0]["target"] == "91.240.118.77"


def test_the_dedup_key_is_the_subject_so_updates_and_redeliveries_join_one_incident() -> None:
    raw = load_event("bitcoin_outbound.json")
    first = render(Result(plan=pipeline.plan(raw, cfg.Config()), actions=()), KEY)
    update = with_detail(raw, updatedAt="2026-11-28T05:00:00.000Z", severity=9.5)
    second = render(Result(plan=pipeline.plan(update, cfg.Config()), actions=()), KEY)
    assert first["dedup_key"] == second["dedup_key"]
    assert (first["payload"]["severity"], second["payload"]["severity"]) == ("error", "critical")


def test_long_subjects_get_a_bounded_stable_key() -> None:
    long = "x" * 400
    assert len(dedup_key(long)) <= DEDUP_KEY_MAX
    assert dedup_key(long) == dedup_key(long) != dedup_key(long + "y")
    assert dedup_key("short") == "short"


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (KEY, (KEY, EVENTS_URL)),
        (f"  {KEY}\n", (KEY, EVENTS_URL)),
        (
            json.dumps({"routing_key": KEY, "url": "http://127.0.0.1:9/v2/enqueue"}),
            (KEY, "http://127.0.0.1:9/v2/enqueue"),
        ),
        ("fill-me-in", None),
        ("", None),
        (None, None),
        (KEY[:-1], None),
        (json.dumps({"routing_key": KEY, "url": "ftp://x"}), None),
        ("{not json", None),
        ("[1]", None),
    ],
)
def test_the_secret_holds_a_routing_key_or_a_key_and_url(secret: str | None, expected: object) -> None:
    assert destination(secret) == expected


def test_send_posts_to_the_events_endpoint(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/v2/enqueue", method="POST").respond_with_json(
        {"status": "success", "message": "Event processed", "dedup_key": "k"}, status=202
    )
    secret = json.dumps({"routing_key": KEY, "url": httpserver.url_for("/v2/enqueue")})
    outcome = notifier(secret).send(result_for())
    assert (outcome.name, outcome.status) == ("pagerduty", Status.DONE)
    ((request, _),) = httpserver.log
    assert json.loads(request.data) == render(result_for(), KEY)


def test_an_unfilled_secret_is_skipped_and_a_failing_endpoint_is_retryable(httpserver: HTTPServer) -> None:
    skipped = notifier("fill-me-in").send(result_for())
    assert (skipped.status, skipped.retryable) == (Status.SKIPPED, False)
    httpserver.expect_request("/v2/enqueue").respond_with_data("boom", status=500)
    secret = json.dumps({"routing_key": KEY, "url": httpserver.url_for("/v2/enqueue")})
    failed = notifier(secret).send(result_for())
    assert (failed.status, failed.retryable) == (Status.FAILED, True)


def test_pagerduty_is_registered_on_the_page_route() -> None:
    assert NOTIFIERS.get("pagerduty") is PagerDutyNotifier
    assert PagerDutyNotifier.route is Route.PAGE
    assert PagerDutyNotifier.secret.field == "pagerduty_routing_key"
