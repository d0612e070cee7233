"""Registry of event sources. Add one: a module here whose ``Source`` subclass is decorated with
``@SOURCES.register``, and its module name in ``BUILTINS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riposte.core.model import SecurityEvent
from riposte.core.registry import Registry
from riposte.sources.base import InputError, Source

BUILTINS = ("riposte.sources.guardduty",)

SOURCES: Registry[type[Source]] = Registry("source", BUILTINS)

__all__ = ["SOURCES", "InputError", "Source", "detect", "normalize"]


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
