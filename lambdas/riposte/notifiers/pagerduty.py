"""PagerDuty Events API v2: one incident per subject (a finding, an offender, a resource), opened with a
stable ``dedup_key`` so that retries, redeliveries and GuardDuty's periodic updates add to the same alert
instead of paging again, and resolved with the same key when the source says the activity is over or when
Riposte's blocks for it are gone (``riposte.engine.notify``).

The secret holds the integration's routing key (32 characters), or a JSON object
``{"routing_key": "...", "url": "..."}`` where ``url`` points somewhere other than PagerDuty's endpoint (a
local stand-in in the demo and tests). Reference: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/

Responses: 202 accepted; 429 (throttled) and 5xx are retried by the transport (backoff, Retry-After) and,
when still failing, by the queue; 400 ("invalid event") is final: the same event would be refused again, so it
is recorded as failed, not retried, and said in Slack.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from riposte.core.model import SIGNAL_RESOLVED, Outcome, Result, Severity, Status
from riposte.notifiers import NOTIFIERS
from riposte.notifiers.base import Delivery, NotConfiguredError, Notifier, Route, SecretSpec, is_http_url
from riposte.notifiers.links import console_links

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
SUMMARY_MAX = 1024  # Events v2 limit
DEDUP_KEY_MAX = 255  # Events v2 limit
# Events v2 refuses bodies over 512 KB; stay clear of it (evidence from a webhook can be large).
PAYLOAD_MAX = 500_000
# Answers that no retry can change: the event itself was refused.
FINAL_STATUSES = frozenset({400, 413})
ERRORS_MAX = 300

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


def parse_destination(value: str | None) -> tuple[str, str] | str:
    """(routing key, URL) from the secret's value, or why it holds neither form (a sentence)."""
    if not value or not value.strip():
        return "the secret is empty"
    text = value.strip()
    url = EVENTS_URL
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return "the secret starts like JSON but is not valid JSON"
        if not isinstance(data, dict):
            return "the secret's JSON is not an object"
        text, url = str(data.get("routing_key", "")).strip(), str(data.get("url", EVENTS_URL))
        if not is_http_url(url):
            return "the secret's url is not an http(s) URL"
    if not ROUTING_KEY.match(text):
        return "the secret does not hold a 32-character routing key"
    return text, url


def destination(value: str | None) -> tuple[str, str] | None:
    """(routing key, URL) from the secret's value, or None when it holds neither form yet."""
    found = parse_destination(value)
    return found if isinstance(found, tuple) else None


def _bounded(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` under PagerDuty's size limit: the bulkiest details (evidence, then entities) give way first, each
    replaced by a note that says so."""
    details = body["payload"]["custom_details"]
    for bulky in ("evidence", "entities", "actions"):
        if len(json.dumps(body)) <= PAYLOAD_MAX:
            break
        details[bulky] = f"left out: over PagerDuty's size limit (Riposte's audit of {details['event_id']} has it)"
    return body


def render(result: Result, routing_key: str) -> dict[str, Any]:
    event = result.plan.event
    if SIGNAL_RESOLVED in event.signals:
        return render_resolve(event.notification_key, routing_key)
    score = result.plan.score
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
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(event.notification_key),
        "client": "Riposte",
        "payload": payload,
    }
    if links := console_links(result):
        body["links"] = [{"href": url, "text": label} for label, url in links]
    return _bounded(body)


def render_resolve(incident: str, routing_key: str) -> dict[str, Any]:
    """Resolve needs nothing but the key of what was triggered (and the same routing key, or it is dropped)."""
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key(incident)}


def _refusal(delivery: Delivery) -> str:
    """PagerDuty's own words for a refused event (``{"status", "message", "errors": [...]}``), briefly."""
    try:
        data = json.loads(delivery.body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        errors = data.get("errors")
        said = "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(data.get("message", ""))
    else:
        said = delivery.body.decode(errors="replace")
    return said[:ERRORS_MAX]


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

    def _destination(self) -> tuple[str, str] | Outcome:
        try:
            found = parse_destination(self.destination())
        except NotConfiguredError as error:
            return self.skipped(str(error))
        except Exception as error:
            return Outcome(self.name, "", Status.FAILED, f"cannot read destination: {error}", retryable=True)
        return self.skipped(found) if isinstance(found, str) else found

    def send(self, result: Result) -> Outcome:
        found = self._destination()
        if isinstance(found, Outcome):
            return found
        key, url = found
        return self.post(url, render(result, key))

    def resolve(self, incident: str, why: str) -> Outcome:
        found = self._destination()
        if isinstance(found, Outcome):
            return found
        key, url = found
        outcome = self.post(url, render_resolve(incident, key))
        return replace(outcome, detail=f"resolve ({why}): {outcome.detail}")

    def post(self, url: str, payload: dict[str, Any]) -> Outcome:
        delivery = self.transport.post_json(url, payload)
        host = urlsplit(url).netloc
        if delivery.ok:
            return Outcome(self.name, host, Status.DONE, delivery.detail)
        if delivery.status in FINAL_STATUSES:
            why = f"HTTP {delivery.status}, PagerDuty refused the event: {_refusal(delivery)}; not retried"
            return Outcome(self.name, host, Status.FAILED, why, retryable=False)
        return Outcome(self.name, host, Status.FAILED, delivery.detail, retryable=True)
