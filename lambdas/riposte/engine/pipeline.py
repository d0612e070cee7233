"""The pure half of the pipeline: raw event -> normalized -> scored -> planned. No AWS, no network."""

from __future__ import annotations

from typing import Any

from riposte import sources
from riposte.core import scoring
from riposte.core.config import Config
from riposte.core.model import Plan
from riposte.engine import policy


def plan(raw: Any, config: Config, source: str | None = None) -> Plan:
    event = sources.normalize(raw, source)
    return policy.decide(event, scoring.score(event), config)
