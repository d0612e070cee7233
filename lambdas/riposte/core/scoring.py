"""Score a normalized event 0-100 and say why, one reason per contribution.

The base is the source's own severity (0-10 -> 0-100, named in the source's own words); modifiers are small,
named and additive so that every number in a Slack message can be traced to a sentence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from riposte.core.model import (
    SIGNAL_ALREADY_BLOCKED,
    SIGNAL_ARCHIVED,
    SIGNAL_OWN_ACTIVITY,
    SIGNAL_RESOLVED,
    SIGNAL_SAMPLE,
    SIGNAL_THREAT_INTEL,
    Score,
    SecurityEvent,
)

REPEAT_COUNT = 10


def _base(event: SecurityEvent) -> tuple[int, str]:
    if event.native_severity is None:
        return 0, f"{event.source} gives no severity: base 0"
    # Floor, not round: a severity's band is decided by its own value (GuardDuty 6.95 is Medium, and must not
    # become 70, high). The epsilon absorbs binary noise such as 0.7 * 10 = 7.000000000000001.
    points = math.floor(event.native_severity * 10 + 1e-9)
    note = event.severity_note or f"{event.source} severity {event.native_severity:g}"
    return points, f"{note}: base {points}"


Modifier = Callable[[SecurityEvent], tuple[int, str] | None]


def _threat_intel(event: SecurityEvent) -> tuple[int, str] | None:
    if SIGNAL_THREAT_INTEL in event.signals:
        return 10, "remote address is on a threat-intelligence list: +10"
    return None


def _repeated(event: SecurityEvent) -> tuple[int, str] | None:
    if event.count >= REPEAT_COUNT:
        return 5, f"seen {event.count} times: +5"
    return None


def _already_blocked(event: SecurityEvent) -> tuple[int, str] | None:
    if SIGNAL_ALREADY_BLOCKED in event.signals:
        return -10, "traffic was already blocked by a security group or ACL: -10"
    return None


MODIFIERS: tuple[Modifier, ...] = (_threat_intel, _repeated, _already_blocked)


# Scores of events that are not live activity stop here: low at most, never acted on.
NOT_LIVE_CAP = 30
NOT_LIVE = (
    (SIGNAL_SAMPLE, "a sample, not live activity"),
    (SIGNAL_ARCHIVED, "archived by a person"),
    (SIGNAL_RESOLVED, "resolved by its source"),
)


def score(event: SecurityEvent, context: Sequence[tuple[int, str]] = ()) -> Score:
    """The event's score. ``context`` adds contributions the event alone cannot know (state and configuration:
    asset criticality, repeat offenders, other sources' sightings), each ``(points, reason)``."""
    total, reason = _base(event)
    reasons = [reason]
    found = [m(event) for m in MODIFIERS]
    for points, why in [f for f in found if f is not None] + list(context):
        total += points
        reasons.append(why)
    clamped = max(0, min(100, total))
    if clamped != total:
        reasons.append(f"clamped to {clamped}")
    if SIGNAL_OWN_ACTIVITY in event.signals:
        return Score(value=0, reasons=(*reasons, "made by Riposte's own role: its remediation, not a detection"))
    for signal, what in NOT_LIVE:
        if signal in event.signals and clamped > NOT_LIVE_CAP:
            clamped = NOT_LIVE_CAP
            reasons.append(f"{what}: capped at {NOT_LIVE_CAP} (low), never acted on")
    return Score(value=clamped, reasons=tuple(reasons))
