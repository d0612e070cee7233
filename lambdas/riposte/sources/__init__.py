"""Registry of event sources. Add one: a module here whose ``Source`` subclass is decorated with
``@SOURCES.register``, and its module name in ``BUILTINS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riposte.core.model import SecurityEvent
from riposte.core.registry import Registry
from riposte.sources import envelopes
from riposte.sources.base import InputError, Source

BUILTINS = (
    "riposte.sources.cloudtrail",
    "riposte.sources.flowlogs",
    "riposte.sources.guardduty.source",
    "riposte.sources.webhooks.source",
)

SOURCES: Registry[type[Source]] = Registry("source", BUILTINS)

__all__ = ["SOURCES", "InputError", "Source", "detect", "from_eventbridge", "normalize"]

# PutEvents refuses a Source that starts with "aws.": only AWS services publish such events.
AWS_SOURCE_PREFIX = "aws."


def detect(raw: Any) -> Source:
    if not isinstance(raw, Mapping):
        raise InputError(f"an event must be a JSON object, got {type(raw).__name__}")
    for _, cls in SOURCES:
        source = cls()
        if source.matches(raw):
            return source
    raise InputError(f"unrecognized event shape; known sources: {', '.join(SOURCES.names())} (use --source to force)")


def normalize(raw: Any, source: str | None = None) -> SecurityEvent:
    chosen = SOURCES.get(source)() if source else detect(raw)
    if source and not isinstance(raw, Mapping):  # detect() has already checked otherwise
        raise InputError(f"an event must be a JSON object, got {type(raw).__name__}")
    return chosen.normalize(raw)


def from_eventbridge(raw: Any) -> SecurityEvent:
    """The responder's only way in: an EventBridge event whose ``source`` AWS itself set, dispatched on its
    (source, detail-type) to the registered source that declares that route. A bare payload, a custom source or
    an unknown detail-type is refused: whoever can put a message on the queue cannot make Riposte act."""
    if not isinstance(raw, Mapping) or not envelopes.is_eventbridge(raw):
        raise InputError("not an EventBridge event; the responder accepts only events that AWS services publish")
    envelope = envelopes.eventbridge(raw)
    if not envelope.source.startswith(AWS_SOURCE_PREFIX):
        raise InputError(f"event source {envelope.source!r} is not set by AWS; refused")
    route = (envelope.source, envelope.detail_type)
    for _, cls in SOURCES:
        if route in cls.routes():
            return cls().normalize(raw)
    raise InputError(f"no source handles {envelope.source!r} events of detail-type {envelope.detail_type!r}")
