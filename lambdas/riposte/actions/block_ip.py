"""block_ip: deny all traffic from a hostile address in every network ACL Riposte may modify.

Why ingress only: NACLs are stateless, so denying inbound packets from an address also drops the replies to
any connection our hosts open to it; TCP to and from it stops with one rule per address, which matters with
a quota of 20 rules per direction.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, ClassVar

from riposte.actions import ACTIONS
from riposte.actions.base import Action, ActionContext, Permission
from riposte.actions.block_waf import add_block
from riposte.core import guard
from riposte.core.config import Config, Mode
from riposte.core.model import Outcome, Role, SecurityEvent, Status
from riposte.core.nacl import BlockVerdict, Room, RoomVerdict, block_value, make_room, plan_block
from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry, RuleNumberTakenError, RuleQuotaExceededError

# Offences within this window climb the TTL ladder (a fixed window in the state store).
OFFENCE_WINDOW_SECONDS = 30 * 24 * 3600
# Someone outside Riposte may take the number we picked; re-read and re-plan this many times.
ATTEMPTS = 5
# After a collision, choose among this many of the lowest free numbers.
SPREAD = 8
# The ACL lock: how long a holder may keep it, and how long (and how often) a contender waits for it before
# giving up (the queue retries the event later).
LOCK_LEASE_SECONDS = 30
LOCK_WAIT_SECONDS = 20  # a third of the function's timeout; then the queue retries the event
LOCK_ATTEMPTS = 60
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0


@ACTIONS.register
class BlockIp(Action):
    name: ClassVar[str] = "block_ip"
    target_kind: ClassVar[str] = "ip"
    permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(("ec2:DescribeNetworkAcls",), "*"),
        # Replace and delete serve the budget: an eviction or an aggregate rewrites only entries Riposte owns.
        Permission(
            ("ec2:CreateNetworkAclEntry", "ec2:ReplaceNetworkAclEntry", "ec2:DeleteNetworkAclEntry"), "network_acl"
        ),
    )
    mutating_calls: ClassVar[tuple[str, ...]] = (
        "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry",
        "DeleteNetworkAclEntry",
    )

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        if config.mode is Mode.ENFORCE and not (config.nacl.vpc_ids or config.nacl.network_acl_ids):
            return [f"nacl: mode 'enforce' with action '{cls.name}' needs nacl.vpc_ids or nacl.network_acl_ids"]
        return []

    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        # Network ACLs filter VPC traffic: only addresses whose traffic crosses them (an address that only
        # calls AWS or Kubernetes APIs never does). Attackers acting on us; by config, the peers our
        # compromised hosts reach out to.
        roles = (Role.ACTOR, Role.PEER) if config.blocks.outbound_peers else (Role.ACTOR,)
        return event.entities.having("ip", *roles, network=True)

    def _acls(self, ctx: ActionContext) -> tuple[tuple[str, ...], str]:
        """The ACLs to block in, and a note on how they were chosen."""
        subnets = ctx.event.entities.subnets if ctx.config.nacl.scope == "subnet" else ()
        if subnets:
            serving = ctx.ports.nacl.target_acls(subnets)
            if serving:
                return serving, ""
            return ctx.ports.nacl.target_acls(), f"no modifiable ACL serves {', '.join(subnets)}: all of them; "
        return ctx.ports.nacl.target_acls(), ""

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        acls, note = self._acls(ctx)
        if not acls:
            return Outcome(
                self.name,
                target,
                Status.FAILED,
                "no network ACL to modify: set nacl.network_acl_ids or nacl.vpc_ids",
            )
        # An IPv4-mapped target (::ffff:a.b.c.d) travels as IPv4: an IPv6 entry would never stop it. A network
        # target (a webhook's CIDR, checked whole by the guard) is blocked as the network.
        cidr = guard.block_cidr(target)
        offences = 1
        if not ctx.dry_run:
            subject = ctx.event.subject or ctx.event.id
            offences = ctx.ports.state.hit(f"offence#{cidr}", subject, OFFENCE_WINDOW_SECONDS, ctx.now.timestamp())
        block = _Block(cidr=cidr, offences=offences, hours=ttl_hours(ctx.config, offences))
        directions = (False, True) if ctx.config.nacl.egress else (False,)
        places = [(acl, egress) for acl in acls for egress in directions]
        results = [self._block_in(acl, block, egress, ctx) for acl, egress in places]
        if any(status is _SPILL for status, _, _ in results):
            results = [self._spill(block, ctx) if r[0] is _SPILL else r for r in results]
        detail = note + "; ".join(
            f"{acl}{' egress' if egress else ''}: {text}"
            for (acl, egress), (_, text, _) in zip(places, results, strict=True)
        )
        statuses = {status for status, _, _ in results}
        if Status.FAILED in statuses:
            retryable = any(again for _, _, again in results)
            return Outcome(self.name, target, Status.FAILED, detail, retryable=retryable)
        if statuses == {Status.REFUSED}:
            return Outcome(self.name, target, Status.REFUSED, detail)
        return Outcome(self.name, target, Status.DRY_RUN if ctx.dry_run else Status.DONE, detail)

    def _block_in(self, acl: str, block: _Block, egress: bool, ctx: ActionContext) -> _Result:
        """(status, detail, retryable) for one ACL and direction."""
        if ctx.dry_run:
            return self._place(acl, block, egress, ctx, dry_run=True)
        # One writer per ACL at a time (a lease in the state store): contenders for the same ACL never race for
        # a rule number, never add the same address twice, and never overshoot the quota together. They wait
        # their turn with jittered backoff; a holder that died releases the ACL when its lease runs out.
        owner = f"{ctx.event.id}#{secrets.token_hex(8)}"
        lock = f"nacl#{acl}"
        deadline = monotonic() + LOCK_WAIT_SECONDS
        for attempt in range(LOCK_ATTEMPTS):
            if ctx.ports.state.acquire_lock(lock, owner, time.time(), LOCK_LEASE_SECONDS):
                break
            if monotonic() >= deadline:
                return Status.FAILED, f"another invocation kept the NACL busy for {LOCK_WAIT_SECONDS}s", True
            pause(backoff(attempt))
        else:
            return Status.FAILED, f"another invocation kept the NACL busy ({LOCK_ATTEMPTS} attempts)", True
        try:
            return self._place(acl, block, egress, ctx, dry_run=False)
        finally:
            ctx.ports.state.release_lock(lock, owner)

    def _record(
        self, acl: str, cidr: str, *, number: int, egress: bool, block: _Block, ctx: ActionContext
    ) -> BlockRecord:
        return BlockRecord(
            acl_id=acl,
            cidr=cidr,
            rule_number=number,
            egress=egress,
            event_id=ctx.event.id,
            created_at=ctx.now.isoformat(),
            expires_at=(ctx.now + timedelta(hours=block.hours)).isoformat(),
            status=BlockStatus.PENDING,
            score=ctx.score,
            offences=block.offences,
            reason=f"{ctx.event.type}: {ctx.event.title}"[:300],
            incident=ctx.event.notification_key,
        )

    def _place(self, acl: str, block: _Block, egress: bool, ctx: ActionContext, *, dry_run: bool) -> _Result:
        nacl_cfg = ctx.config.nacl
        cidr = block.cidr
        for attempt in range(ATTEMPTS):
            entries = ctx.ports.nacl.entries(acl)
            plan = plan_block(entries, cidr, egress=egress, rule_range=nacl_cfg.rule_range, quota=nacl_cfg.rule_quota)
            if plan.verdict is BlockVerdict.ALREADY:
                return Status.DONE, plan.detail, False
            if plan.verdict in (BlockVerdict.RANGE_FULL, BlockVerdict.QUOTA_FULL):
                full = _Full(acl=acl, egress=egress, block=block, entries=entries, why=plan.detail)
                return self._when_full(full, ctx, dry_run=dry_run)
            if plan.rule_number is None:  # the planner always names the number it adds: never write on a guess
                return Status.FAILED, f"{plan.detail}: no rule number was chosen", False
            if dry_run:
                return Status.DRY_RUN, f"would {plan.detail} (dry run)", False
            # Someone outside Riposte (a person, another tool) may take a number between our read and our
            # write even while we hold the lock: after a collision, pick among the free numbers at random.
            number = plan.rule_number if attempt == 0 else random.choice(plan.free[:SPREAD])  # noqa: S311
            record = self._record(acl, cidr, number=number, egress=egress, block=block, ctx=ctx)
            # Record first: if this write fails, nothing was changed; the other order could leave a rule nobody
            # owns. The record stays "pending" until the entry is read back.
            ctx.ports.state.record_block(record)
            if (written := self._write(acl, record, _Full(acl, egress, block, entries, ""), ctx)) is not None:
                return written
            pause(backoff(attempt))
        return Status.FAILED, f"rule numbers kept being taken concurrently ({ATTEMPTS} attempts)", True

    def _write(self, acl: str, record: BlockRecord, full: _Full, ctx: ActionContext) -> _Result | None:
        """Create the entry the pending ``record`` claims; None when someone else took its number (re-plan)."""
        done = f"added {record.cidr} as rule {record.rule_number}, expires in {full.block.hours}h"
        try:
            ctx.ports.nacl.add_deny(acl, record.rule_number, record.cidr, egress=record.egress)
        except RuleNumberTakenError:
            # Taken by someone else, or by this very write: a retried call whose first reply was lost lands and
            # then collides with itself. The ACL says which.
            if _confirmed(ctx.ports.nacl.entries(acl), record):
                return self._confirm(acl, record, ctx, done)
            ctx.ports.state.discard_block(record)  # a lost attempt takes back its own claim
            return None
        except RuleQuotaExceededError as error:  # AWS counts differently than rule_quota says: it is full
            ctx.ports.state.discard_block(record)
            return self._when_full(replace(full, why=str(error)), ctx, dry_run=False)
        except Exception:
            # The write may have landed with its reply lost. Keep the pending claim: if the entry is there the
            # record owns it (maintenance confirms pending records), so no block is ever left unowned.
            if _confirmed(ctx.ports.nacl.entries(acl), record):
                return self._confirm(acl, record, ctx, done)
            raise
        return self._confirm(acl, record, ctx, done)

    def _confirm(self, acl: str, record: BlockRecord, ctx: ActionContext, done: str) -> _Result:
        if not _confirmed(ctx.ports.nacl.entries(acl), record):
            return Status.FAILED, f"rule {record.rule_number} for {record.cidr} was not found when read back", True
        ctx.ports.state.record_block(replace(record, status=BlockStatus.ACTIVE))
        return Status.DONE, done, False

    def _when_full(self, full: _Full, ctx: ActionContext, *, dry_run: bool) -> _Result:
        """The range or quota is full: make room (aggregate, evict), or spill over to WAF, or refuse."""
        nacl_cfg = ctx.config.nacl
        acl, egress, block, entries, why = full.acl, full.egress, full.block, full.entries, full.why
        room = make_room(
            entries,
            ctx.ports.state.list_blocks((acl,)),
            block.cidr,
            value=block_value(ctx.score, block.offences),
            egress=egress,
            strategies=[s for s in nacl_cfg.when_full if s != "waf"],
            max_prefix={4: nacl_cfg.aggregate_prefix_v4, 6: nacl_cfg.aggregate_prefix_v6},
            refuse=lambda network: guard.network_refusal(network, ctx.config.allowlist, ctx.own),
        )
        if room.verdict is RoomVerdict.NONE:
            if "waf" in nacl_cfg.when_full and ctx.ports.waf is not None:
                return _SPILL, f"{why}; {room.detail}", False
            return Status.REFUSED, f"{why}; {room.detail}", False
        if dry_run:
            return Status.DRY_RUN, f"{why}: would make room, {room.detail} (dry run)", False
        if room.verdict is RoomVerdict.EVICT and room.evict is not None:
            return self._evict(full, room.evict, room.detail, ctx)
        return self._aggregate(full, room, ctx)

    def _evict(self, full: _Full, victim: BlockRecord, detail: str, ctx: ActionContext) -> _Result:
        acl, egress, block, why = full.acl, full.egress, full.block, full.why
        record = self._record(acl, block.cidr, number=victim.rule_number, egress=egress, block=block, ctx=ctx)
        ctx.ports.state.record_block(record)
        # One call turns the victim's entry into ours: no moment with neither, no extra quota.
        if not ctx.ports.nacl.replace_deny(acl, victim.rule_number, victim.cidr, block.cidr, egress=egress):
            ctx.ports.state.discard_block(record)
            return Status.FAILED, f"{why}; rule {victim.rule_number} changed before it could be reused", True
        ctx.ports.state.forget_block(victim)
        done = f"{why}: added {block.cidr} as rule {victim.rule_number}, {detail}, expires in {block.hours}h"
        return self._confirm(acl, record, ctx, done)

    def _aggregate(self, full: _Full, room: Room, ctx: ActionContext) -> _Result:
        acl, egress, block, why = full.acl, full.egress, full.block, full.why
        if room.aggregate is None or not room.members:  # pragma: no cover - make_room always names both
            return Status.REFUSED, f"{why}; {room.detail}", False
        first, *rest = sorted(room.members, key=lambda r: r.rule_number)
        covering = replace(
            self._record(acl, room.aggregate, number=first.rule_number, egress=egress, block=block, ctx=ctx),
            score=max([ctx.score, *(m.score for m in room.members)]),
            offences=max([block.offences, *(m.offences for m in room.members)]),
        )
        ctx.ports.state.record_block(covering)
        if not ctx.ports.nacl.replace_deny(acl, first.rule_number, first.cidr, room.aggregate, egress=egress):
            ctx.ports.state.discard_block(covering)
            return Status.FAILED, f"{why}; rule {first.rule_number} changed before it could be widened", True
        ctx.ports.state.forget_block(first)
        for member in rest:  # now covered twice: free their numbers
            if ctx.ports.nacl.remove_deny(acl, member.rule_number, member.cidr, egress=egress):
                ctx.ports.state.forget_block(member)
        done = f"{why}: {block.cidr} blocked by {room.detail} as rule {first.rule_number}, expires in {block.hours}h"
        return self._confirm(acl, covering, ctx, done)

    def _spill(self, block: _Block, ctx: ActionContext) -> _Result:
        """Every ACL that had no room hands the address to the first WAF IP set of its family (block_waf's
        locked, recorded add)."""
        waf = ctx.ports.waf
        assert waf is not None
        version = ipaddress.ip_network(block.cidr).version
        containers = [c for c in waf.sets() if waf.family(c) == version]
        if not containers:
            return Status.REFUSED, f"NACL full and no WAF IP set holds IPv{version} addresses", False
        failures: list[str] = []
        for container in containers:
            record = self._record(container, block.cidr, number=0, egress=False, block=block, ctx=ctx)
            status, detail, retryable = add_block(waf, ctx.ports.state, record)
            if status is Status.DONE:
                return Status.DONE, f"NACL full: spilled to WAF IP set {container}: {detail}", False
            if retryable:
                return status, f"NACL full; WAF IP set {container}: {detail}", True
            failures.append(f"{container}: {detail}")
        return Status.REFUSED, f"NACL full and WAF cannot take it: {'; '.join(failures)}", False


@dataclass(frozen=True, slots=True)
class _Block:
    cidr: str
    offences: int
    hours: int


@dataclass(frozen=True, slots=True)
class _Full:
    """A full ACL (one direction) and why it is full."""

    acl: str
    egress: bool
    block: _Block
    entries: tuple[NaclEntry, ...]
    why: str


_Result = tuple[Status, str, bool]
# A status of our own (not a Status): "this ACL is full, spill the address over to WAF", resolved in execute.
_SPILL: Any = object()


def ttl_hours(config: Config, offences: int) -> int:
    """The TTL ladder: a first block lasts ``ttl_hours``; each repeat offence climbs ``repeat_ttl_hours``."""
    ladder = (config.blocks.ttl_hours, *config.blocks.repeat_ttl_hours)
    return ladder[min(max(offences, 1), len(ladder)) - 1]


def _confirmed(entries: tuple[NaclEntry, ...], record: BlockRecord) -> bool:
    return any(
        e.rule_number == record.rule_number
        and e.egress == record.egress
        and e.cidr == record.cidr
        and e.rule_action == "deny"
        for e in entries
    )


def backoff(attempt: int) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): contenders spread out."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))  # noqa: S311


# Module-level so tests can replace them (no real sleeping in unit tests).
pause: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic
