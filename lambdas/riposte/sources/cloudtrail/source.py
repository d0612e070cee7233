"""CloudTrail as a source: one record -> one ``SecurityEvent``, named after the most severe detection that fired.

Accepted shapes: an EventBridge event of a CloudTrail detail-type (the responder receives only "AWS API Call via
CloudTrail" and "AWS Console Sign In via CloudTrail", by the generated patterns), or a bare record (CloudWatch
Logs delivery, a record taken from an S3 log file). An S3 log file (``{"Records": [...]}``) holds many records:
its reader hands them over one at a time (``records()``).

The event:
- ``id`` ``cloudtrail:<eventID>`` and ``subject`` the eventID: a redelivered or duplicated record (two rules can
  deliver the same call) is processed and announced once.
- Several detections on one record: the most severe names the event; all appear in the evidence and the note.
  None: an info event (native severity 0, type ``cloudtrail:<eventSource>:<eventName>``).
- Native severity on GuardDuty's 0-10 scale (low 3, medium 5, high 7.5 or 8.5 when the detection pages,
  critical 9); one occurrence of a burst is 2, with a ``Tally`` the engine counts in the state store.
- Parties: the caller as actor (the role behind an assumed-role session; a failed sign-in's user is the target,
  not the actor), its access key (compromised when a detection fired), the source address when it is an IP
  (an API caller: ``network=False``, it never crosses a network ACL), foreign accounts let in as actors, the
  resources acted on and our account as affected.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import ValidationError

from riposte.core.model import Entities, EventKind, Party, Role, SecurityEvent, Severity, Tally
from riposte.sources import SOURCES, envelopes
from riposte.sources.base import InputError, Source
from riposte.sources.cloudtrail import patterns
from riposte.sources.cloudtrail.detections.base import (
    ANY_SOURCE,
    DETECTIONS,
    MIN_BURST_POINTS,
    OCCURRENCE,
    RANK,
    Context,
    Detection,
    Hit,
    native_severity,
)
from riposte.sources.cloudtrail.record import DETAIL_TYPES, INSIGHT, INSIGHT_EVENT_TYPE, Record

# Until the source is handed the configuration, detections run with the defaults: only our own account is
# trusted, no address is corporate, no VPC is declared isolated.
DEFAULT_CONTEXT = Context()

Fired = tuple[type[Detection], Hit]


def records(data: Any) -> Iterator[Any]:
    """The records of a CloudTrail log file as delivered to S3 (``{"Records": [...]}``), one at a time."""
    if isinstance(data, Mapping) and isinstance(data.get("Records"), list):
        yield from data["Records"]


def _insight(detail: Mapping[str, Any]) -> InputError:
    found = detail.get("insightDetails")
    found = found if isinstance(found, Mapping) else {}
    what = " ".join(str(found.get(k, "")) for k in ("insightType", "eventSource", "eventName", "state")).strip()
    return InputError(
        f"cloudtrail: a CloudTrail Insights event ({what or 'no details'}): an unusual rate of calls or errors, "
        "which no Riposte detection reads; not evaluated"
    )


def parse(raw: Mapping[str, Any]) -> Record:
    if envelopes.is_eventbridge(raw):
        envelope = envelopes.eventbridge(raw)
        if envelope.detail_type == INSIGHT:
            raise _insight(envelope.detail)
        if envelope.detail_type not in DETAIL_TYPES:
            raise InputError(f"cloudtrail: detail-type {envelope.detail_type!r} is not a CloudTrail one")
        detail: Mapping[str, Any] = envelope.detail
    elif isinstance(raw.get("Records"), list):
        raise InputError(
            f"cloudtrail: a log file of {len(raw['Records'])} records; read its records one at a time "
            "(riposte.sources.cloudtrail.records)"
        )
    else:
        detail = raw
    if detail.get("eventType") == INSIGHT_EVENT_TYPE:
        raise _insight(detail)
    try:
        return Record.model_validate(detail)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False))
        raise InputError(f"cloudtrail: invalid record: {problems}") from None


@SOURCES.register
class CloudTrailSource(Source):
    name: ClassVar[str] = "cloudtrail"
    event_patterns: ClassVar[tuple[Mapping[str, Any], ...]] = patterns.generate(d for _, d in DETECTIONS)

    def matches(self, raw: Mapping[str, Any]) -> bool:
        if envelopes.is_eventbridge(raw):
            return raw.get("detail-type") in DETAIL_TYPES or raw.get("detail-type") == INSIGHT
        if isinstance(raw.get("Records"), list) or raw.get("eventType") == INSIGHT_EVENT_TYPE:
            return True
        return "eventSource" in raw and "eventName" in raw and ("eventVersion" in raw or "userIdentity" in raw)

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        return to_event(parse(raw), DEFAULT_CONTEXT)


def not_evaluated(r: Record) -> str | None:
    """Why a record is everyday activity whatever it does: AWS acting, not a person or a workload's credentials."""
    identity = r.user_identity
    if identity.invoked_by:
        return f"called by {identity.invoked_by} on the principal's behalf"
    if identity.type == "AWSService":
        return "an AWS service acting with its own role"
    if (r.event_type or "").lower() == "awsserviceevent":
        return "an AWS service event"
    if "/aws-service-role/" in (identity.issuer_arn or ""):
        return "a service-linked role"
    return None


def evaluate(r: Record, context: Context) -> list[Fired]:
    if not_evaluated(r):
        return []
    return [(d, hit) for _, d in DETECTIONS if (hit := d.evaluate(r, context)) is not None]


def _specific(detection: type[Detection]) -> int:
    """Detections naming their calls outrank catch-alls (root usage, refused calls) of the same severity."""
    return int(all(listen.event_source != ANY_SOURCE for listen in detection.listens))


def _rank(fired: Fired) -> tuple[int, int]:
    detection, hit = fired
    # One occurrence of a burst is low on its own.
    severity = Severity.LOW if detection.burst else detection.severity_of(hit)
    return RANK[severity], _specific(detection)


def _burst_rank(fired: Fired) -> tuple[int, int]:
    detection, hit = fired
    return RANK[detection.severity_of(hit)], _specific(detection)


def _native(fired: list[Fired]) -> float:
    single = [native_severity(d.severity_of(h), d.response) for d, h in fired if not d.burst]
    if single:
        return max(single)
    return OCCURRENCE if fired else 0.0


def _tally(r: Record, fired: list[Fired], native: float) -> Tally | None:
    """The burst this record is one occurrence of (the most severe, when several count it). Its points bring the
    score to the burst's severity once the threshold is met, and add at least a little on a record another
    detection already scores higher."""
    for detection, hit in sorted((f for f in fired if f[0].burst), key=_burst_rank, reverse=True):
        burst = detection.burst
        key = burst.key(r) if burst else None
        if burst is not None and key:
            target = native_severity(detection.severity_of(hit), detection.response) * 10
            base = math.floor(native * 10 + 1e-9)  # as the scorer floors it
            points = max(MIN_BURST_POINTS, round(target - base))
            return Tally(f"{detection.name}#{key}", burst.window_seconds, burst.threshold, points, burst.label(key))
    return None


def _window(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def _describe(detection: type[Detection], hit: Hit) -> str:
    severity = detection.severity_of(hit)
    burst = detection.burst
    if burst is None:
        return f"{detection.name} ({severity}): {hit.why}"
    return (
        f"{detection.name} (one occurrence; {severity} at {burst.threshold} within {_window(burst.window_seconds)}): "
        f"{hit.why}"
    )


def _outcome(r: Record) -> str:
    if r.console_login == "Failure":
        return f"failed sign-in ({r.error_message or 'Failed authentication'})"
    if r.denied:
        return f"refused ({r.error_code}): an attempt, nothing changed"
    if r.attempted:
        return f"failed ({r.error_code}): an attempt, nothing changed"
    if r.error_code:
        return f"failed ({r.error_code}): nothing changed"
    return "succeeded"


def _note(r: Record, fired: list[Fired], lead: Fired | None) -> str:
    if lead is None:
        note = f"CloudTrail {r.event_source} {r.event_name}: no detection fired"
    else:
        detection, hit = lead
        if detection.burst:
            note = f"CloudTrail detection {detection.name} (low: one occurrence)"
        else:
            note = f"CloudTrail detection {detection.name} ({detection.severity_of(hit)})"
        others = [
            f"{d.name} ({'one occurrence' if d.burst else d.severity_of(h)})" for d, h in fired if d is not detection
        ]
        if others:
            note += f", also {', '.join(others)}"
    if r.error_code or r.console_login == "Failure":
        note += f"; {_outcome(r)}"
    return note


def _parties(r: Record, fired: list[Fired]) -> list[Party]:
    identity = r.user_identity
    # A failed sign-in names the user someone tried to be: the target, not the one acting.
    target_only = r.console_login == "Failure"
    parties: list[Party] = []
    if r.actor:
        parties.append(Party("principal", r.actor, Role.AFFECTED if target_only else Role.ACTOR))
    if identity.access_key_id:
        parties.append(Party("access_key", identity.access_key_id, Role.COMPROMISED if fired else Role.AFFECTED))
    if r.ip:
        # An API caller reaches AWS's endpoints, never our VPC: no network ACL stands in its way.
        parties.append(Party("ip", r.ip, Role.ACTOR, network=False))
    if identity.type == "AWSAccount" and identity.account_id and identity.account_id != r.our_account:
        parties.append(Party("account", identity.account_id, Role.ACTOR))
    for _, hit in fired:
        parties.extend(hit.parties)
    if r.our_account:
        parties.append(Party("account", r.our_account, Role.AFFECTED))
    return parties


def _evidence(r: Record, fired: list[Fired]) -> list[tuple[str, str]]:
    identity = r.user_identity
    evidence = [("Detection", _describe(d, h)) for d, h in fired]
    evidence.append(("API call", f"{r.event_source} {r.event_name}"))
    evidence.append(("Outcome", _outcome(r) + (f": {r.error_message}" if r.error_message and r.attempted else "")))
    if r.actor:
        evidence.append(("Caller", f"{identity.type or 'unknown'} {r.actor}"))
    if identity.type == "AssumedRole" and identity.arn:
        evidence.append(("Session", identity.arn))
    pairs = [
        ("Access key", identity.access_key_id),
        ("Source address", r.source_ip_address),
        ("User agent", r.user_agent),
        ("Region", r.aws_region),
    ]
    evidence += [(label, value) for label, value in pairs if value]
    for _, hit in fired:
        evidence.extend(hit.facts)
    if why := not_evaluated(r):
        evidence.append(("Not evaluated", why))
    evidence.append(("Event ID", r.event_id))
    return list(dict.fromkeys(evidence))


def to_event(r: Record, context: Context) -> SecurityEvent:
    fired = evaluate(r, context)
    lead = max(fired, key=_rank) if fired else None
    native = _native(fired)
    who = f"by {r.actor or 'an unknown caller'}" + (f" from {r.source_ip_address}" if r.source_ip_address else "")
    if lead is None:
        event_type, title, description = f"cloudtrail:{r.event_source}:{r.event_name}", f"{r.event_name} {who}", ""
    else:
        event_type, title = lead[0].name, lead[0].title
        description = "; ".join(h.why for _, h in sorted(fired, key=_rank, reverse=True) if h.why) + f" ({who})"
    return SecurityEvent(
        source=CloudTrailSource.name,
        id=f"cloudtrail:{r.event_id}",
        subject=r.event_id,
        type=event_type,
        title=title,
        description=description,
        kind=EventKind.API_CALL,
        native_severity=native,
        severity_note=_note(r, fired, lead),
        account=r.our_account,
        region=r.aws_region,
        time=r.event_time,
        evidence=tuple(_evidence(r, fired)),
        tally=_tally(r, fired, native),
        entities=Entities.of(_parties(r, fired)),
    )
