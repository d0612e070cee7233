"""What a notifier is: a name, the route it serves (notify or page), the secret holding its destination, and
a pure ``render``. The HTTP itself is a port (``Transport``; ``adapters.http`` implements it with urllib3), so
this package stays pure and the stack can read the declarations without loading an HTTP client.

``send`` never raises into the caller: it returns an ``Outcome``. Delivery failures are retryable so the
message goes back to the queue (and, in the end, to the dead-letter queue) rather than vanishing; the runner's
delivery claims make sure a retry never sends twice what was already delivered.

A destination that is not there (the secret does not exist, has no value yet, or holds something unusable) is
``skipped``, with the reason, never retried: a retry cannot make it appear, and retrying would only turn a
configuration gap into a retry storm and a dead-letter queue full of events that were handled. Reading it
may still fail in a way that passes (throttling, a denied or unreachable endpoint): that is a retryable
failure.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

from riposte.core.config import Config
from riposte.core.model import Outcome, Result, Status
from riposte.core.ports import Digest

# Every skipped outcome for a destination that is not there starts with this (what metrics and people look for).
NOT_CONFIGURED = "not configured: "


class Route(StrEnum):
    """When the policy calls on a notifier: ``notify`` at the notify threshold (and whenever Riposte acts),
    ``page`` at the page threshold."""

    NOTIFY = "notify"
    PAGE = "page"


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """The Secrets Manager secret a notifier reads its destination from: ``field`` is its key under
    ``[secrets]`` in the configuration, ``default`` the secret's name when that key is absent."""

    field: str
    default: str
    description: str


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    detail: str
    status: int | None = None
    body: bytes = b""


class Transport(Protocol):
    def post_json(self, url: str, payload: dict[str, Any]) -> Delivery:
        """POST ``payload`` as JSON with retries (backoff, jitter, Retry-After); never raises."""
        ...


class NotConfiguredError(Exception):
    """The destination is not there: the secret does not exist, has no value yet, or is unusable. The message
    says which; the notification is skipped, not retried."""


# Returns the destination (URL, routing key...) or None when the user has not configured it yet; raises
# ``NotConfiguredError`` when the secret itself is missing, any other exception when it cannot be read now.
CredentialProvider = Callable[[], str | None]


class Notifier(ABC):
    name: ClassVar[str]
    route: ClassVar[Route]
    secret: ClassVar[SecretSpec]
    # Storm control applies (chat channels): past the window's limit, decisions are folded into a digest.
    folds: ClassVar[bool] = False

    def __init__(self, transport: Transport, destination: CredentialProvider) -> None:
        self.transport = transport
        self.destination = destination

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        """Problems with ``config`` for this notifier, each ``"<field>: <message>"``."""
        return []

    @abstractmethod
    def render(self, result: Result) -> dict[str, Any]:
        """The payload for ``result`` (pure)."""

    def url(self) -> str | Outcome:
        """The URL the secret holds, or the outcome that says why there is none (skipped: not configured;
        failed and retryable: the secret could not be read now)."""
        try:
            value = self.destination()
        except NotConfiguredError as error:
            return self.skipped(str(error))
        except Exception as error:
            return Outcome(self.name, "", Status.FAILED, f"cannot read destination: {error}", retryable=True)
        if value is None or not is_http_url(value):
            return self.skipped("the secret does not hold an http(s) URL yet")
        return value.strip()

    def skipped(self, why: str) -> Outcome:
        return Outcome(self.name, "", Status.SKIPPED, NOT_CONFIGURED + why)

    def send(self, result: Result) -> Outcome:
        """Deliver ``result`` to the URL the secret holds; never raises."""
        url = self.url()
        if isinstance(url, Outcome):
            return url
        return self.post(url, self.render(result))

    def send_digest(self, digest: Digest) -> Outcome:
        """Deliver a storm digest (notifiers that fold); never raises."""
        return Outcome(self.name, "", Status.SKIPPED, f"{self.name} keeps no digests")

    def resolve(self, incident: str, why: str) -> Outcome:
        """Close ``incident`` (the events' notification key) where this notifier opened one; never raises."""
        return Outcome(self.name, "", Status.SKIPPED, f"{self.name} opens no incidents to resolve")

    def post(self, url: str, payload: dict[str, Any]) -> Outcome:
        delivery = self.transport.post_json(url, payload)
        host = urlsplit(url).netloc
        if delivery.ok:
            return Outcome(self.name, host, Status.DONE, delivery.detail)
        return Outcome(self.name, host, Status.FAILED, delivery.detail, retryable=True)


def is_http_url(value: str | None) -> bool:
    if not value:
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("https", "http") and bool(parts.netloc)
