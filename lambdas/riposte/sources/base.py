"""What a source is: something that recognizes a raw event's shape and turns it into a ``SecurityEvent``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from riposte.model import SecurityEvent


class InputError(ValueError):
    """A raw event that cannot be processed; the message says why in terms a user can act on."""


class Source(Protocol):
    name: ClassVar[str]
    # The EventBridge pattern that routes this source's events to the responder (None: not an EventBridge source).
    event_pattern: ClassVar[Mapping[str, Any] | None]

    def matches(self, raw: Mapping[str, Any]) -> bool:
        """True when ``raw`` has this source's shape. Cheap: only looks at top-level markers."""
        ...

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        """Validate ``raw`` and map it to the normalized event, or raise ``InputError``."""
        ...
