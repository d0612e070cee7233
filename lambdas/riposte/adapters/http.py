"""The one way Riposte posts JSON to a third party: urllib3 with retries (backoff with jitter, Retry-After
honoured up to a ceiling), used by every notifier through the ``Transport`` port."""

from __future__ import annotations

import json
from typing import Any

import urllib3
from urllib3.util.retry import Retry

from riposte.notifiers.base import Delivery

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


class HttpTransport:
    def __init__(self, http: urllib3.PoolManager | None = None, retries: Retry = RETRY) -> None:
        self.http = http or urllib3.PoolManager(num_pools=4)
        self.retries = retries

    def post_json(self, url: str, payload: dict[str, Any]) -> Delivery:
        try:
            response = self.http.request(
                "POST",
                url,
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json"},
                retries=self.retries,
                timeout=TIMEOUT,
            )
        except urllib3.exceptions.HTTPError as error:
            return Delivery(False, f"request failed: {type(error).__name__}: {error}")
        body = response.data[:200].decode(errors="replace")
        if 200 <= response.status < 300:
            return Delivery(True, f"HTTP {response.status}", response.status, response.data[:4096])
        return Delivery(False, f"HTTP {response.status}: {body}", response.status, response.data[:4096])
