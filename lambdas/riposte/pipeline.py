"""The pure half of the pipeline: raw event -> normalized -> scored -> planned. No AWS, no network."""

from __future__ import annotations

from typing import Any

from riposte import policy, scoring, sources
from riposte.config import Config
from riposte.model import Plan


def plan(raw: Any, config: Config, source: str | None = None) -> Plan:
    event = sources.normalize(raw, source)
    return policy.decide(event, scoring.score(event), config)
