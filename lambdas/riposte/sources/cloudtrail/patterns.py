"""The EventBridge patterns that route CloudTrail events to the responder, generated from what the detections
listen to, so that adding a detection updates the deployed rules.

- One pattern per EventBridge source and detail-type, naming its event sources and event names (exact, or by
  prefix for Lambda's versioned names). All names of the catalogue in one pattern exceed EventBridge's
  2048-character limit; per service they fit, and a pattern that would not is split.
- Read-only events (GetSecretValue, GetPasswordData...) get patterns of their own, marked ``"readOnly": [true]``:
  EventBridge delivers read-only management events only to rules in state
  ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, which the stack must set on exactly those rules.
- A detection listening to any call (root usage, refused calls) gets its content filter over every service the
  catalogue knows plus a few more (``EXTRA_EVENT_SOURCES``): the responder accepts only routes some pattern names.
  Its rule needs the same state: root's ListBuckets and a refused DescribeInstances are read-only calls.
- Every pattern leaves out calls an AWS service made on a principal's behalf (``userIdentity.invokedBy``, e.g.
  CloudFormation deploying a stack): the source never raises a detection on them, so they need not travel.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from riposte.sources.cloudtrail.detections.base import ANY_SOURCE, Detection
from riposte.sources.cloudtrail.record import API_CALL, eventbridge_source

# EventBridge's default limit on a pattern's size (adjustable to 4096 by a quota request; we do not rely on it).
MAX_PATTERN_CHARS = 2048

# Services beyond the catalogue's own on which root use and refused calls are worth seeing.
EXTRA_EVENT_SOURCES = (
    "account.amazonaws.com",
    "bedrock.amazonaws.com",
    "billing.amazonaws.com",
    "cloudformation.amazonaws.com",
    "dynamodb.amazonaws.com",
    "ecr.amazonaws.com",
    "ecs.amazonaws.com",
    "eks.amazonaws.com",
    "ses.amazonaws.com",
    "sns.amazonaws.com",
    "sqs.amazonaws.com",
    "sso.amazonaws.com",
    "sts.amazonaws.com",
)

Pattern = dict[str, Any]

# Matches records without userIdentity.invokedBy (also those without userIdentity at all).
NOT_INVOKED_BY_A_SERVICE: dict[str, Any] = {"invokedBy": [{"exists": False}]}


@dataclass
class _Service:
    event_sources: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)


def size(pattern: Mapping[str, Any]) -> int:
    """Characters of the pattern as JSON, spaced as json.dumps does (more than EventBridge counts)."""
    return len(json.dumps(pattern))


def _service_pattern(key: tuple[str, str, bool], service: _Service) -> Pattern:
    source, detail_type, read_only = key
    names: list[Any] = sorted(service.names) + [{"prefix": p} for p in sorted(service.prefixes)]
    detail: dict[str, Any] = {
        "eventSource": sorted(service.event_sources),
        "eventName": names,
        "userIdentity": dict(NOT_INVOKED_BY_A_SERVICE),
    }
    if read_only:
        detail["readOnly"] = [True]
    return {"source": [source], "detail-type": [detail_type], "detail": detail}


def _split(pattern: Pattern) -> list[Pattern]:
    """``pattern``, or halves of its longest list (event names or sources) until each half fits."""
    if size(pattern) <= MAX_PATTERN_CHARS:
        return [pattern]
    names = pattern["detail"].get("eventName", [])
    sources = pattern["source"]
    if len(names) < 2 and len(sources) < 2:
        raise ValueError(f"an EventBridge pattern cannot be split below {MAX_PATTERN_CHARS} characters: {pattern}")
    halves: list[Pattern] = []
    if len(names) >= len(sources):
        for part in (names[: len(names) // 2], names[len(names) // 2 :]):
            halves.append({**pattern, "detail": {**pattern["detail"], "eventName": part}})
    else:
        for part in (sources[: len(sources) // 2], sources[len(sources) // 2 :]):
            halves.append({**pattern, "source": part})
    return [piece for half in halves for piece in _split(half)]


def generate(detections: Iterable[type[Detection]]) -> tuple[Pattern, ...]:
    services: dict[tuple[str, str, bool], _Service] = {}
    contents: dict[str, Mapping[str, Any]] = {}
    for detection in detections:
        for listen in detection.listens:
            if listen.event_source == ANY_SOURCE:
                contents.setdefault(json.dumps(listen.content, sort_keys=True), listen.content)
                continue
            key = (eventbridge_source(listen.event_source), listen.detail_type, listen.read_only)
            service = services.setdefault(key, _Service())
            service.event_sources.add(listen.event_source)
            service.names.update(listen.names)
            service.prefixes.update(listen.prefixes)

    patterns = [_service_pattern(key, services[key]) for key in sorted(services)]
    known = {source for source, detail_type, _ in services if detail_type == API_CALL}
    every_source = sorted(known | {eventbridge_source(s) for s in EXTRA_EVENT_SOURCES})
    for _, content in sorted(contents.items()):
        detail = {**content, "userIdentity": {**content.get("userIdentity", {}), **NOT_INVOKED_BY_A_SERVICE}}
        patterns.append({"source": every_source, "detail-type": [API_CALL], "detail": detail})
    return tuple(piece for pattern in patterns for piece in _split(pattern))


def read_only(pattern: Mapping[str, Any]) -> bool:
    """True for the patterns of read-only events: their rule needs ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS."""
    detail = pattern.get("detail")
    return isinstance(detail, Mapping) and detail.get("readOnly") == [True]


def needs_every_management_event(pattern: Mapping[str, Any]) -> bool:
    """True for the rules to create in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: in state ENABLED,
    EventBridge delivers no read-only management event (Get*, List*, Describe*). That is every pattern of
    read-only events, and every pattern of API calls that names no event (root usage, refused calls)."""
    detail = pattern.get("detail")
    if not isinstance(detail, Mapping):
        return False
    if detail.get("readOnly") == [True]:
        return True
    return list(pattern.get("detail-type", [])) == [API_CALL] and "eventName" not in detail
