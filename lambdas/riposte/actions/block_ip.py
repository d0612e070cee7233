"""block_ip: deny all traffic from a hostile address in every network ACL Riposte may modify.

Why ingress only: NACLs are stateless, so denying inbound packets from an address also drops the replies to
any connection our hosts open to it; TCP to and from it stops with one rule per address, which matters with
a quota of 20 rules per direction.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import ClassVar

from riposte.actions import ACTIONS
from riposte.actions.base import Action, ActionContext, Permission
from riposte.core import guard
from riposte.core.config import Config, Mode
from riposte.core.model import Outcome, Role, SecurityEvent, Status
from riposte.core.nacl import BlockVerdict, host_cidr, plan_block
from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry, RuleNumberTakenError

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
        Permission(("ec2:CreateNetworkAclEntry",), "network_acl"),
    )
    mutating_calls: ClassVar[tuple[str, ...]] = ("CreateNetworkAclEntry",)

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

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        acls = ctx.ports.nacl.target_acls()
        if not acls:
            return Outcome(
                self.name,
                target,
                Status.FAILED,
                "no network ACL to modify: set nacl.network_acl_ids or nacl.vpc_ids",
            )
        # An IPv4-mapped target (::ffff:a.b.c.d) travels as IPv4: an IPv6 entry would never stop it.
        cidr = host_cidr(guard.block_address(target))
        results = [self._block_in(acl, cidr, ctx) for acl in acls]
        detail = "; ".join(f"{acl}: {text}" for acl, (_, text, _) in zip(acls, results, strict=True))
        if any(status is Status.FAILED for status, _, _ in results):
            retryable = any(again for _, _, again in results)
            return Outcome(self.name, target, Status.FAILED, detail, retryable=retryable)
        return Outcome(self.name, target, Status.DRY_RUN if ctx.dry_run else Status.DONE, detail)

    def _block_in(self, acl: str, cidr: str, ctx: ActionContext) -> tuple[Status, str, bool]:
        """(status, detail, retryable) for one ACL."""
        if ctx.dry_run:
            return self._plan_in(acl, cidr, ctx, dry_run=True)
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
            return self._plan_in(acl, cidr, ctx, dry_run=False)
        finally:
            ctx.ports.state.release_lock(lock, owner)

    def _plan_in(self, acl: str, cidr: str, ctx: ActionContext, *, dry_run: bool) -> tuple[Status, str, bool]:
        nacl_cfg = ctx.config.nacl
        for attempt in range(ATTEMPTS):
            plan = plan_block(
                ctx.ports.nacl.entries(acl),
                cidr,
                egress=False,
                rule_range=nacl_cfg.rule_range,
                quota=nacl_cfg.rule_quota,
            )
            if plan.verdict is BlockVerdict.ALREADY:
                return Status.DONE, plan.detail, False
            if plan.verdict is not BlockVerdict.ADD or plan.rule_number is None:
                return Status.FAILED, plan.detail, False
            if dry_run:
                return Status.DRY_RUN, f"would {plan.detail} (dry run)", False
            # Someone outside Riposte (a person, another tool) may take a number between our read and our
            # write even while we hold the lock: after a collision, pick among the free numbers at random.
            number = plan.rule_number if attempt == 0 else random.choice(plan.free[:SPREAD])  # noqa: S311
            block = BlockRecord(
                acl_id=acl,
                cidr=cidr,
                rule_number=number,
                egress=False,
                event_id=ctx.event.id,
                created_at=ctx.now.isoformat(),
                expires_at=(ctx.now + timedelta(hours=ctx.config.blocks.ttl_hours)).isoformat(),
                status=BlockStatus.PENDING,
            )
            # Record first: if this write fails, nothing was changed; the other order could leave a rule nobody
            # owns. The record stays "pending" until the entry is read back.
            ctx.ports.state.record_block(block)
            try:
                ctx.ports.nacl.add_deny(acl, number, cidr, egress=False)
            except RuleNumberTakenError:
                ctx.ports.state.discard_block(block)  # a lost attempt takes back its own claim
                pause(backoff(attempt))
                continue
            except Exception:
                ctx.ports.state.discard_block(block)
                raise
            if not _confirmed(ctx.ports.nacl.entries(acl), number, cidr):
                return Status.FAILED, f"rule {number} for {cidr} was not found when read back", True
            ctx.ports.state.record_block(replace(block, status=BlockStatus.ACTIVE))
            return Status.DONE, f"added {cidr} as rule {number}, expires in {ctx.config.blocks.ttl_hours}h", False
        return Status.FAILED, f"rule numbers kept being taken concurrently ({ATTEMPTS} attempts)", True


def _confirmed(entries: tuple[NaclEntry, ...], number: int, cidr: str) -> bool:
    return any(e.rule_number == number and not e.egress and e.cidr == cidr and e.rule_action == "deny" for e in entries)


def backoff(attempt: int) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): contenders spread out."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))  # noqa: S311


# Module-level so tests can replace them (no real sleeping in unit tests).
pause: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic
