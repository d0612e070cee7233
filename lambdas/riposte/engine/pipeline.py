"""The pure half of the pipeline: raw event -> normalized -> scored -> planned. No AWS, no network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from riposte import sources
from riposte.core import guard, scoring
from riposte.core.config import Config
from riposte.core.model import Plan, SecurityEvent
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
    return policy.decide(event, scoring.score(event, context), config, own)
