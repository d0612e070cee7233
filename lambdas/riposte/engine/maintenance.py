"""Expiry, reconciliation and undo of Riposte's blocks.

The planners (``plan_expiry``, ``plan_unblock``) are pure: given one container's block records, its live
entries (a NACL's entries, or a WAF IP set's addresses as entries numbered 0) and ``now``, they decide. Their
safety rules, tested property-based:

- an entry is removed only when a record names it exactly (container, direction, rule number, CIDR) and the
  live entry at that number still denies exactly that CIDR; an entry without a record is never touched;
- a record whose entry is gone or changed (a person deleted it) is retired and reported, never re-created:
  Riposte does not fight a person;
- an entry in the managed range (``nacl.rule_range``; every address of a WAF set) without a record is reported,
  never deleted;
- a pending record younger than ``PENDING_LEASE`` is left alone (block_ip may still be confirming it); an older
  one is confirmed (its entry exists) or discarded (it never came to be).

``run`` carries a plan out through the ports, container by container, under the container's lock (the one
block_ip and block_waf hold while they write), audits every change, and returns a ``Report``: what was
removed (event ids, CIDRs: what PagerDuty resolves), what drifted, what was skipped and why.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from riposte.actions.block_waf import LOCK_LEASE_SECONDS, LockBusyError, holding
from riposte.core.nacl import DEFAULT_RULE
from riposte.core.ports import (
    AuditRecord,
    BlockRecord,
    BlockStatus,
    NaclEntry,
    NaclPort,
    StatePort,
    WafPort,
    container_lock,
    is_waf_container,
)

# A pending record older than this was abandoned (its writer died between the record and the entry).
PENDING_LEASE = timedelta(minutes=5)
# Waiting for a container's lock: block_ip holds it for a second or two; a busy container waits for the next run.
LOCK_WAIT_SECONDS = 5.0
# Do not start a container with less time than this left in the invocation: its lock would outlive us.
MIN_SECONDS_PER_CONTAINER = 10.0


class StepKind(StrEnum):
    REMOVE = "remove"  # expired (or unblocked) and owned: delete the live entry, then forget the record
    FORGET = "forget"  # the record's entry is gone or changed: forget the record, never re-create the entry
    CONFIRM = "confirm"  # a stale pending record whose entry exists: it is ours, mark it active
    DISCARD = "discard"  # a stale pending record without an entry: an abandoned attempt, forget it


class DriftKind(StrEnum):
    MISSING = "missing"  # a record whose entry is gone or changed (removed by hand?): the record is retired
    UNMANAGED = "unmanaged"  # an entry in the managed range with no record: reported, never deleted
    UNREADABLE = "unreadable"  # a record whose dates cannot be read: left alone


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    record: BlockRecord
    audit: str  # the audit record's kind: "expiry" | "reconcile" | "unblock"
    why: str


@dataclass(frozen=True, slots=True)
class Finding:
    kind: DriftKind
    container: str
    cidr: str
    rule_number: int
    egress: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "container": self.container,
            "cidr": self.cidr,
            "rule_number": self.rule_number,
            "direction": _direction(self.egress),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    container: str
    steps: tuple[Step, ...] = ()
    findings: tuple[Finding, ...] = ()


def waf_entries(addresses: Iterable[str]) -> tuple[NaclEntry, ...]:
    """A WAF IP set's addresses as entries: each denies its CIDR, numbered 0 like their records."""
    return tuple(NaclEntry(0, False, "deny", a) for a in addresses)


def _direction(egress: bool) -> str:
    return "egress" if egress else "ingress"


def parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _live_entry(container: str, record: BlockRecord, live: Sequence[NaclEntry]) -> NaclEntry | None:
    """The live entry the record claims: in a NACL, the entry at its number and direction; in a WAF set, its
    address."""
    if is_waf_container(container):
        return next((e for e in live if e.cidr == record.cidr), None)
    return next((e for e in live if e.rule_number == record.rule_number and e.egress == record.egress), None)


def owns(container: str, record: BlockRecord, live: Sequence[NaclEntry]) -> bool:
    """The record's entry is live and is exactly what the record says (a deny of that CIDR at that number)."""
    entry = _live_entry(container, record, live)
    return entry is not None and entry.rule_action == "deny" and entry.cidr == record.cidr


def _gone(container: str, record: BlockRecord, live: Sequence[NaclEntry]) -> str:
    entry = _live_entry(container, record, live)
    if entry is None:
        return "its entry is gone" if not is_waf_container(container) else "its address is no longer in the set"
    verb = {"deny": "denies", "allow": "allows"}.get(entry.rule_action, entry.rule_action)
    return f"rule {entry.rule_number} now {verb} {entry.cidr}"


def _missing(container: str, record: BlockRecord, why: str) -> Finding:
    return Finding(DriftKind.MISSING, container, record.cidr, record.rule_number, record.egress, why)


def _unmanaged(
    container: str, records: Sequence[BlockRecord], live: Sequence[NaclEntry], rule_range: tuple[int, int]
) -> list[Finding]:
    claimed = {(r.egress, r.rule_number, r.cidr) for r in records}
    low, high = rule_range
    found = []
    for entry in live:
        if is_waf_container(container):
            if any(r.cidr == entry.cidr for r in records):
                continue
            detail = "address in the set without a Riposte record: left alone"
        else:
            if entry.rule_number == DEFAULT_RULE or not low <= entry.rule_number <= high:
                continue
            if (entry.egress, entry.rule_number, entry.cidr) in claimed:
                continue
            detail = f"{entry.rule_action} entry in the managed range {low}-{high} without a Riposte record: left alone"
        found.append(Finding(DriftKind.UNMANAGED, container, entry.cidr, entry.rule_number, entry.egress, detail))
    return found


def _plan_pending(
    container: str, record: BlockRecord, live: Sequence[NaclEntry], now: datetime
) -> tuple[list[Step], list[Finding]]:
    created, expires = parse_time(record.created_at), parse_time(record.expires_at)
    if created is None:
        detail = "pending record with an unreadable creation time: left alone"
        return [], [Finding(DriftKind.UNREADABLE, container, record.cidr, record.rule_number, record.egress, detail)]
    if now - created < PENDING_LEASE:
        return [], []  # its writer may still be confirming it
    if not owns(container, record, live):
        why = f"pending since {record.created_at} and {_gone(container, record, live)}: an abandoned attempt"
        return [Step(StepKind.DISCARD, record, "reconcile", why)], []
    if expires is not None and expires <= now:
        return [Step(StepKind.REMOVE, record, "expiry", f"expired at {record.expires_at}")], []
    return [Step(StepKind.CONFIRM, record, "reconcile", "pending record whose entry exists: confirmed")], []


def _plan_record(
    container: str, record: BlockRecord, live: Sequence[NaclEntry], now: datetime
) -> tuple[list[Step], list[Finding]]:
    if record.status == BlockStatus.PENDING:
        return _plan_pending(container, record, live, now)
    expires = parse_time(record.expires_at)
    if record.status != BlockStatus.ACTIVE or expires is None:
        detail = f"record with status {record.status!r}, expiry {record.expires_at!r}: left alone"
        return [], [Finding(DriftKind.UNREADABLE, container, record.cidr, record.rule_number, record.egress, detail)]
    owned = owns(container, record, live)
    if expires <= now:
        if owned:
            return [Step(StepKind.REMOVE, record, "expiry", f"expired at {record.expires_at}")], []
        why = f"expired at {record.expires_at}, but {_gone(container, record, live)}: record forgotten"
        return [Step(StepKind.FORGET, record, "expiry", why)], [_missing(container, record, why)]
    if not owned:
        why = f"{_gone(container, record, live)} (removed by hand?): record retired, entry not re-created"
        return [Step(StepKind.FORGET, record, "reconcile", why)], [_missing(container, record, why)]
    return [], []


def plan_expiry(
    container: str,
    records: Sequence[BlockRecord],
    live: Sequence[NaclEntry],
    now: datetime,
    *,
    rule_range: tuple[int, int],
) -> ContainerPlan:
    """Expiry and reconciliation of one container (pure)."""
    steps: list[Step] = []
    findings: list[Finding] = []
    mine = [r for r in records if r.acl_id == container]
    for record in mine:
        more_steps, more_findings = _plan_record(container, record, live, now)
        steps += more_steps
        findings += more_findings
    findings += _unmanaged(container, mine, live, rule_range)
    return ContainerPlan(container, tuple(steps), tuple(findings))


def network_of(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or CIDR as a network; an IPv4-mapped IPv6 address is the IPv4 address it carries (that is how
    block_ip blocks it)."""
    network = ipaddress.ip_network(address.strip(), strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network(mapped)
    return network


def covers(record: BlockRecord, wanted: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """The record's block includes every address of ``wanted``."""
    try:
        blocked = ipaddress.ip_network(record.cidr, strict=False)
    except ValueError:
        return False
    if isinstance(blocked, ipaddress.IPv4Network) and isinstance(wanted, ipaddress.IPv4Network):
        return wanted.subnet_of(blocked)
    if isinstance(blocked, ipaddress.IPv6Network) and isinstance(wanted, ipaddress.IPv6Network):
        return wanted.subnet_of(blocked)
    return False


def plan_unblock(
    container: str, records: Sequence[BlockRecord], live: Sequence[NaclEntry], address: str
) -> ContainerPlan:
    """Undo every block of ``address`` Riposte owns in one container (pure): a record covering it whose entry is
    live is removed (a covering CIDR unblocks its neighbours too: the step says so); a record whose entry is
    gone is forgotten."""
    wanted = network_of(address)
    steps = []
    for record in records:
        if record.acl_id != container or not covers(record, wanted):
            continue
        wider = "" if record.cidr == str(wanted) else f" (the block is {record.cidr}: its other addresses too)"
        if owns(container, record, live):
            steps.append(Step(StepKind.REMOVE, record, "unblock", f"unblocked by request{wider}"))
        else:
            steps.append(
                Step(StepKind.FORGET, record, "unblock", f"{_gone(container, record, live)}: record forgotten")
            )
    return ContainerPlan(container, tuple(steps))


Planner = Callable[[str, Sequence[BlockRecord], Sequence[NaclEntry]], ContainerPlan]


def expiry_planner(now: datetime, rule_range: tuple[int, int]) -> Planner:
    def planner(container: str, records: Sequence[BlockRecord], live: Sequence[NaclEntry]) -> ContainerPlan:
        return plan_expiry(container, records, live, now, rule_range=rule_range)

    return planner


def unblock_planner(address: str) -> Planner:
    network_of(address)  # a bad address fails here, before any lock is taken

    def planner(container: str, records: Sequence[BlockRecord], live: Sequence[NaclEntry]) -> ContainerPlan:
        return plan_unblock(container, records, live, address)

    return planner


@dataclass(frozen=True, slots=True)
class Applied:
    step: Step
    container: str
    status: str  # "removed" | "forgotten" | "confirmed" | "discarded" | "changed" | "dry_run" | "failed"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        record = self.step.record
        return {
            "step": str(self.step.kind),
            "audit": self.step.audit,
            "status": self.status,
            "container": self.container,
            "cidr": record.cidr,
            "rule_number": record.rule_number,
            "direction": _direction(record.egress),
            "event_id": record.event_id,
            "detail": self.detail,
        }


@dataclass
class Report:
    mode: str
    now: str
    applied: list[Applied] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (container, why): left for the next run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (container, error)

    @property
    def removed(self) -> list[Applied]:
        """Entries taken out of a NACL or WAF set: the blocks to announce as over (PagerDuty resolve)."""
        return [a for a in self.applied if a.status == "removed"]

    @property
    def ok(self) -> bool:
        return not self.failed and not any(a.status == "failed" for a in self.applied)

    def counts(self) -> dict[str, int]:
        statuses = [a.status for a in self.applied]
        kinds = [f.kind for f in self.findings]
        return {
            "removed": statuses.count("removed"),
            "forgotten": statuses.count("forgotten"),
            "confirmed": statuses.count("confirmed"),
            "discarded": statuses.count("discarded"),
            "would_change": statuses.count("dry_run"),
            "missing": kinds.count(DriftKind.MISSING),
            "unmanaged": kinds.count(DriftKind.UNMANAGED),
            "unreadable": kinds.count(DriftKind.UNREADABLE),
            "skipped": len(self.skipped),
            "failed": len(self.failed) + statuses.count("failed"),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "now": self.now,
            "ok": self.ok,
            "counts": self.counts(),
            "removed": [
                {
                    "event_id": a.step.record.event_id,
                    "container": a.container,
                    "cidr": a.step.record.cidr,
                    "rule_number": a.step.record.rule_number,
                    "direction": _direction(a.step.record.egress),
                }
                for a in self.removed
            ],
            "steps": [a.as_dict() for a in self.applied],
            "drift": [f.as_dict() for f in self.findings],
            "skipped": [{"container": c, "reason": why} for c, why in self.skipped],
            "failed": [{"container": c, "error": why} for c, why in self.failed],
        }


@dataclass(frozen=True)
class Targets:
    """Where blocks live: the NACL port, and the WAF port when IP sets are configured."""

    nacl: NaclPort
    state: StatePort
    waf: WafPort | None = None

    def containers(self) -> tuple[str, ...]:
        return self.nacl.target_acls() + (self.waf.sets() if self.waf is not None else ())

    def live(self, container: str) -> tuple[NaclEntry, ...]:
        if is_waf_container(container):
            if self.waf is None:
                raise LookupError(f"{container}: no WAF port to read it with")
            return waf_entries(self.waf.addresses(container))
        return self.nacl.entries(container)

    def remove(self, container: str, record: BlockRecord) -> bool:
        """Delete the record's entry only if it is still exactly the record's (the ports verify it again)."""
        if is_waf_container(container):
            if self.waf is None:
                raise LookupError(f"{container}: no WAF port to change it with")
            return self.waf.remove(container, record.cidr)
        return self.nacl.remove_deny(container, record.rule_number, record.cidr, egress=record.egress)


def run(
    targets: Targets,
    planner: Planner,
    *,
    now: datetime,
    dry_run: bool,
    audit_time: datetime | None = None,
    time_left: Callable[[], float] | None = None,
    containers: Sequence[str] | None = None,
) -> Report:
    """Plan and carry out, one container at a time under its lock. Dry run plans and reports only: no entry is
    deleted, no record changed, nothing audited. ``time_left`` (seconds) stops before a container that could
    not be finished; ``containers`` limits the run (default: every configured NACL and WAF set)."""
    report = Report(mode="dry_run" if dry_run else "enforce", now=now.isoformat())
    for container in containers if containers is not None else targets.containers():
        if time_left is not None and time_left() < MIN_SECONDS_PER_CONTAINER:
            report.skipped.append((container, "not enough time left in this run: the next run takes it"))
            continue
        owner = f"maintenance#{secrets.token_hex(8)}"
        try:
            with holding(targets.state, container, owner, wait_seconds=LOCK_WAIT_SECONDS):
                _maintain(targets, planner, container, owner, report, dry_run=dry_run, audit_time=audit_time or now)
        except LockBusyError as error:
            report.skipped.append((container, f"{error}: the next run takes it"))
        except Exception as error:  # one broken container must not stop the others; the report says it failed
            report.failed.append((container, f"{type(error).__name__}: {error}"))
    return report


def _maintain(
    targets: Targets,
    planner: Planner,
    container: str,
    owner: str,
    report: Report,
    *,
    dry_run: bool,
    audit_time: datetime,
) -> None:
    state = targets.state
    plan = planner(container, state.list_blocks((container,)), targets.live(container))
    report.findings += plan.findings
    removed: list[int] = []  # positions in report.applied
    for step in plan.steps:
        if dry_run:
            report.applied.append(Applied(step, container, "dry_run", f"would {step.kind}: {step.why}"))
            continue
        # Keep the lease while we work; if it lapsed and someone else took the container, stop here.
        if not state.acquire_lock(container_lock(container), owner, time.time(), LOCK_LEASE_SECONDS):
            report.skipped.append((container, "lost the container's lock: the next run takes the rest"))
            break
        applied = _apply(targets, container, step)
        # Audited as soon as it happened: a crash later in the run loses no record of it.
        _audit(state, applied, audit_time)
        if applied.status == "removed":
            removed.append(len(report.applied))
        report.applied.append(applied)
    if not removed:
        return
    # Verify: every entry we removed is gone when read back.
    live = targets.live(container)
    for index in removed:
        applied = report.applied[index]
        if owns(container, applied.step.record, live):
            failed = replace(applied, status="failed", detail=f"{applied.detail}; still present when read back")
            _audit(state, failed, audit_time)
            report.applied[index] = failed


def _remove(targets: Targets, container: str, step: Step) -> Applied:
    if targets.remove(container, step.record):
        targets.state.forget_block(step.record)
        return Applied(step, container, "removed", step.why)
    # The entry changed between our read and the delete: nothing was deleted, and the record names nothing.
    targets.state.forget_block(step.record)
    return Applied(step, container, "forgotten", f"{step.why}; entry changed before removal, none deleted")


def _forget(targets: Targets, container: str, step: Step) -> Applied:
    if targets.state.forget_block(step.record):
        return Applied(step, container, "forgotten", step.why)
    return Applied(step, container, "changed", f"{step.why}; the record changed meanwhile: kept")


def _confirm(targets: Targets, container: str, step: Step) -> Applied:
    targets.state.record_block(replace(step.record, status=BlockStatus.ACTIVE))
    return Applied(step, container, "confirmed", step.why)


def _discard(targets: Targets, container: str, step: Step) -> Applied:
    targets.state.discard_block(step.record)  # only while still pending with the same number
    return Applied(step, container, "discarded", step.why)


_APPLY: dict[StepKind, Callable[[Targets, str, Step], Applied]] = {
    StepKind.REMOVE: _remove,
    StepKind.FORGET: _forget,
    StepKind.CONFIRM: _confirm,
    StepKind.DISCARD: _discard,
}


def _apply(targets: Targets, container: str, step: Step) -> Applied:
    try:
        return _APPLY[step.kind](targets, container, step)
    except Exception as error:  # reported and audited; the record stays, so the next run tries again
        return Applied(step, container, "failed", f"{step.why}; {type(error).__name__}: {error}")


def _audit(state: StatePort, applied: Applied, when: datetime) -> None:
    record = applied.step.record
    state.record_audit(
        AuditRecord(
            event_id=record.event_id or "maintenance",
            time=when.isoformat(),
            kind=applied.step.audit,
            name="block_waf" if is_waf_container(applied.container) else "block_ip",
            target=record.cidr,
            status=applied.status,
            detail=f"{applied.container} rule {record.rule_number} {_direction(record.egress)}: {applied.detail}",
            mode="enforce",
        )
    )
