"""Shared-secret authentication: bearer tokens, HMAC over timestamp and body within five minutes, secrets."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from riposte.core.config import Config
from riposte.engine import setup
from riposte.sources.webhooks import FrontDoor, Request
from riposte.sources.webhooks.auth import (
    REPLAY_WINDOW_SECONDS,
    CredentialsUnavailableError,
    ToolSecret,
    authenticate,
    parse_secret,
    signature,
    tool_secret,
)
from riposte.sources.webhooks.errors import WebhookError
from riposte.sources.webhooks.sns import SnsVerifier
from tests.webhooks_samples import body
from tests.webhooks_samples.signing import FakeHttp

TOKEN = "t0k3n-" + "x" * 40
KEY = "hm4c-" + "y" * 40
SECRET = ToolSecret(TOKEN, KEY)
NOW = 1_778_577_315.0
BODY = b'{"ip": "193.32.162.7", "reason": "r", "severity": "high"}'


def signed(timestamp: float = NOW, key: str = KEY, data: bytes = BODY) -> dict[str, str]:
    stamp = str(int(timestamp))
    return {"x-riposte-timestamp": stamp, "x-riposte-signature": signature(key, stamp, data)}


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(KEY.encode(), b"1778577315." + BODY, hashlib.sha256).hexdigest()
    assert signature(KEY, "1778577315", BODY) == f"sha256={expected}"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_bearer_token_authenticates(scheme: str) -> None:
    assert authenticate({"authorization": f"{scheme} {TOKEN}"}, BODY, SECRET, NOW) == "bearer"


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer  {TOKEN}",
        "Bearer ",
        "Bearer t\u00f6ken",
    ],
)
def test_a_wrong_or_malformed_bearer_is_refused(header: str) -> None:
    with pytest.raises(WebhookError) as caught:
        authenticate({"authorization": header}, BODY, SECRET, NOW)
    assert caught.value.status == 401


def test_a_bearer_is_refused_when_the_secret_holds_only_an_hmac_key() -> None:
    with pytest.raises(WebhookError, match="invalid credentials"):
        authenticate({"authorization": f"Bearer {TOKEN}"}, BODY, ToolSecret("", KEY), NOW)


def test_no_credentials_at_all_is_refused() -> None:
    with pytest.raises(WebhookError, match="missing credentials") as caught:
        authenticate({}, BODY, SECRET, NOW)
    assert caught.value.status == 401


def test_an_hmac_signature_authenticates() -> None:
    assert authenticate(signed(), BODY, SECRET, NOW) == "hmac"
    upper = signed()
    upper["x-riposte-signature"] = "sha256=" + upper["x-riposte-signature"][7:].upper()
    assert authenticate(upper, BODY, SECRET, NOW) == "hmac"


@pytest.mark.parametrize("skew", [-REPLAY_WINDOW_SECONDS, REPLAY_WINDOW_SECONDS])
def test_the_replay_window_is_five_minutes_either_side_inclusive(skew: int) -> None:
    assert authenticate(signed(NOW + skew), BODY, SECRET, NOW) == "hmac"


@pytest.mark.parametrize("skew", [-REPLAY_WINDOW_SECONDS - 1, REPLAY_WINDOW_SECONDS + 1, -86_400])
def test_a_timestamp_outside_the_window_is_refused_even_when_correctly_signed(skew: int) -> None:
    with pytest.raises(WebhookError, match="more than 300 s away") as caught:
        authenticate(signed(NOW + skew), BODY, SECRET, NOW)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "headers",
    [
        signed(key="another-key-" + "z" * 40),
        signed(data=BODY + b" "),
        {**signed(), "x-riposte-timestamp": str(int(NOW) + 1)},
        {**signed(), "x-riposte-timestamp": "1778577315.0"},
        {**signed(), "x-riposte-timestamp": "-1"},
        {"x-riposte-signature": signed()["x-riposte-signature"]},
        {**signed(), "x-riposte-signature": signed()["x-riposte-signature"][7:]},
        {**signed(), "x-riposte-signature": "sha1=" + "0" * 40},
    ],
)
def test_a_wrong_or_malformed_signature_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookError) as caught:
        authenticate(headers, BODY, SECRET, NOW)
    assert caught.value.status == 401


def test_every_credential_presented_must_be_valid() -> None:
    with pytest.raises(WebhookError):
        authenticate({"authorization": "Bearer wrong", **signed()}, BODY, SECRET, NOW)
    with pytest.raises(WebhookError):
        authenticate({"authorization": f"Bearer {TOKEN}", **signed(key="k" * 40)}, BODY, SECRET, NOW)
    assert authenticate({"authorization": f"Bearer {TOKEN}", **signed()}, BODY, SECRET, NOW) == "hmac"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (None, "no value"),
        ("", "no value"),
        ("plain-token", "not a JSON object"),
        ('["a"]', "must be"),
        ('{"token": "x", "other": 1}', "must be"),
        ('{"token": 5}', "must be strings"),
        ('{"token": "", "hmac_secret": ""}', "neither"),
        ('{"token": "short"}', "shorter than 32"),
        ('{"token": "' + "a" * 31 + '"}', "shorter than 32"),
        ('{"token": "' + "a b" * 20 + '"}', "printable ASCII"),
    ],
)
def test_a_missing_or_malformed_secret_is_unavailable_and_says_why(text: str | None, why: str) -> None:
    with pytest.raises(CredentialsUnavailableError, match=why):
        parse_secret(text, "secret riposte/webhooks/datadog")


def test_a_well_formed_secret_may_hold_either_or_both() -> None:
    assert parse_secret('{"token": "' + "a" * 32 + '"}', "s") == ToolSecret("a" * 32, "")
    assert parse_secret('{"hmac_secret": "' + "b" * 32 + '"}', "s") == ToolSecret("", "b" * 32)
    assert tool_secret(f" {TOKEN} ", KEY, "env") == SECRET


class Door:
    def __init__(self, secret: ToolSecret | Exception, config: Config | None = None) -> None:
        self.asked: list[str] = []

        def credentials(tool: str) -> ToolSecret:
            self.asked.append(tool)
            if isinstance(secret, Exception):
                raise secret
            return secret

        self.door = FrontDoor(
            config or setup.check(Config()),
            credentials=credentials,
            sns_verifier=SnsVerifier(FakeHttp({})),
            clock=lambda: NOW,
        )


def test_the_front_door_checks_the_tool_and_the_size_before_asking_for_credentials() -> None:
    door = Door(SECRET)
    assert door.door.receive(Request("splunk", {}, BODY)).status == 404
    assert door.door.receive(Request("generic", {}, b" " * (1024 * 1024 + 1))).status == 413
    assert door.asked == []
    assert door.door.receive(Request("generic", {}, b"not json")).status == 401  # credentials before parsing
    assert door.door.receive(Request("generic", {"Authorization": f"Bearer {TOKEN}"}, b"not json")).status == 400


def test_an_unavailable_secret_is_a_503_that_names_no_secret() -> None:
    door = Door(CredentialsUnavailableError("secret riposte/webhooks/generic cannot be read: AccessDenied"))
    reply = door.door.receive(Request("generic", {"Authorization": f"Bearer {TOKEN}"}, BODY))
    assert reply.status == 503
    assert reply.body == {"error": "credentials_unavailable", "message": "credentials for 'generic' are not available"}
    assert reply.metric == "RejectedCredentialsUnavailable"
    assert "AccessDenied" in reply.detail


def test_an_authenticated_body_is_accepted_with_its_event_ids() -> None:
    reply = Door(SECRET).door.receive(
        Request("alertmanager", {"Authorization": f"Bearer {TOKEN}"}, body("alertmanager_firing.json"))
    )
    assert reply.status == 202
    assert reply.metric == "Accepted"
    assert reply.body["event_ids"] == [e.id for e in reply.events]
    assert len(reply.events) == 2
