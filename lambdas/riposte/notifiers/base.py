"""What a notifier is: a name, the route it serves (notify or page), the secret holding its destination, and
a pure ``render``. The HTTP itself is a port (``Transport``; ``adapters.http`` implements it with urllib3), so
this package stays pure and the stack can read the declarations without loading an HTTP client.

``send`` never raises into the caller: it returns an ``Outcome``. Delivery failures are retryable so the
message goes back to the queue (and, in the end, to the dead-letter queue) rather than vanishing; the runner's
delivery claims make sure a retry never sends twice what was already delivered.
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


# Returns the destination (URL, routing key...) or None when the user has not configured it yet.
CredentialProvider = Callable[[], str | None]


class Notifier(ABC):
    name: ClassVar[str]
    route: ClassVar[Route]
    secret: ClassVar[SecretSpec]

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

    def send(self, result: Result) -> Outcome:
        """Deliver ``result`` to the URL the secret holds; never raises."""
        try:
            url = self.destination()
        except Exception as error:
            return Outcome(self.name, "", Status.FAILED, f"cannot read destination: {error}", retryable=True)
        if url is None or not is_http_url(url):
            return Outcome(self.name, "", Status.SKIPPED, "not configured: the secret does not hold an http(s) URL yet")
        return self.post(url.strip(), self.render(result))

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
