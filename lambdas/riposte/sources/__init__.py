"""Registry of event sources. Add a source: a module here with a class registered in ``SOURCES``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riposte.model import SecurityEvent
from riposte.registry import Registry
from riposte.sources.base import InputError, Source

SOURCES: Registry[Source] = Registry("source")

# Built-in sources, imported here so that registration is visible in one place.
from riposte.sources import guardduty  # noqa: E402,F401

__all__ = ["SOURCES", "InputError", "Source", "detect", "normalize"]


def detect(raw: Any) -> Source:
    if not isinstance(raw, Mapping):
        raise InputError(f"an event must be a JSON object, got {type(raw).__name__}")
    for _, source in SOURCES:
        if source.matches(raw):
            return source
    raise InputError(f"unrecognized event shape; known sources: {', '.join(SOURCES.names())} (use --source to force)")


def normalize(raw: Any, source: str | None = None) -> SecurityEvent:
    chosen = SOURCES.get(source) if source else detect(raw)
    if source and not isinstance(raw, Mapping):  # detect() has already checked otherwise
        raise InputError(f"an event must be a JSON object, got {type(raw).__name__}")
    return chosen.normalize(raw)
