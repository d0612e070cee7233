"""The front door's decision for one request, without any transport: known tool, size, authentication, body,
mapping, limits -> a reply (status and JSON body) and the events to enqueue.

The Lambda handler and the local server both call ``FrontDoor.receive``; ``map_body`` is the same path without
authentication, for ``riposte score``. Order matters: the cheap and unauthenticated checks (tool, size) come
first, then credentials, and only then is the body parsed, except for SNS, whose credentials are inside the
body. Every refusal is a ``WebhookError`` with its status, turned into ``{"error": code, "message": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from riposte.core import guard
from riposte.core.config import Config
from riposte.core.model import SIGNAL_RESOLVED, SecurityEvent
from riposte.sources.webhooks import auth, sns
from riposte.sources.webhooks.base import (
    ADAPTERS,
    MAX_ALERTS,
    Adapter,
    Alert,
    MapContext,
    Skipped,
    events_of,
    too_many_addresses,
)
from riposte.sources.webhooks.body import MAX_BODY_BYTES, decode, too_large
from riposte.sources.webhooks.errors import WebhookError


@dataclass(frozen=True, slots=True)
class Request:
    tool: str
    headers: Mapping[str, str]
    body: bytes
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    # A CloudWatch metric name counting this outcome (Accepted, RejectedUnauthorized...).
    metric: str
    events: tuple[SecurityEvent, ...] = ()
    # Values of address fields that were not addresses and were skipped (each also on its alert's events):
    # for an AddressesSkipped metric, so that a tool sending them is seen.
    skipped_addresses: int = 0
    # For the logs only, never for the sender (which secret is missing, why a certificate failed).
    detail: str = field(default="")


def metric_for(code: str) -> str:
    return "Rejected" + "".join(part.title() for part in code.split("_"))


def rejection(error: WebhookError, detail: str = "") -> Reply:
    return Reply(error.status, {"error": error.code, "message": str(error)}, metric_for(error.code), detail=detail)


def _adapter(tool: str, config: Config) -> Adapter:
    enabled = [name for name in ADAPTERS.names() if name in config.webhooks.tools]
    if tool not in enabled:
        raise WebhookError(404, "unknown_tool", f"unknown webhook tool {tool[:64]!r}; valid: {', '.join(enabled)}")
    return ADAPTERS.get(tool)()


def _events(alerts: Sequence[Alert], config: Config) -> list[SecurityEvent]:
    if len(alerts) > MAX_ALERTS:
        raise WebhookError(400, "too_many_alerts", f"more than {MAX_ALERTS} alerts in one request")
    return [event for alert in _within_limit(alerts, config.webhooks.max_addresses) for event in events_of(alert)]


def _within_limit(alerts: Sequence[Alert], limit: int) -> list[Alert]:
    """The alerts with at most ``limit`` distinct addresses between them, in the order sent: an address past the
    limit is left out of its alert and listed in its ``skipped`` (a distributed attack's 101st source must not
    lose the other 100, nor make a tool that never retries a 400 lose the whole group)."""
    seen: set[str] = set()
    kept = []
    for index, alert in enumerate(alerts):
        offenders, over = [], []
        for offender in alert.offenders:
            if offender.address in seen or len(seen) < limit:
                seen.add(offender.address)
                offenders.append(offender)
            else:
                reason = f"{offender.address}: {too_many_addresses(limit)} (webhooks.max_addresses); left out"
                over.append(Skipped(f"alerts[{index}]", reason))
        kept.append(replace(alert, offenders=tuple(offenders), skipped=(*alert.skipped, *over)) if over else alert)
    return kept


def map_body(tool: str, body: bytes, config: Config) -> list[SecurityEvent]:
    """The events a saved request body maps to, with every limit the front door applies but no authentication
    (an SNS signature is not checked offline). ``WebhookError`` (an ``InputError``) when it would be refused."""
    adapter = _adapter(tool, config)
    if len(body) > MAX_BODY_BYTES:
        raise too_large(len(body))
    return _events(adapter.alerts(decode(body), MapContext.of(config)), config)


def _skipped(alerts: Sequence[Alert]) -> list[dict[str, str]]:
    return [{"where": item.where, "reason": item.reason} for alert in alerts for item in alert.skipped]


def _summary(tool: str, events: Sequence[SecurityEvent], config: Config) -> dict[str, Any]:
    listed = []
    protected = []
    for event in events:
        address = event.entities.ips[0] if event.entities.ips else None
        resolved = SIGNAL_RESOLVED in event.signals
        listed.append({"id": event.id, "subject": event.subject, "address": address, "resolved": resolved})
        # Said now so that the sender knows; the guard refuses them again, centrally, before anything runs.
        if address and not resolved and (why := guard.target_refusal(address, config.allowlist)):
            protected.append({"address": address, "reason": why})
    return {
        "status": "accepted",
        "tool": tool,
        "event_ids": [item["id"] for item in listed],
        "events": listed,
        "protected": protected,
    }


class FrontDoor:
    """One per container: the configuration, the tools' credentials and the SNS verifier (with its certificate
    cache), and a clock for the HMAC replay window."""

    def __init__(
        self,
        config: Config,
        *,
        credentials: auth.Credentials,
        sns_verifier: sns.SnsVerifier,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.sns = sns_verifier
        self.clock = clock
        self.context = MapContext.of(config)

    def receive(self, request: Request) -> Reply:
        try:
            return self._receive(request)
        except WebhookError as error:
            return rejection(error)
        except auth.CredentialsUnavailableError as error:
            public = WebhookError(503, "credentials_unavailable", f"credentials for {request.tool!r} are not available")
            return rejection(public, detail=str(error))

    def _receive(self, request: Request) -> Reply:
        adapter = _adapter(request.tool, self.config)
        if len(request.body) > MAX_BODY_BYTES:
            raise too_large(len(request.body))
        if adapter.auth == "sns":
            return self._sns(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        auth.authenticate(headers, request.body, self.credentials(request.tool), self.clock())
        alerts = adapter.alerts(decode(request.body), self.context)
        return self._accept(request.tool, alerts)

    def _sns(self, request: Request) -> Reply:
        message = sns.parse(decode(request.body))
        self.sns.verify(message, self.config)
        if message.type == sns.SUBSCRIPTION:
            self.sns.confirm(message)
            body = {"status": "subscription confirmed", "topic": message.topic_arn}
            return Reply(200, body, "SnsSubscriptionConfirmed")
        if message.type == sns.UNSUBSCRIPTION:
            return Reply(200, {"status": "ignored", "topic": message.topic_arn}, "SnsUnsubscribeIgnored")
        return self._accept(request.tool, sns.notification_alerts(message, self.context))

    def _accept(self, tool: str, alerts: Sequence[Alert]) -> Reply:
        events = _events(alerts, self.config)
        skipped = _skipped(alerts)
        if not events:
            body = {
                "status": "ignored",
                "tool": tool,
                "event_ids": [],
                "message": "the alert carries nothing to act on",
                "skipped": skipped,
            }
            return Reply(200, body, "Ignored", skipped_addresses=len(skipped))
        body = _summary(tool, events, self.config) | {"skipped": skipped}
        return Reply(202, body, "Accepted", tuple(events), skipped_addresses=len(skipped))
