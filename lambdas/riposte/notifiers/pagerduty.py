"""PagerDuty Events API v2: one incident per subject (a finding, an offender, a resource), opened with a
stable ``dedup_key`` so that retries, redeliveries and GuardDuty's periodic updates add to the same alert
instead of paging again.

The secret holds the integration's routing key (32 characters), or a JSON object
``{"routing_key": "...", "url": "..."}`` where ``url`` points somewhere other than PagerDuty's endpoint (a
local stand-in in the demo and tests). Reference: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar

from riposte.core.model import Outcome, Result, Severity, Status
from riposte.notifiers import NOTIFIERS
from riposte.notifiers.base import Notifier, Route, SecretSpec, is_http_url

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
SUMMARY_MAX = 1024  # Events v2 limit
DEDUP_KEY_MAX = 255  # Events v2 limit

SEVERITIES = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "info",
    Severity.INFO: "info",
}


def dedup_key(subject: str) -> str:
    if len(subject) <= DEDUP_KEY_MAX:
        return subject
    return "riposte:" + hashlib.sha256(subject.encode()).hexdigest()


def destination(value: str | None) -> tuple[str, str] | None:
    """(routing key, URL) from the secret's value, or None when it holds neither form yet."""
    if not value:
        return None
    text = value.strip()
    url = EVENTS_URL
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        text, url = str(data.get("routing_key", "")), str(data.get("url", EVENTS_URL))
        if not is_http_url(url):
            return None
    return (text, url) if ROUTING_KEY.match(text) else None


def render(result: Result, routing_key: str) -> dict[str, Any]:
    event, score = result.plan.event, result.plan.score
    summary = f"{score.severity.value.upper()} {score.value}/100: {event.title}"
    details: dict[str, Any] = {
        "score": score.value,
        "reasons": list(score.reasons),
        "type": event.type,
        "entities": event.entities.as_dict(),
        "actions": [o.as_action_dict() for o in result.actions],
        "evidence": dict(event.evidence),
        "event_id": event.id,
    }
    payload: dict[str, Any] = {
        "summary": summary[:SUMMARY_MAX],
        "source": f"riposte/{event.source}" + (f"/{event.account}" if event.account else ""),
        "severity": SEVERITIES[score.severity],
        "class": event.type[:255],
        "component": event.source,
        "custom_details": details,
    }
    if event.time:
        payload["timestamp"] = event.time
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(event.notification_key),
        "client": "Riposte",
        "payload": payload,
    }


@NOTIFIERS.register
class PagerDutyNotifier(Notifier):
    name: ClassVar[str] = "pagerduty"
    route: ClassVar[Route] = Route.PAGE
    secret: ClassVar[SecretSpec] = SecretSpec(
        field="pagerduty_routing_key",
        default="riposte/pagerduty-routing-key",
        description="PagerDuty Events v2 routing key for Riposte",
    )

    def render(self, result: Result) -> dict[str, Any]:
        return render(result, "<routing key>")

    def send(self, result: Result) -> Outcome:
        try:
            found = destination(self.destination())
        except Exception as error:
            return Outcome(self.name, "", Status.FAILED, f"cannot read destination: {error}", retryable=True)
        if found is None:
            return Outcome(
                self.name, "", Status.SKIPPED, "not configured: the secret does not hold a 32-character routing key"
            )
        key, url = found
        return self.post(url, render(result, key))
