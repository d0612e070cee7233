"""Context that moves a score: what the event alone cannot know, from the state store and the configuration.

Each contribution is ``(points, reason)`` and appears in the score's reasons:
- a burst the event is one occurrence of (``event.tally``: failed logins, secret reads) once its threshold is met;
- a repeat offender: the same attacker (address, principal) in several events within a window;
- correlation: another source (GuardDuty, CloudTrail, flow logs, a webhook) saw the same address or principal;
- asset criticality: a resource matching ``scoring.critical_resources`` or tagged ``riposte:criticality``.
Counts live in the state store (DynamoDB in AWS, memory in the CLI), never in process memory alone.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from riposte.core.config import Config
from riposte.core.model import NO_ACTION_SIGNALS, Role, SecurityEvent
from riposte.core.ports import StatePort

REPEAT_POINTS = 5
CORRELATION_POINTS = 10
CRITICALITY_POINTS = {"critical": 15, "high": 10}
CONFIGURED_CRITICAL_POINTS = 10
# The parties whose reappearance means something: who acts on us.
ATTACKER_KINDS = ("ip", "principal", "access_key", "account")


def _burst(event: SecurityEvent, state: StatePort, now: float) -> list[tuple[int, str]]:
    tally = event.tally
    if tally is None:
        return []
    count = state.hit(f"tally#{tally.key}", event.id, tally.window_seconds, now)
    window = f"{tally.window_seconds // 60} min" if tally.window_seconds >= 60 else f"{tally.window_seconds} s"
    if count >= tally.threshold:
        why = f"{tally.label}: {count} within {window} (threshold {tally.threshold}): +{tally.points}"
        return [(tally.points, why)]
    return [(0, f"{tally.label}: {count} of {tally.threshold} within {window}, not yet a burst")]


def _attackers(event: SecurityEvent) -> list[str]:
    return [f"{p.kind}#{p.value}" for p in event.entities.parties if p.role is Role.ACTOR and p.kind in ATTACKER_KINDS]


def _repeat(event: SecurityEvent, config: Config, state: StatePort, now: float) -> list[tuple[int, str]]:
    window = config.scoring.repeat_window_hours * 3600
    worst = max(
        ((state.hit(f"offender#{key}", event.subject or event.id, window, now), key) for key in _attackers(event)),
        default=(0, ""),
    )
    count, key = worst
    if count >= config.scoring.repeat_offender_events:
        who = key.split("#", 1)[1]
        hours = config.scoring.repeat_window_hours
        return [(REPEAT_POINTS, f"repeat offender: {who} in {count} events within {hours}h: +{REPEAT_POINTS}")]
    return []


def _correlation(event: SecurityEvent, config: Config, state: StatePort, now: float) -> list[tuple[int, str]]:
    window = config.scoring.correlation_window_minutes * 60
    for key in _attackers(event):
        others = sorted(state.sighting(key, event.source, now, window) - {event.source})
        if others:
            who = key.split("#", 1)[1]
            minutes = config.scoring.correlation_window_minutes
            return [
                (
                    CORRELATION_POINTS,
                    f"{who} also seen by {', '.join(others)} within {minutes} min: +{CORRELATION_POINTS}",
                )
            ]
    return []


def _criticality(event: SecurityEvent, config: Config) -> list[tuple[int, str]]:
    tagged = event.asset_criticality.lower()
    if tagged in CRITICALITY_POINTS:
        points = CRITICALITY_POINTS[tagged]
        return [(points, f"resource tagged riposte:criticality={tagged}: +{points}")]
    ours = [p.value for p in event.entities.parties if p.role in (Role.AFFECTED, Role.COMPROMISED)]
    for value in ours:
        for pattern in config.scoring.critical_resources:
            if fnmatchcase(value, pattern):
                points = CONFIGURED_CRITICAL_POINTS
                return [(points, f"{value} is a critical resource ({pattern}): +{points}")]
    return []


def gather(event: SecurityEvent, config: Config, state: StatePort, now: float) -> list[tuple[int, str]]:
    """The context contributions for ``event``, recording its sightings and counts as a side effect (so each
    event must be gathered once: the runner's callers do it when they first see the event)."""
    found = _criticality(event, config) + _burst(event, state, now)
    if event.signals & NO_ACTION_SIGNALS:
        return found  # samples and archived findings do not make anyone a repeat offender
    return found + _repeat(event, config, state, now) + _correlation(event, config, state, now)
