from __future__ import annotations

import json
import time

import pytest
import urllib3
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from riposte.adapters.http import HttpTransport
from riposte.core import config as cfg
from riposte.core.model import Outcome, Result, Status
from riposte.engine import pipeline
from riposte.notifiers import NOTIFIERS, Route
from riposte.notifiers.slack import FIELD_MAX, HEADER_MAX, TEXT_MAX, SlackNotifier, render
from tests.conftest import load_event, with_detail


def result_for(raw: dict, actions: tuple[Outcome, ...] = ()) -> Result:  # type: ignore[type-arg]
    plan = pipeline.plan(raw, cfg.Config())
    return Result(plan=plan, actions=actions or plan.actions)


def test_message_shows_score_reasons_evidence_and_response() -> None:
    done = (Outcome("block_ip", "91.240.118.77", Status.DONE, "acl-1: added 91.240.118.77/32 as rule 1"),)
    message = render(result_for(load_event("c2_activity_outbound.json"), done))
    blocks = message["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"].startswith("CRITICAL 90/100: C&C activity")
    text = json.dumps(blocks)
    assert "GuardDuty severity 8 (High): base 80" in text
    assert "91.240.118.77 (AS64500 Example Hosting, Netherlands)" in text
    assert "*done*" in text
    assert "block_ip 91.240.118.77 (done)" in message["text"]


def test_attacker_controlled_text_cannot_mention_channels_or_forge_links() -> None:
    raw = with_detail(
        load_event("bitcoin_outbound.json"), description="<!channel> click <https://evil.example|here> & win"
    )
    message = render(result_for(raw))
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; click &lt;https://evil.example|here&gt; &amp; win" in text


def test_block_kit_limits_are_respected() -> None:
    raw = with_detail(load_event("bitcoin_outbound.json"), title="T" * 500, description="D" * 10_000)
    message = render(result_for(raw))
    blocks = message["blocks"]
    assert len(blocks[0]["text"]["text"]) <= HEADER_MAX
    for block in blocks:
        if "fields" in block:
            assert len(block["fields"]) <= 10
            assert all(len(f["text"]) <= FIELD_MAX for f in block["fields"])
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= TEXT_MAX
    assert len(message["text"]) <= TEXT_MAX


def notifier(url: str | None) -> SlackNotifier:
    return SlackNotifier(HttpTransport(urllib3.PoolManager()), lambda: url)


def test_send_posts_the_rendered_message(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    result = result_for(load_event("c2_activity_outbound.json"))
    outcome = notifier(httpserver.url_for("/hook")).send(result)
    assert outcome.status is Status.DONE
    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.data) == render(result)


def test_send_retries_server_errors_and_honours_retry_after(httpserver: HTTPServer) -> None:
    stamps: list[float] = []

    def first(request: Request) -> Response:
        stamps.append(time.monotonic())
        return Response("rate_limited", status=429, headers={"Retry-After": "1"})

    def then(request: Request) -> Response:
        stamps.append(time.monotonic())
        return Response("ok")

    httpserver.expect_ordered_request("/hook").respond_with_handler(first)
    httpserver.expect_ordered_request("/hook").respond_with_handler(then)
    outcome = notifier(httpserver.url_for("/hook")).send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.DONE
    assert stamps[1] - stamps[0] >= 0.9


def test_persistent_failure_is_reported_as_retryable_never_raised(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("no_service", status=404)
    outcome = notifier(httpserver.url_for("/hook")).send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.FAILED
    assert outcome.retryable
    assert outcome.detail == "HTTP 404: no_service"


def test_unreachable_endpoint_is_a_retryable_failure() -> None:
    outcome = notifier("http://127.0.0.1:9/hook").send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.FAILED
    assert outcome.retryable


@pytest.mark.parametrize("value", [None, "", "REPLACE_ME", "xV7#generated-random-secret"])
def test_an_unfilled_secret_skips_instead_of_failing(value: str | None) -> None:
    outcome = notifier(value).send(result_for(load_event("c2_activity_outbound.json")))
    assert outcome.status is Status.SKIPPED
    assert not outcome.retryable
    assert "not configured" in outcome.detail


def test_a_secret_lookup_error_is_retryable() -> None:
    def broken() -> str:
        raise RuntimeError("AccessDenied")

    outcome = SlackNotifier(HttpTransport(urllib3.PoolManager()), broken).send(
        result_for(load_event("c2_activity_outbound.json"))
    )
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert "AccessDenied" in outcome.detail


def test_slack_is_registered_with_its_secret() -> None:
    assert NOTIFIERS.get("slack") is SlackNotifier
    assert SlackNotifier.secret.field == "slack_webhook_url"
    assert SlackNotifier.route is Route.NOTIFY
