"""The webhook queue's message format: what the front door writes, the responder reads back exactly, and
anything else it refuses."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from riposte.core.config import Config
from riposte.engine import setup
from riposte.sources import InputError
from riposte.sources.webhooks import from_queue_message, map_body, to_queue_messages
from riposte.sources.webhooks.queue import MAX_MESSAGE_BYTES
from tests.webhooks_samples import body

SAMPLES = [
    ("alertmanager", "alertmanager_firing.json"),
    ("alertmanager", "alertmanager_resolved.json"),
    ("datadog", "datadog_default.json"),
    ("grafana", "grafana_firing.json"),
    ("sns", "sns_notification_cloudwatch_alarm.json"),
    ("sumologic", "sumologic_string_results.json"),
    ("generic", "generic_list.json"),
]


@pytest.mark.parametrize(("tool", "sample"), SAMPLES)
def test_events_survive_the_queue_unchanged(tool: str, sample: str) -> None:
    events = map_body(tool, body(sample), setup.check(Config()))
    (message,) = to_queue_messages(tool, events, received_at="2026-05-12T09:15:05Z", request_id="r-1")
    assert from_queue_message(message) == events


def envelope(**changes: Any) -> dict[str, Any]:
    events = map_body("generic", body("generic_single.json"), setup.check(Config()))
    data: dict[str, Any] = json.loads(to_queue_messages("generic", events)[0])
    data.update(changes)
    return data


def event_with(**changes: Any) -> str:
    data = envelope()
    data["events"][0].update(changes)
    return json.dumps(data)


def test_the_envelope_is_versioned_and_names_its_kind() -> None:
    data = envelope()
    assert (data["kind"], data["version"], data["tool"]) == ("riposte.webhook-events", 1, "generic")
    assert data["events"][0]["parties"] == [{"kind": "ip", "value": "193.32.162.7", "role": "actor", "network": True}]


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("not json", "not valid JSON"),
        ("[]", "not a webhook queue message"),
        (json.dumps({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {}}), "not a webhook"),
        (json.dumps(envelope(version=2)), "unsupported webhook queue message version 2"),
        (json.dumps(envelope(tool="splunk")), "unknown tool 'splunk'"),
        (json.dumps(envelope(events=[])), "events"),
        (json.dumps(envelope(extra=1)), "extra"),
        (event_with(source="guardduty"), "source"),
        (event_with(source="webhooks:datadog"), "does not match the message's tool"),
        (event_with(kind="telepathy"), "kind"),
        (event_with(native_severity=11), "native_severity"),
        (event_with(native_severity="8"), "native_severity"),
        (event_with(count=0), "count"),
        (event_with(title="x" * 301), "title"),
        (
            event_with(parties=[{"kind": "ip", "value": "193.32.162.07", "role": "actor", "network": True}]),
            "leading zero",
        ),
        (event_with(parties=[{"kind": "ip", "value": "2A0D:5600:24::10", "role": "actor"}]), "not in canonical form"),
        (event_with(parties=[{"kind": "ip", "value": "evil.example", "role": "actor"}]), "not an IP address"),
        (event_with(parties=[{"kind": "soul", "value": "x", "role": "actor"}]), "unknown party kind"),
        (event_with(parties=[{"kind": "ip", "value": "193.32.162.7", "role": "overlord"}]), "role"),
    ],
)
def test_anything_but_a_valid_version_1_message_is_refused(message: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        from_queue_message(message)


def test_many_events_are_split_into_messages_that_fit_a_queue_message() -> None:
    report = {
        "ip": [f"45.13.{104 + n // 250}.{n % 250 + 1}" for n in range(100)],
        "reason": "x " * 480,
        "severity": "low",
    }
    events = map_body("generic", json.dumps(report).encode(), setup.check(Config()))
    big = [dataclasses.replace(e, description="word " * 399) for e in events]
    messages = to_queue_messages("generic", big, received_at="t", request_id="r")
    assert len(messages) > 1
    assert all(len(m.encode()) <= MAX_MESSAGE_BYTES for m in messages)
    assert [e for m in messages for e in from_queue_message(m)] == big


def test_one_request_fits_one_message_when_it_can() -> None:
    events = map_body("sumologic", body("sumologic_string_results.json"), setup.check(Config()))
    assert len(to_queue_messages("sumologic", events)) == 1
    assert to_queue_messages("sumologic", []) == []
