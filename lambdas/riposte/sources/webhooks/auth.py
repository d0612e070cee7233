"""Shared-secret authentication for tools that can only set headers.

Two ways, each tool's secret holding either or both (``{"token": ..., "hmac_secret": ...}``):
- ``Authorization: Bearer <token>`` (Sumo Logic's "Authorization Header", Datadog's custom headers,
  Alertmanager's and Grafana's ``authorization`` settings);
- an HMAC-SHA256 signature over ``<timestamp>.<raw body>``: ``X-Riposte-Timestamp`` (Unix seconds) and
  ``X-Riposte-Signature: sha256=<hex>``, valid five minutes either side of now, for senders that can sign.
Every credential presented must be valid; comparisons take constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from riposte.sources.webhooks.errors import WebhookError

TIMESTAMP_HEADER = "x-riposte-timestamp"
SIGNATURE_HEADER = "x-riposte-signature"
REPLAY_WINDOW_SECONDS = 300
# A shorter secret is treated as missing: it could be guessed within the WAF's rate limit.
MIN_SECRET_LENGTH = 32

_BEARER = re.compile(r"Bearer ([\x21-\x7e]{1,1024})", re.IGNORECASE)
_SIGNATURE = re.compile(r"sha256=([0-9A-Fa-f]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class CredentialsUnavailableError(Exception):
    """The tool's secret is missing, unreadable or malformed: the request cannot be checked (503, retried)."""


@dataclass(frozen=True, slots=True)
class ToolSecret:
    token: str = ""
    hmac_secret: str = ""


# The secret of a tool, by tool name; raises ``CredentialsUnavailableError``.
Credentials = Callable[[str], ToolSecret]


def tool_secret(token: str | None, hmac_secret: str | None, where: str) -> ToolSecret:
    """A usable secret, or ``CredentialsUnavailableError`` naming ``where`` it came from and what is wrong."""
    token, hmac_secret = (token or "").strip(), (hmac_secret or "").strip()
    if not token and not hmac_secret:
        raise CredentialsUnavailableError(f"{where} holds neither a token nor an hmac_secret")
    for name, value in (("token", token), ("hmac_secret", hmac_secret)):
        if value and len(value) < MIN_SECRET_LENGTH:
            raise CredentialsUnavailableError(f"{where}: {name} is shorter than {MIN_SECRET_LENGTH} characters")
        if value and not re.fullmatch(r"[\x21-\x7e]+", value):
            raise CredentialsUnavailableError(f"{where}: {name} must be printable ASCII without spaces")
    return ToolSecret(token, hmac_secret)


def parse_secret(text: str | None, where: str) -> ToolSecret:
    """A Secrets Manager value, ``{"token": "...", "hmac_secret": "..."}`` (either may be empty)."""
    if not text:
        raise CredentialsUnavailableError(f"{where} has no value yet")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise CredentialsUnavailableError(f"{where} is not a JSON object") from None
    if not isinstance(data, dict) or set(data) - {"token", "hmac_secret"}:
        raise CredentialsUnavailableError(f'{where} must be {{"token": "...", "hmac_secret": "..."}}')
    token, key = data.get("token"), data.get("hmac_secret")
    if not isinstance(token, str | None) or not isinstance(key, str | None):
        raise CredentialsUnavailableError(f"{where}: token and hmac_secret must be strings")
    return tool_secret(token, key, where)


def _unauthorized(message: str) -> WebhookError:
    return WebhookError(401, "unauthorized", message)


def _check_bearer(header: str, secret: ToolSecret) -> None:
    match = _BEARER.fullmatch(header)
    if match is None:
        raise _unauthorized("Authorization must be 'Bearer <token>'")
    # Compare bytes: compare_digest refuses non-ASCII str, and the token's length is not a secret.
    if not secret.token or not hmac.compare_digest(match[1].encode(), secret.token.encode()):
        raise _unauthorized("invalid credentials")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``): what a sender puts in the header."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _check_hmac(given: str, timestamp: str | None, body: bytes, secret: ToolSecret, now: float) -> None:
    match = _SIGNATURE.fullmatch(given)
    if match is None:
        raise _unauthorized("X-Riposte-Signature must be 'sha256=<64 hex digits>'")
    if timestamp is None or _TIMESTAMP.fullmatch(timestamp) is None:
        raise _unauthorized("X-Riposte-Timestamp must be the Unix time in seconds")
    if abs(now - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        raise _unauthorized(f"X-Riposte-Timestamp is more than {REPLAY_WINDOW_SECONDS} s away from now")
    if not secret.hmac_secret:
        raise _unauthorized("invalid credentials")
    expected = signature(secret.hmac_secret, timestamp, body).removeprefix("sha256=")
    if not hmac.compare_digest(expected, match[1].lower()):
        raise _unauthorized("invalid credentials")


def authenticate(headers: Mapping[str, str], body: bytes, secret: ToolSecret, now: float) -> str:
    """The method that authenticated the request (``bearer`` or ``hmac``); ``WebhookError`` (401) otherwise.
    ``headers`` are keyed in lower case."""
    bearer, given = headers.get("authorization"), headers.get(SIGNATURE_HEADER)
    if bearer is None and given is None:
        raise _unauthorized("missing credentials: send 'Authorization: Bearer <token>' or an X-Riposte-Signature")
    if bearer is not None:
        _check_bearer(bearer, secret)
    if given is not None:
        _check_hmac(given, headers.get(TIMESTAMP_HEADER), body, secret, now)
    return "hmac" if given is not None else "bearer"
