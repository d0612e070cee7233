"""What a notifier is, and the one way Riposte posts JSON to a third party.

``send`` never raises into the caller: it returns an ``Outcome``. Delivery failures are retryable so the
message goes back to the queue (and, in the end, to the dead-letter queue) rather than vanishing; the runner's
delivery claims make sure a retry never sends twice what was already delivered.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import urlsplit

import urllib3
from urllib3.util.retry import Retry

from riposte.model import Outcome, Result, Status

# Waiting longer than this inside one invocation risks the Lambda timeout; the queue's retry takes over.
MAX_RETRY_AFTER_SECONDS = 15.0


class _CappedRetry(Retry):
    """urllib3's Retry honours Retry-After without a ceiling; keep it inside the function's time budget."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER_SECONDS)


RETRY = _CappedRetry(
    total=4,
    connect=2,
    read=2,
    status=3,
    backoff_factor=0.5,
    backoff_jitter=0.5,
    backoff_max=8,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"POST"}),  # urllib3 does not retry POST by default
    respect_retry_after_header=True,
    raise_on_status=False,
)
TIMEOUT = urllib3.Timeout(connect=3.0, read=10.0)

# Returns the destination (URL, routing key...) or None when the user has not configured it yet.
CredentialProvider = Callable[[], str | None]


class Notifier(ABC):
    name: ClassVar[str]
    # The field of ``config.Secrets`` naming the secret that holds this notifier's destination.
    secret_field: ClassVar[str]

    def __init__(self, http: urllib3.PoolManager, destination: CredentialProvider) -> None:
        self.http = http
        self.destination = destination

    @abstractmethod
    def render(self, result: Result) -> dict[str, Any]:
        """The payload for ``result`` (pure)."""

    def send(self, result: Result) -> Outcome:
        """Deliver ``result``; never raises."""
        return deliver(self.name, self.http, self.destination, lambda: self.render(result))


def is_http_url(value: str | None) -> bool:
    if not value:
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("https", "http") and bool(parts.netloc)


def post_json(http: urllib3.PoolManager, url: str, payload: dict[str, Any], retries: Retry = RETRY) -> tuple[bool, str]:
    """POST ``payload``; (delivered, detail). Never raises."""
    try:
        response = http.request(
            "POST",
            url,
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            retries=retries,
            timeout=TIMEOUT,
        )
    except urllib3.exceptions.HTTPError as error:
        return False, f"request failed: {type(error).__name__}: {error}"
    body = response.data[:200].decode(errors="replace")
    if 200 <= response.status < 300:
        return True, f"HTTP {response.status}"
    return False, f"HTTP {response.status}: {body}"


def deliver(
    name: str,
    http: urllib3.PoolManager,
    destination: CredentialProvider,
    payload: Callable[[], dict[str, Any]],
) -> Outcome:
    """The shared send(): resolve the destination, post, and map the result to an Outcome."""
    try:
        url = destination()
    except Exception as error:
        return Outcome(name, "", Status.FAILED, f"cannot read destination: {error}", retryable=True)
    if not is_http_url(url):
        return Outcome(name, "", Status.SKIPPED, "not configured: the secret does not hold an http(s) URL yet")
    assert url is not None
    ok, detail = post_json(http, url.strip(), payload())
    if ok:
        return Outcome(name, urlsplit(url).netloc, Status.DONE, detail)
    return Outcome(name, urlsplit(url).netloc, Status.FAILED, detail, retryable=True)
