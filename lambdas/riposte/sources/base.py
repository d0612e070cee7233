"""What a source is: something that recognizes a payload's shape and maps it to a ``SecurityEvent``.

Transport envelopes (EventBridge, SQS, SNS, Kinesis, API Gateway, CloudWatch Logs) are unwrapped before a
source sees anything (``sources.envelopes``); a source maps its own payload only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from riposte.core.config import Config
from riposte.core.model import SecurityEvent


class InputError(ValueError):
    """A raw event that cannot be processed; the message says why in terms a user can act on."""


class Source(ABC):
    name: ClassVar[str]
    # EventBridge patterns that route this source's events to the responder (one rule each; none: not an
    # EventBridge source). Each names its "source" and "detail-type" lists: the responder only accepts
    # envelopes whose (source, detail-type) a registered source declares.
    event_patterns: ClassVar[tuple[Mapping[str, Any], ...]] = ()

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        """Problems with ``config`` for this source, each ``"<field>: <message>"``."""
        return []

    @classmethod
    def routes(cls) -> frozenset[tuple[str, str]]:
        """The (source, detail-type) pairs this source's patterns admit."""
        return frozenset(
            (source, detail_type)
            for pattern in cls.event_patterns
            for source in pattern["source"]
            for detail_type in pattern["detail-type"]
        )

    @abstractmethod
    def matches(self, raw: Mapping[str, Any]) -> bool:
        """True when ``raw`` has this source's shape. Cheap: only looks at top-level markers."""

    @abstractmethod
    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        """Validate ``raw`` and map it to the normalized event, or raise ``InputError``."""
