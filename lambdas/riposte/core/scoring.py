"""Score a normalized event 0-100 and say why, one reason per contribution.

The base is the source's own severity (0-10 -> 0-100, named in the source's own words); modifiers are small,
named and additive so that every number in a Slack message can be traced to a sentence.
"""

from __future__ import annotations

from collections.abc import Callable

from riposte.core.model import SIGNAL_ALREADY_BLOCKED, SIGNAL_THREAT_INTEL, Score, SecurityEvent

REPEAT_COUNT = 10


def _base(event: SecurityEvent) -> tuple[int, str]:
    if event.native_severity is None:
        return 0, f"{event.source} gives no severity: base 0"
    points = round(event.native_severity * 10)
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


def score(event: SecurityEvent) -> Score:
    total, reason = _base(event)
    reasons = [reason]
    for modifier in MODIFIERS:
        if (found := modifier(event)) is not None:
            points, why = found
            total += points
            reasons.append(why)
    clamped = max(0, min(100, total))
    if clamped != total:
        reasons.append(f"clamped to {clamped}")
    return Score(value=clamped, reasons=tuple(reasons))
