"""The webhook front door over real HTTP: ``riposte.serve`` on 127.0.0.1, every tool's payloads (firing and
resolved), SNS signatures, and each hostile request with its status code; nothing refused is ever delivered."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from riposte.core.config import Config
from riposte.core.model import SecurityEvent
from riposte.engine import setup
from riposte.serve import HMAC_ENV, TOKEN_ENV, WebhookServer, serve
from riposte.sources.webhooks import map_body
from riposte.sources.webhooks.auth import signature
from tests.webhooks_samples import body, payload
from tests.webhooks_samples.signing import CERT_URL, FakeHttp, Signer

TOKEN = "local-token-" + "a" * 32
KEY = "local-hmac-" + "b" * 32
TOPIC = "arn:aws:sns:us-east-1:123456789012:riposte-alerts"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Harness:
    server: WebhookServer
    environ: dict[str, str]
    http: FakeHttp
    signer: Signer
    delivered: list[list[SecurityEvent]] = field(default_factory=list)
    fail_delivery: bool = False

    def post(
        self, path: str, data: bytes, headers: dict[str, str] | None = None, method: str = "POST"
    ) -> tuple[int, dict[str, Any]]:
        host, port = self.server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
        try:
            connection.putrequest(method, path)
            for name, value in (headers or {}).items():
                for one in value if isinstance(value, list) else [value]:
                    connection.putheader(name, one)
            connection.putheader("Content-Length", str(len(data)))
            # A server that refuses a body unread may answer and close before the client has sent it all: the
            # answer is still there to read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.endheaders(data)
            response = connection.getresponse()
            status, text = response.status, response.read()
            assert response.getheader("Content-Type") == "application/json"
        finally:
            connection.close()
        return status, json.loads(text)

    def events(self) -> list[SecurityEvent]:
        return [e for batch in self.delivered for e in batch]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture
def harness(signer: Signer) -> Iterator[Harness]:
    config = setup.parse({"webhooks": {"enabled": True, "sns_topic_arns": [TOPIC]}})
    environ = {TOKEN_ENV: TOKEN, HMAC_ENV: KEY}
    fake = FakeHttp({CERT_URL: signer.pem})
    holder: dict[str, Harness] = {}

    def on_events(events: list[SecurityEvent]) -> None:
        if holder["h"].fail_delivery:
            raise RuntimeError("the local pipeline failed")
        holder["h"].delivered.append(events)

    server = serve(config, "127.0.0.1", 0, on_events, environ=environ, http=fake)
    holder["h"] = Harness(server, environ, fake, signer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield holder["h"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


SAMPLES = [
    ("alertmanager", "alertmanager_firing.json"),
    ("alertmanager", "alertmanager_resolved.json"),
    ("grafana", "grafana_firing.json"),
    ("grafana", "grafana_resolved.json"),
    ("datadog", "datadog_default.json"),
    ("datadog", "datadog_recovered.json"),
    ("datadog", "datadog_multialert_tags.json"),
    ("datadog", "datadog_multialert_recovered.json"),
    ("sumologic", "sumologic_monitor.json"),
    ("sumologic", "sumologic_monitor_resolved.json"),
    ("sumologic", "sumologic_scheduled_search_aggregate.json"),
    ("sumologic", "sumologic_string_results.json"),
    ("generic", "generic_single.json"),
    ("generic", "generic_list.json"),
]


@pytest.mark.parametrize(("tool", "sample"), SAMPLES)
def test_every_tool_payload_is_accepted_over_http_with_its_event_ids(harness: Harness, tool: str, sample: str) -> None:
    status, reply = harness.post(f"/webhooks/{tool}", body(sample), AUTH)
    expected = map_body(tool, body(sample), setup.parse({"webhooks": {"sns_topic_arns": [TOPIC]}}))
    assert status == 202
    assert reply["event_ids"] == [e.id for e in expected]
    assert harness.events() == expected
    assert harness.server.counts["Accepted"] == 1
    assert harness.server.counts["Events"] == len(expected)


@pytest.mark.parametrize(
    "sample",
    ["sns_notification_cloudwatch_alarm.json", "sns_notification_cloudwatch_ok.json", "sns_notification_plain.json"],
)
@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_sns_notifications_are_accepted_without_a_token(harness: Harness, sample: str, version: str) -> None:
    signed = harness.signer.sign(payload(sample), version)
    status, reply = harness.post(
        "/webhooks/sns", json.dumps(signed).encode(), {"Content-Type": "text/plain; charset=UTF-8"}
    )
    assert status == 202
    assert reply["event_ids"] == [e.id for e in harness.events()]


def test_an_sns_subscription_is_confirmed_over_http(harness: Harness) -> None:
    signed = harness.signer.sign(payload("sns_subscription_confirmation.json"), "1")
    harness.http.pages[signed["SubscribeURL"]] = b"<ConfirmSubscriptionResponse/>"
    status, reply = harness.post("/webhooks/sns", json.dumps(signed).encode())
    assert (status, reply["status"]) == (200, "subscription confirmed")
    assert harness.http.requests[-1] == signed["SubscribeURL"]
    assert harness.delivered == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"Message": "tampered"}, 401),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/x.pem"}, 401),
        ({"SignatureVersion": "3"}, 401),
        ({"TopicArn": "arn:aws:sns:us-east-1:123456789012:not-listed"}, 401),
    ],
)
def test_tampered_or_misdirected_sns_messages_are_refused(
    harness: Harness, change: dict[str, str], status: int
) -> None:
    signed = harness.signer.sign(payload("sns_notification_cloudwatch_alarm.json"), "1") | change
    got, reply = harness.post("/webhooks/sns", json.dumps(signed).encode())
    assert got == status
    assert reply["error"] == "unauthorized"
    assert harness.delivered == []
    assert "evil" not in " ".join(harness.http.requests)


def test_an_hmac_signed_request_is_accepted(harness: Harness) -> None:
    data = body("generic_single.json")
    stamp = str(int(time.time()))
    headers = {"X-Riposte-Timestamp": stamp, "X-Riposte-Signature": signature(KEY, stamp, data)}
    status, _ = harness.post("/webhooks/generic", data, headers)
    assert status == 202
    assert len(harness.events()) == 1


def test_a_retried_delivery_gets_the_same_event_ids(harness: Harness) -> None:
    first = harness.post("/webhooks/datadog", body("datadog_multialert_tags.json"), AUTH)
    second = harness.post("/webhooks/datadog", body("datadog_multialert_tags.json"), AUTH)
    assert first == second


def test_protected_addresses_are_reported_in_the_reply(harness: Harness) -> None:
    status, reply = harness.post("/webhooks/generic", body("generic_list.json"), AUTH)
    assert status == 202
    assert {"address": "10.0.3.17", "reason": "10.0.3.17 is private (RFC 1918) (10.0.0.0/8)"} in reply["protected"]
    assert "91.240.118.77" not in [p["address"] for p in reply["protected"]]


def stale_hmac() -> dict[str, str]:
    data = body("generic_single.json")
    stamp = str(int(time.time()) - 301)
    return {"X-Riposte-Timestamp": stamp, "X-Riposte-Signature": signature(KEY, stamp, data)}


GOOD = body("generic_single.json")


def generic(**fields: Any) -> bytes:
    return json.dumps({"ip": "193.32.162.7", "reason": "r", "severity": "high"} | fields).encode()


HOSTILE: list[tuple[str, str, bytes, dict[str, Any], int, str]] = [
    ("no credentials", "/webhooks/generic", GOOD, {}, 401, "unauthorized"),
    ("wrong token", "/webhooks/generic", GOOD, {"Authorization": "Bearer " + "x" * 44}, 401, "unauthorized"),
    ("basic auth", "/webhooks/generic", GOOD, {"Authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthorized"),
    ("stale signature", "/webhooks/generic", GOOD, "stale", 401, "unauthorized"),  # type: ignore[list-item]
    (
        "bad signature",
        "/webhooks/generic",
        GOOD,
        {"X-Riposte-Timestamp": "1", "X-Riposte-Signature": "sha256=" + "0" * 64},
        401,
        "unauthorized",
    ),
    (
        "token sent twice",
        "/webhooks/generic",
        GOOD,
        {"Authorization": [f"Bearer {TOKEN}", "Bearer other"]},
        401,
        "unauthorized",
    ),
    ("unknown tool", "/webhooks/splunk", GOOD, AUTH, 404, "unknown_tool"),
    ("unknown path", "/hooks/generic", GOOD, AUTH, 404, "not_found"),
    ("not JSON", "/webhooks/generic", b"ip=193.32.162.7", AUTH, 400, "bad_json"),
    ("invalid UTF-8", "/webhooks/generic", b'{"ip": "193.32.162.7", "reason": "\xc3\x28"}', AUTH, 400, "bad_encoding"),
    ("not an object", "/webhooks/generic", b'["193.32.162.7"]', AUTH, 400, "not_an_object"),
    ("too deep", "/webhooks/generic", b'{"a": ' + b"[" * 33 + b"]" * 33 + b"}", AUTH, 400, "too_deep"),
    (
        "101 addresses",
        "/webhooks/generic",
        generic(ip=[f"45.13.105.{n}" for n in range(1, 102)]),
        AUTH,
        400,
        "too_many_addresses",
    ),
    ("leading zero", "/webhooks/generic", generic(ip="193.032.162.7"), AUTH, 400, "bad_address"),
    ("integer form", "/webhooks/generic", generic(ip="3240141319"), AUTH, 400, "bad_address"),
    ("non-ASCII digits", "/webhooks/generic", generic(ip="١٩٣.32.162.7"), AUTH, 400, "bad_address"),
    ("whitespace trick", "/webhooks/generic", generic(ip="193.32.162.7\u2003"), AUTH, 400, "bad_address"),
    ("shell metacharacters", "/webhooks/generic", generic(ip="193.32.162.7;reboot"), AUTH, 400, "bad_address"),
    ("hostname", "/webhooks/generic", generic(ip="attacker.example.com"), AUTH, 400, "bad_address"),
    ("IPv4 CIDR too broad", "/webhooks/generic", generic(ip="45.13.104.0/22"), AUTH, 400, "bad_address"),
    ("IPv6 CIDR too broad", "/webhooks/generic", generic(ip="2a0d:5600::/32"), AUTH, 400, "bad_address"),
    # An alerting tool's bad label only skips that value (unit tests); the generic tool's stated address is
    # strict, as its sender sees the error.
    ("bad stated address", "/webhooks/generic", generic(ip="91.240.118.050"), AUTH, 400, "bad_address"),
]


@pytest.mark.parametrize(("name", "path", "data", "headers", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_get_a_clear_json_error_a_metric_and_nothing_queued(  # noqa: PLR0917 - one per column
    harness: Harness, name: str, path: str, data: bytes, headers: Any, status: int, code: str
) -> None:
    got, reply = harness.post(path, data, stale_hmac() if headers == "stale" else headers)
    assert (got, reply["error"]) == (status, code), reply
    assert reply["message"]
    assert harness.delivered == []
    assert harness.server.counts["Rejected" + "".join(p.title() for p in code.split("_"))] == 1


def test_a_body_over_one_mebibyte_is_refused_unread(harness: Harness) -> None:
    status, reply = harness.post("/webhooks/generic", b" " * (1024 * 1024 + 1), AUTH)
    assert (status, reply["error"]) == (413, "too_large")
    assert harness.delivered == []


def test_missing_local_credentials_are_a_503(harness: Harness) -> None:
    harness.environ.clear()
    status, reply = harness.post("/webhooks/generic", GOOD, AUTH)
    assert (status, reply["error"]) == (503, "credentials_unavailable")
    assert harness.server.counts["RejectedCredentialsUnavailable"] == 1


def test_a_failing_pipeline_is_a_503_so_the_sender_retries(harness: Harness) -> None:
    harness.fail_delivery = True
    status, reply = harness.post("/webhooks/generic", GOOD, AUTH)
    assert (status, reply["error"]) == (503, "queue_unavailable")
    harness.fail_delivery = False
    assert harness.post("/webhooks/generic", GOOD, AUTH)[0] == 202


def test_only_post_routes_exist(harness: Harness) -> None:
    status, reply = harness.post("/webhooks/generic", b"", AUTH, method="GET")
    assert (status, reply["error"]) == (404, "not_found")


def test_a_disabled_tool_is_unknown() -> None:
    config: Config = setup.parse({"webhooks": {"tools": ["generic"]}})
    server = serve(config, "127.0.0.1", 0, environ={TOKEN_ENV: TOKEN})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        harness = Harness(server, {}, FakeHttp({}), Signer.__new__(Signer))
        status, reply = harness.post("/webhooks/datadog", body("datadog_default.json"), AUTH)
        assert (status, reply["error"]) == (404, "unknown_tool")
        assert "valid: generic" in reply["message"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_bad_label_value_is_skipped_counted_and_the_alert_still_queued(harness: Harness) -> None:
    data = body("alertmanager_firing.json").replace(b"91.240.118.50", b"91.240.118.050")
    status, reply = harness.post("/webhooks/alertmanager", data, AUTH)
    assert status == 202, reply
    assert [s["where"] for s in reply["skipped"]]
    assert all("91.240.118.050" in s["reason"] or "91.240.118.050" in s["where"] for s in reply["skipped"])
    assert harness.delivered
    assert harness.server.counts["AddressesSkipped"] == len(reply["skipped"])
