"""The pure half of the pipeline: raw event -> normalized -> scored -> planned. No AWS, no network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from riposte import sources
from riposte.core import guard, scoring
from riposte.core.config import Config
from riposte.core.model import SIGNAL_OWN_ACTIVITY, Plan, Role, SecurityEvent
from riposte.engine import policy


def plan(raw: Any, config: Config, source: str | None = None) -> Plan:
    """Any shape the CLI reads: EventBridge events, bare findings, ``get-findings`` items."""
    return plan_event(sources.normalize(raw, source), config)


def plan_event(
    event: SecurityEvent,
    config: Config,
    context: Sequence[tuple[int, str]] = (),
    own: guard.OwnAddresses = (),
) -> Plan:
    event = mark_own_activity(event, config)
    return policy.decide(event, scoring.score(event, context), config, own)


def mark_own_activity(event: SecurityEvent, config: Config) -> SecurityEvent:
    """Calls made by Riposte's own roles (``cloudtrail.ignore_principals``: the runtime adds the responder's
    role and the member role) come back through CloudTrail: mark them so they raise nothing."""
    patterns = config.cloudtrail.ignore_principals
    if not patterns:
        return event
    actors = event.entities.having("principal", Role.ACTOR)
    if any(fnmatchcase(actor, pattern) for actor in actors for pattern in patterns):
        return replace(event, signals=event.signals | {SIGNAL_OWN_ACTIVITY})
    return event
