"""Telling people, carried out: exactly once, the pager first, incidents that close, and storm control.

Exactly once. Each notification is claimed in the state store before it is sent, keyed by what it is about and
its severity (``<notification key>#<severity>``): a redelivery, a retry or a routine update of the same finding
stays quiet; an escalation (high -> critical) is announced again, and PagerDuty folds that re-trigger into the
same alert because it carries the same ``dedup_key``. A failed send gives its claim back, so the retry sends; a
done send is never repeated.

The pager first. Page-route notifiers are called before the chat ones, so the chat message can say whether
on-call was paged, or that PagerDuty refused the event (a 400 is final and not retried: Slack is where a person
learns of it). Outcomes are still reported in the plan's order.

Incidents close. An event whose source says it is over (``SIGNAL_RESOLVED``: an alert resolved, recovered, OK)
calls the pager, which sends ``resolve`` with the same ``dedup_key`` (PagerDuty drops a resolve for a key it
never opened), and the chat channels only if they were told of it (their delivery records say so). An incident
paged about blocks is remembered (``open_incident``, with the addresses its block actions targeted); the
maintenance run resolves it once no block record remains that carries the incident or covers one of those
addresses: its blocks expired, were undone (``riposte unblock``) or were removed by hand, whichever way they
went. After a resolve, the incident's delivery records are forgotten, so that if it fires again it is announced
(and paged) again: PagerDuty opens a new alert for a resolved key.

Storm control (chat channels, ``[notify]``). Per channel and fixed window, decisions are counted in the state
store (a redelivery counts once); past ``storm_max_messages`` they are folded into one digest kept in the store
(counts per severity and the ``digest_top`` highest scores; bounded whatever the storm's size), sent as ONE
message when the window has closed: by the channel's next notification or by the maintenance schedule,
whichever comes first, exactly once (a claim on the digest's generation). Critical decisions bypass the fold by
default: they are what people must see at once, and a storm is exactly when they would drown in a digest. The
breaker's trip always bypasses it: it says Riposte stopped acting.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from riposte.core.config import Config
from riposte.core.model import SIGNAL_RESOLVED, Outcome, Plan, Result, SecurityEvent, Severity, Status
from riposte.core.ports import AuditRecord, BlockRecord, Digest, DigestItem, OpenIncident, StatePort
from riposte.engine.maintenance import covers, network_of
from riposte.notifiers import NOT_CONFIGURED, Notifier, Route, by_route

# A claim whose holder died (timeout, crash) lets a later retry send after this long.
DELIVERY_LEASE_SECONDS = 300
# The outcome the runner adds when the circuit breaker trips: always told at once.
BREAKER = "circuit_breaker"
# Actions whose DONE outcome leaves a block record behind (what expiry and undo remove).
BLOCK_ACTIONS = frozenset({"block_ip", "block_waf"})
# Folding is a read-modify-write under a version check: concurrent folds retry this many times.
FOLD_ATTEMPTS = 6
# A digest remembers this many folded deliveries (short hashes) so that a retried fold counts once.
MEMBERS_MAX = 500
# Lengths kept of a folded decision's title and response (the renderer clips again to its own limits).
LINE_MAX = 300

# Module-level so tests can replace it (no real sleeping in unit tests).
pause: Callable[[float], None] = time.sleep


def is_resolution(event: SecurityEvent) -> bool:
    return SIGNAL_RESOLVED in event.signals


def claim_key(result: Result) -> str:
    """What a delivery claim is about: the subject at its severity; for a resolution, that very resolution (a
    later episode of the same alert resolves again)."""
    event = result.plan.event
    if is_resolution(event):
        return f"{event.notification_key}#resolve#{event.id}"
    return f"{event.notification_key}#{result.plan.score.severity}"


def was_told(state: StatePort, incident: str, channel: str) -> bool:
    """``channel`` received a message about ``incident`` at some severity (and it was not resolved since)."""
    return any(state.delivered(f"{incident}#{severity}", channel) for severity in Severity)


def route(plan: Plan, state: StatePort) -> Plan:
    """``plan`` with the channels a resolution calls on: the chat channels that were told of the incident, and the
    pager (to resolve it). Any other plan as it is."""
    if not is_resolution(plan.event):
        return plan
    incident = plan.event.notification_key
    told = tuple(name for name in by_route(Route.NOTIFY) if was_told(state, incident, name))
    return replace(plan, notify=tuple(dict.fromkeys((*told, *by_route(Route.PAGE)))))


# --- delivering a result --------------------------------------------------------------------------------------


def deliver(
    result: Result, notifiers: Mapping[str, Notifier], state: StatePort, config: Config, now: datetime
) -> tuple[Outcome, ...]:
    """Send ``result`` to each channel of its plan, the pager first; outcomes in the plan's order."""
    channels = result.plan.notify
    paging = set(by_route(Route.PAGE))
    ordered = sorted(channels, key=lambda channel: channel not in paging)  # stable: the plan's order otherwise
    done: dict[str, Outcome] = {}
    for channel in ordered:
        told_so_far = replace(result, notifications=tuple(done.values()))
        done[channel] = _deliver_one(channel, told_so_far, notifiers.get(channel), state=state, config=config, now=now)
    _remember(result, done, notifiers, state, now)
    return tuple(done[channel] for channel in channels)


def _deliver_one(
    channel: str, result: Result, notifier: Notifier | None, *, state: StatePort, config: Config, now: datetime
) -> Outcome:
    if notifier is None:
        return Outcome(channel, "", Status.SKIPPED, f"no {channel!r} notifier is available in this deployment")
    stamp = now.timestamp()
    key = claim_key(result)
    if not state.claim_delivery(key, channel, stamp, DELIVERY_LEASE_SECONDS):
        return Outcome(
            channel, "", Status.SKIPPED, "already delivered (or being delivered) for this finding at this severity"
        )
    try:
        if folds(notifier):
            flush_due(notifier, state, config, now)  # the closed window's digest comes before this message
        outcome = _send(notifier, result, key=key, state=state, config=config, now=now)
    except Exception as error:
        outcome = Outcome(channel, "", Status.FAILED, f"{type(error).__name__}: {error}", retryable=True)
    if outcome.status is Status.DONE:
        state.complete_delivery(key, channel, stamp)
    else:
        state.release_delivery(key, channel)
    return outcome


def folds(notifier: Notifier) -> bool:
    # Read defensively: a notifier written before storm control (any object with ``send``) never folds.
    return getattr(notifier, "folds", False) is True


def bypasses_storm(result: Result, config: Config) -> bool:
    if any(o.name == BREAKER for o in result.actions):
        return True
    return config.notify.critical_bypass and result.plan.score.severity is Severity.CRITICAL


def _send(notifier: Notifier, result: Result, *, key: str, state: StatePort, config: Config, now: datetime) -> Outcome:
    if folds(notifier):
        settings = config.notify
        # Every message counts, bypassing ones too: they take the channel's attention all the same.
        count = state.hit(f"storm#{notifier.name}", key, settings.storm_window_seconds, now.timestamp())
        if count > settings.storm_max_messages and not bypasses_storm(result, config):
            destination = notifier.url()  # folding for a channel that is not there would only defer the news
            if isinstance(destination, Outcome):
                return destination
            return fold(notifier.name, result, key=key, state=state, config=config, now=now)
    return notifier.send(result)


def _remember(
    result: Result, done: Mapping[str, Outcome], notifiers: Mapping[str, Notifier], state: StatePort, now: datetime
) -> None:
    """What the deliveries leave behind: an incident paged about blocks is remembered until it resolves; a
    resolution that went out forgets who was told, so the next episode is announced again."""
    event = result.plan.event
    incident = event.notification_key
    paging = [channel for channel in done if channel in by_route(Route.PAGE)]
    if is_resolution(event):
        for channel, outcome in done.items():
            if outcome.status is Status.DONE:
                forget_told(state, incident, (channel,))
                if channel in paging:
                    state.close_incident(incident)
        return
    blocks = (o for o in result.actions if o.name in BLOCK_ACTIONS and o.status is Status.DONE)
    blocked = tuple(dict.fromkeys(o.target for o in blocks))
    if not blocked:
        return
    key = claim_key(result)
    # Paged now, or earlier for the same incident at this severity (a retry whose block succeeded only now).
    if any(done[c].status is Status.DONE or state.delivered(key, c) for c in paging if c in notifiers):
        state.open_incident(incident, blocked, now.timestamp())


def forget_told(state: StatePort, incident: str, channels: Iterable[str]) -> None:
    for channel in channels:
        for severity in Severity:
            state.forget_delivery(f"{incident}#{severity}", channel)


# --- storm digests --------------------------------------------------------------------------------------------


def _clock(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def response_line(result: Result) -> str:
    """What Riposte did about a decision, in one line (for a digest)."""
    if is_resolution(result.plan.event):
        return "resolved by its source"
    parts = [f"{o.name} {o.target}".strip() + f" {o.status}" for o in result.actions]
    parts += [f"{o.name} {o.status}" for o in result.notifications if o.status is not Status.SKIPPED]
    return "; ".join(parts) or "no action"


def digest_item(result: Result) -> DigestItem:
    plan = result.plan
    return DigestItem(
        score=plan.score.value,
        severity=str(plan.score.severity),
        title=(plan.event.title or plan.event.type)[:LINE_MAX],
        response=response_line(result)[:LINE_MAX],
        event_id=plan.event.id,
    )


def member_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def add(digest: Digest, member: str, item: DigestItem, top: int) -> Digest | None:
    """``digest`` with ``item`` folded in (pure), or None when ``member`` was folded already. The top list keeps
    the highest scores, earlier first among equals; the count of each severity is exact."""
    if member in digest.members:
        return None
    counts = dict(digest.counts)
    counts[item.severity] = counts.get(item.severity, 0) + 1
    ranked = sorted((*digest.top, item), key=lambda i: -i.score)[:top]  # sorted() is stable
    return replace(
        digest,
        version=digest.version + 1,
        counts=counts,
        top=tuple(ranked),
        members=(*digest.members, member)[-MEMBERS_MAX:],
    )


def backoff(attempt: int) -> float:
    return 0.05 * 2.0**attempt * (1 + random.random())  # noqa: S311 - jitter, not a secret


def fold(channel: str, result: Result, *, key: str, state: StatePort, config: Config, now: datetime) -> Outcome:
    """Fold ``result`` into ``channel``'s digest for the current window (read, add, write under the version)."""
    seconds = config.notify.storm_window_seconds
    window = int(now.timestamp() // seconds) * seconds
    item, member = digest_item(result), member_of(key)
    for attempt in range(FOLD_ATTEMPTS):
        current = state.load_digest(channel, window) or Digest(channel, window, seconds, secrets.token_hex(8))
        folded = add(current, member, item, config.notify.digest_top)
        if folded is None or state.save_digest(folded, current.version):
            end = current.window + current.seconds
            detail = (
                f"folded into the digest of {_clock(current.window)}-{_clock(end)} UTC (storm control: more than "
                f"{config.notify.storm_max_messages} messages in the window); sent once the window closes"
            )
            return Outcome(channel, "", Status.DONE, detail)
        pause(backoff(attempt))
    why = f"the digest kept changing under concurrent writers ({FOLD_ATTEMPTS} attempts)"
    return Outcome(channel, "", Status.FAILED, why, retryable=True)


def flush_due(notifier: Notifier, state: StatePort, config: Config, now: datetime) -> list[Outcome]:
    """Send every closed digest of ``notifier``'s channel, oldest first; each exactly once."""
    outcomes = []
    for digest in state.closed_digests(notifier.name, now.timestamp()):
        if (outcome := _flush(notifier, digest, state, now)) is not None:
            _audit(state, f"digest#{notifier.name}#{digest.window}", outcome, config, now)
            outcomes.append(outcome)
    return outcomes


def _flush(notifier: Notifier, digest: Digest, state: StatePort, now: datetime) -> Outcome | None:
    channel, stamp = notifier.name, now.timestamp()
    key = f"digest#{digest.window}#{digest.token}"
    if not state.claim_delivery(key, channel, stamp, DELIVERY_LEASE_SECONDS):
        if state.delivered(key, channel):
            state.drop_digest(digest)  # sent, but its removal was lost
        return None  # or another invocation is sending it now
    try:
        outcome = notifier.send_digest(digest)
    except Exception as error:
        outcome = Outcome(channel, "", Status.FAILED, f"{type(error).__name__}: {error}", retryable=True)
    if outcome.status is Status.DONE or outcome.detail.startswith(NOT_CONFIGURED):
        # Not configured: its messages would have been skipped one by one too; keeping it would not help.
        state.complete_delivery(key, channel, stamp)
        state.drop_digest(digest)
    else:
        state.release_delivery(key, channel)  # kept: the next notification or maintenance run sends it
    window = f"{_clock(digest.window)}-{_clock(digest.window + digest.seconds)} UTC"
    return replace(outcome, target="digest", detail=f"{outcome.detail} (digest of {digest.total} decisions, {window})")


def flush_digests(notifiers: Mapping[str, Notifier], state: StatePort, config: Config, now: datetime) -> list[Outcome]:
    """The maintenance schedule's share: every closed digest of every folding channel."""
    outcomes: list[Outcome] = []
    for notifier in notifiers.values():
        if folds(notifier):
            outcomes += flush_due(notifier, state, config, now)
    return outcomes


# --- incidents whose blocks are gone --------------------------------------------------------------------------


def still_blocked(incident: OpenIncident, blocks: Sequence[BlockRecord]) -> bool:
    """A block record remains that carries the incident, or covers one of the addresses it blocked (another
    event's block of the same address, an aggregate): pending records count, as they may yet be confirmed."""
    if any(block.incident == incident.incident for block in blocks):
        return True
    for address in incident.addresses:
        try:
            wanted = network_of(address)
        except ValueError:
            continue
        if any(covers(block, wanted) for block in blocks):
            return True
    return False


def resolve_unblocked(
    notifiers: Mapping[str, Notifier],
    state: StatePort,
    containers: Sequence[str],
    config: Config,
    now: datetime,
) -> list[Outcome]:
    """Resolve on the pager every open incident none of whose blocks remains. The incidents are read before the
    blocks: an incident is recorded only after its blocks were, so none is taken for gone while being made."""
    incidents = state.open_incidents()
    if not incidents:
        return []
    blocks = state.list_blocks(tuple(containers))
    pagers = [n for n in notifiers.values() if n.route is Route.PAGE]
    outcomes: list[Outcome] = []
    for incident in incidents:
        if still_blocked(incident, blocks):
            continue
        results = [_resolve(pager, incident, state, now) for pager in pagers]
        for outcome in results:
            if outcome is not None:
                _audit(state, incident.incident, outcome, config, now)
                outcomes.append(outcome)
        if all(r is None or r.status is Status.DONE or r.detail.startswith(NOT_CONFIGURED) for r in results):
            state.close_incident(incident.incident)
            forget_told(state, incident.incident, notifiers)
    return outcomes


def _resolve(pager: Notifier, incident: OpenIncident, state: StatePort, now: datetime) -> Outcome | None:
    stamp = now.timestamp()
    key = f"{incident.incident}#resolve#blocks#{incident.opened}"
    if not state.claim_delivery(key, pager.name, stamp, DELIVERY_LEASE_SECONDS):
        # Resolved already (its record's removal was lost), or another run is resolving it now: None either way;
        # the incident is closed when this run sees it resolved.
        return None if state.delivered(key, pager.name) else Outcome(pager.name, "", Status.SKIPPED, "being resolved")
    try:
        outcome = pager.resolve(incident.incident, "its blocks expired or were undone")
    except Exception as error:
        outcome = Outcome(pager.name, "", Status.FAILED, f"{type(error).__name__}: {error}", retryable=True)
    if outcome.status is Status.DONE:
        state.complete_delivery(key, pager.name, stamp)
    else:
        state.release_delivery(key, pager.name)
    return outcome


def _audit(state: StatePort, about: str, outcome: Outcome, config: Config, now: datetime) -> None:
    state.record_audit(
        AuditRecord(
            event_id=about,
            time=now.isoformat(),
            kind="notification",
            name=outcome.name,
            target=outcome.target,
            status=str(outcome.status),
            detail=outcome.detail,
            mode=str(config.mode),
        )
    )
