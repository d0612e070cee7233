"""PagerDuty Events v2: the exact request, a stable dedup key per subject, and outcomes that never raise."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import urllib3
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from riposte.adapters.http import HttpTransport
from riposte.core import config as cfg
from riposte.core.model import SIGNAL_RESOLVED, Result, Score, Status
from riposte.engine import pipeline
from riposte.notifiers import NOT_CONFIGURED, NOTIFIERS, NotConfiguredError, Route
from riposte.notifiers.links import console_links
from riposte.notifiers.pagerduty import (
    DEDUP_KEY_MAX,
    EVENTS_URL,
    PAYLOAD_MAX,
    SEVERITIES,
    PagerDutyNotifier,
    dedup_key,
    destination,
    parse_destination,
    render,
    render_resolve,
)
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


# --- lifecycle: links, severities, resolve, refusals, throttling ----------------------------------------------


def local(httpserver: HTTPServer) -> str:
    return json.dumps({"routing_key": KEY, "url": httpserver.url_for("/v2/enqueue")})


def test_the_trigger_links_into_the_console_like_slack_does() -> None:
    result = result_for()
    body = render(result, KEY)
    assert body["links"] == [{"href": url, "text": label} for label, url in console_links(result)]
    assert body["links"][0]["text"] == "GuardDuty finding"
    assert body["links"][0]["href"].startswith("https://us-east-1.console.aws.amazon.com/guardduty/home")


def test_no_links_key_when_nothing_can_be_linked() -> None:
    result = result_for()
    event = dataclasses.replace(result.plan.event, region=None)
    body = render(dataclasses.replace(result, plan=dataclasses.replace(result.plan, event=event)), KEY)
    assert "links" not in body


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (100, "critical"),
        (90, "critical"),
        (89, "error"),
        (70, "error"),
        (69, "warning"),
        (40, "warning"),
        (39, "info"),
        (0, "info"),
    ],
)
def test_the_severity_follows_the_score_band(score: int, severity: str) -> None:
    result = result_for()
    scored = dataclasses.replace(result, plan=dataclasses.replace(result.plan, score=Score(score, ())))
    assert render(scored, KEY)["payload"]["severity"] == severity
    assert set(SEVERITIES.values()) == {"critical", "error", "warning", "info"}


def resolved_result() -> Result:
    result = result_for()
    event = dataclasses.replace(result.plan.event, signals=frozenset({SIGNAL_RESOLVED}))
    return dataclasses.replace(result, plan=dataclasses.replace(result.plan, event=event, score=Score(0, ())))


def test_a_resolution_is_a_resolve_with_the_same_dedup_key_and_nothing_else() -> None:
    assert render(resolved_result(), KEY) == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": "guardduty:123456789012:us-east-1:a1c2e3f4a5b6c7d8e9f0a1b2c3d4e501",
    }
    assert render_resolve("x" * 400, KEY)["dedup_key"] == dedup_key("x" * 400)


def test_a_resolution_is_posted_as_pagerduty_expects(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/v2/enqueue", method="POST").respond_with_json({"status": "success"}, status=202)
    outcome = notifier(local(httpserver)).send(resolved_result())
    assert outcome.status is Status.DONE
    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.data) == render_resolve(result_for().plan.event.notification_key, KEY)


def test_resolve_closes_an_incident_by_its_key(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/v2/enqueue", method="POST").respond_with_json({"status": "success"}, status=202)
    outcome = notifier(local(httpserver)).resolve("webhooks:generic:abc:45.13.104.66", "its blocks expired")
    assert (outcome.status, outcome.detail) == (Status.DONE, "resolve (its blocks expired): HTTP 202")
    ((request, _),) = httpserver.log
    assert json.loads(request.data) == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": "webhooks:generic:abc:45.13.104.66",
    }


def test_resolve_without_a_routing_key_is_skipped_with_the_reason() -> None:
    outcome = notifier("fill-me-in").resolve("k", "why")
    assert (outcome.status, outcome.detail) == (
        Status.SKIPPED,
        NOT_CONFIGURED + "the secret does not hold a 32-character routing key",
    )


def test_a_refused_event_fails_for_good_with_pagerdutys_words(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_json(
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        },
        status=400,
    )
    outcome = notifier(local(httpserver)).send(result_for())
    assert (outcome.status, outcome.retryable) == (Status.FAILED, False)
    assert outcome.detail == (
        "HTTP 400, PagerDuty refused the event: Length of 'routing_key' is incorrect (should be 32 characters); "
        "not retried"
    )
    assert len(httpserver.log) == 1  # a 400 is not retried by the transport either


def test_a_refusal_without_json_says_what_came_back(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_data("payload too large", status=413)
    outcome = notifier(local(httpserver)).send(result_for())
    assert (outcome.status, outcome.retryable) == (Status.FAILED, False)
    assert outcome.detail == "HTTP 413, PagerDuty refused the event: payload too large; not retried"


def test_other_client_errors_stay_retryable(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_data("forbidden", status=403)
    outcome = notifier(local(httpserver)).send(result_for())
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)


def test_throttling_is_retried_after_what_retry_after_says(httpserver: HTTPServer) -> None:
    arrivals: list[float] = []

    def answer(request: Request) -> Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "2"})
        return Response(json.dumps({"status": "success"}), status=202, content_type="application/json")

    httpserver.expect_request("/v2/enqueue").respond_with_handler(answer)
    outcome = notifier(local(httpserver)).send(result_for())
    assert outcome.status is Status.DONE
    assert len(arrivals) == 2
    # Backoff alone waits at most 1 s before the first retry (0.5 s, jitter up to 0.5 s): this is Retry-After.
    assert arrivals[1] - arrivals[0] >= 1.9
    ((first, _), (second, _)) = httpserver.log
    assert first.data == second.data  # the very same event: PagerDuty deduplicates on its key


def test_the_secrets_reason_is_said_when_it_holds_no_routing_key() -> None:
    assert parse_destination("") == "the secret is empty"
    assert parse_destination("   ") == "the secret is empty"
    assert parse_destination("{oops") == "the secret starts like JSON but is not valid JSON"
    assert parse_destination("[1]") == "the secret does not hold a 32-character routing key"
    assert parse_destination('{"routing_key": 1}') == "the secret does not hold a 32-character routing key"
    wrong_url = json.dumps({"routing_key": KEY, "url": "ftp://x"})
    assert parse_destination(wrong_url) == "the secret's url is not an http(s) URL"
    assert parse_destination(json.dumps(KEY)) == "the secret does not hold a 32-character routing key"
    assert parse_destination("{}") == "the secret does not hold a 32-character routing key"


def test_a_missing_secret_is_skipped_and_an_unreadable_one_is_retryable() -> None:
    def missing() -> str | None:
        raise NotConfiguredError("secret 'riposte/pagerduty-routing-key' does not exist or has no value yet")

    def throttled() -> str | None:
        raise RuntimeError("ThrottlingException: Rate exceeded")

    skipped = PagerDutyNotifier(HttpTransport(urllib3.PoolManager()), missing).send(result_for())
    assert (skipped.status, skipped.retryable) == (Status.SKIPPED, False)
    assert (
        skipped.detail == NOT_CONFIGURED + "secret 'riposte/pagerduty-routing-key' does not exist or has no value yet"
    )
    failed = PagerDutyNotifier(HttpTransport(urllib3.PoolManager()), throttled).send(result_for())
    assert (failed.status, failed.retryable) == (Status.FAILED, True)
    assert failed.detail == "cannot read destination: ThrottlingException: Rate exceeded"


def test_a_huge_event_gives_up_its_evidence_first_to_stay_under_the_limit() -> None:
    result = result_for()
    event = dataclasses.replace(result.plan.event, evidence=(("blob", "x" * (PAYLOAD_MAX + 10)),))
    body = render(dataclasses.replace(result, plan=dataclasses.replace(result.plan, event=event)), KEY)
    assert len(json.dumps(body)) <= PAYLOAD_MAX
    details = body["payload"]["custom_details"]
    assert details["evidence"].startswith("left out: over PagerDuty's size limit")
    assert details["entities"] == result.plan.event.entities.as_dict()  # only what had to go
    small = render(result, KEY)["payload"]["custom_details"]
    assert small["evidence"] == dict(result.plan.event.evidence)
