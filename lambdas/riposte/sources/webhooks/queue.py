"""The webhook queue's message format, version 1: the events themselves, serialized, in a versioned envelope.

    {"kind": "riposte.webhook-events", "version": 1, "tool": "datadog", "received_at": "2026-05-12T09:15:05Z",
     "request_id": "...", "events": [{"source": "webhooks:datadog", "id": "...", "subject": "...", "type": "...",
     "title": "...", "description": "...", "kind": "alert", "native_severity": 8.0, "severity_note": "...",
     "account": null, "region": null, "time": "...", "count": 1, "signals": ["resolved"],
     "evidence": [["Monitor", "98765499"]], "asset_criticality": "",
     "parties": [{"kind": "ip", "value": "45.13.105.20", "role": "actor", "network": true}]}]}

Why the events and not the raw body: the front door already parsed hostile input under strict limits and checked
signatures (SNS cannot be re-checked later without the network); the responder gets plain values to validate,
never a tool's payload, and the mapping that produced them is the one the sender's reply described. A request
becomes one message, or a few when its events would not fit in one (SQS takes 256 KiB).

``from_queue_message`` is what the responder calls for records of this queue only; it validates everything
again (types, lengths, canonical addresses, a ``webhooks:<tool>`` source for a known tool) and raises
``InputError`` on anything else, so a malformed record fails and ends in the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from riposte.core.model import PARTY_KINDS, Entities, EventKind, Party, Role, SecurityEvent
from riposte.sources.base import InputError
from riposte.sources.webhooks import addresses
from riposte.sources.webhooks.base import ADAPTERS, MAX_DESCRIPTION, MAX_EVIDENCE, MAX_TITLE, source_name
from riposte.sources.webhooks.errors import WebhookError

KIND = "riposte.webhook-events"
VERSION = 1
# Below SQS's 256 KiB, leaving room for attributes and JSON escaping differences.
MAX_MESSAGE_BYTES = 200 * 1024
MAX_EVENTS_PER_MESSAGE = 1000

Text = Annotated[str, Field(max_length=2048)]
Label = Annotated[str, Field(max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PartyV1(_Strict):
    kind: str
    value: Annotated[str, Field(min_length=1, max_length=2048)]
    role: Role
    network: bool = False

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in PARTY_KINDS:
            raise ValueError(f"unknown party kind {value!r}")
        return value


class EventV1(_Strict):
    source: Annotated[str, Field(pattern=r"^webhooks:[a-z0-9_]{1,32}$")]
    id: Annotated[str, Field(min_length=1, max_length=512)]
    subject: Annotated[str, Field(max_length=512)] = ""
    type: Annotated[str, Field(max_length=MAX_TITLE)]
    title: Annotated[str, Field(max_length=MAX_TITLE)]
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    kind: EventKind
    native_severity: Annotated[float, Field(ge=0, le=10)] | None = None
    severity_note: Text = ""
    account: Annotated[str, Field(max_length=64)] | None = None
    region: Annotated[str, Field(max_length=64)] | None = None
    time: Annotated[str, Field(max_length=64)] | None = None
    count: Annotated[int, Field(ge=1)] = 1
    signals: tuple[Annotated[str, Field(max_length=64)], ...] = ()
    evidence: tuple[
        tuple[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=MAX_EVIDENCE)]], ...
    ] = ()
    asset_criticality: Annotated[str, Field(max_length=16)] = ""
    parties: tuple[PartyV1, ...] = Field(default=(), max_length=1000)


class EnvelopeV1(_Strict):
    kind: Literal["riposte.webhook-events"]
    version: Literal[1]
    tool: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
    received_at: Text = ""
    request_id: Text = ""
    events: tuple[EventV1, ...] = Field(min_length=1, max_length=MAX_EVENTS_PER_MESSAGE)


def event_dict(event: SecurityEvent) -> dict[str, Any]:
    return {
        "source": event.source,
        "id": event.id,
        "subject": event.subject,
        "type": event.type,
        "title": event.title,
        "description": event.description,
        "kind": str(event.kind),
        "native_severity": event.native_severity,
        "severity_note": event.severity_note,
        "account": event.account,
        "region": event.region,
        "time": event.time,
        "count": event.count,
        "signals": sorted(event.signals),
        "evidence": [list(pair) for pair in event.evidence],
        "asset_criticality": event.asset_criticality,
        "parties": [party.as_dict() for party in event.entities.parties],
    }


def _envelope(tool: str, events: Sequence[dict[str, Any]], received_at: str, request_id: str) -> str:
    return json.dumps(
        {
            "kind": KIND,
            "version": VERSION,
            "tool": tool,
            "received_at": received_at,
            "request_id": request_id,
            "events": list(events),
        },
        separators=(",", ":"),
    )


def to_queue_messages(
    tool: str, events: Sequence[SecurityEvent], *, received_at: str = "", request_id: str = ""
) -> list[str]:
    """The message bodies for one request's events: as few as fit under ``MAX_MESSAGE_BYTES`` each."""
    messages: list[str] = []
    batch: list[dict[str, Any]] = []
    overhead = len(_envelope(tool, [], received_at, request_id).encode())
    size = overhead
    for event in events:
        item = event_dict(event)
        item_size = len(json.dumps(item, separators=(",", ":")).encode()) + 1  # and its comma
        if batch and size + item_size > MAX_MESSAGE_BYTES:
            messages.append(_envelope(tool, batch, received_at, request_id))
            batch, size = [], overhead
        batch.append(item)
        size += item_size
    if batch:
        messages.append(_envelope(tool, batch, received_at, request_id))
    return messages


def _party(party: PartyV1, where: str) -> Party:
    if party.kind == "ip":
        try:
            canonical = addresses.parse(party.value, min_prefix_v4=0, min_prefix_v6=0)
        except WebhookError as error:
            raise InputError(f"{where}: {error}") from None
        if canonical != party.value:
            raise InputError(f"{where}: address {party.value!r} is not in canonical form ({canonical})")
    return Party(party.kind, party.value, party.role, party.network)


def _event(item: EventV1, tool: str, index: int) -> SecurityEvent:
    if item.source != source_name(tool):
        raise InputError(f"events[{index}].source: {item.source!r} does not match the message's tool {tool!r}")
    parties = [_party(p, f"events[{index}].parties[{n}]") for n, p in enumerate(item.parties)]
    return SecurityEvent(
        source=item.source,
        id=item.id,
        subject=item.subject,
        type=item.type,
        title=item.title,
        description=item.description,
        kind=item.kind,
        native_severity=item.native_severity,
        severity_note=item.severity_note,
        account=item.account,
        region=item.region,
        time=item.time,
        count=item.count,
        signals=frozenset(item.signals),
        evidence=item.evidence,
        asset_criticality=item.asset_criticality,
        entities=Entities.of(parties),
    )


def from_queue_message(body: str) -> list[SecurityEvent]:
    """The security events in one webhook queue message; ``InputError`` for anything but a valid version 1."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        raise InputError("webhook queue message is not valid JSON") from None
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise InputError(f"not a webhook queue message (kind must be {KIND!r})")
    if raw.get("version") != VERSION:
        raise InputError(f"unsupported webhook queue message version {raw.get('version')!r}; this code reads {VERSION}")
    try:
        envelope = EnvelopeV1.model_validate_json(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)[:5]
        )
        raise InputError(f"invalid webhook queue message: {problems}") from None
    if envelope.tool not in ADAPTERS:
        raise InputError(f"webhook queue message names an unknown tool {envelope.tool!r}")
    return [_event(item, envelope.tool, index) for index, item in enumerate(envelope.events)]
