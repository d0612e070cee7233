"""block_waf: add a hostile address to the configured AWS WAF IP sets (IPv4 sets for IPv4, IPv6 for IPv6).

Why WAF as well as NACLs: a web ACL referencing the set blocks the address at the HTTP front ends (ALB, API
Gateway, CloudFront), including those outside any VPC, and a set holds 10,000 addresses where a NACL holds 20
rules. Every address Riposte adds is recorded first (pending), confirmed by reading the set back (active), and
removed by the expirer when its block expires; an address someone else put in the set is never recorded as
ours, so it is never removed by Riposte.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import ClassVar

from riposte.actions import ACTIONS
from riposte.actions.base import Action, ActionContext, Permission, Ports
from riposte.core import guard
from riposte.core.config import Config, Mode
from riposte.core.model import Outcome, Role, SecurityEvent, Status
from riposte.core.ports import (
    BlockRecord,
    BlockStatus,
    IpSetConflictError,
    IpSetFullError,
    StatePort,
    WafPort,
    container_lock,
)

# The container's lock (shared with block_ip, the expirer and `riposte unblock`): how long a holder keeps it,
# and how long a contender waits for it before giving up (the queue retries the event later).
LOCK_LEASE_SECONDS = 30
LOCK_WAIT_SECONDS = 20
LOCK_PAUSE_SECONDS = 0.2


class LockBusyError(Exception):
    """Another invocation kept the container's lock for the whole wait."""


def waf_port(ports: Ports) -> WafPort | None:
    """The WAF port the runtime built, if any."""
    return ports.waf


@contextmanager
def holding(state: StatePort, container: str, owner: str, *, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold ``container``'s lock for the block; ``LockBusyError`` when it stayed taken for ``wait_seconds``."""
    lock = container_lock(container)
    deadline = monotonic() + wait_seconds
    while not state.acquire_lock(lock, owner, time.time(), LOCK_LEASE_SECONDS):
        if monotonic() >= deadline:
            raise LockBusyError(f"another invocation kept {container} busy for {wait_seconds:g}s")
        pause(LOCK_PAUSE_SECONDS)
    try:
        yield
    finally:
        state.release_lock(lock, owner)


def add_block(waf: WafPort, state: StatePort, block: BlockRecord) -> tuple[Status, str, bool]:
    """Put ``block.cidr`` in the IP set ``block.acl_id`` and record it, under the set's lock: (status, detail,
    retryable). ``block`` is the record to keep once confirmed (its expiry, score, reason); block_ip's spill-over
    calls this too. An address already in the set is left as it is: recorded as ours only if it was."""
    owner = f"{block.event_id}#{secrets.token_hex(8)}"
    try:
        with holding(state, block.acl_id, owner):
            return _add_locked(waf, state, block)
    except LockBusyError as error:
        return Status.FAILED, str(error), True


def _add_locked(waf: WafPort, state: StatePort, block: BlockRecord) -> tuple[Status, str, bool]:
    container, cidr = block.acl_id, block.cidr
    if cidr in waf.addresses(container):
        ours = any(r.cidr == cidr and not r.egress for r in state.list_blocks((container,)))
        why = "blocked by Riposte earlier" if ours else "put there by someone else: left alone, not recorded"
        return Status.DONE, f"already in the set ({why})", False
    pending = replace(block, status=BlockStatus.PENDING, rule_number=0, egress=False)
    # Record first: if this write fails nothing was changed; the other order could leave an address that nobody
    # owns and nothing expires.
    state.record_block(pending)
    try:
        added = waf.add(container, cidr)
    except (IpSetFullError, IpSetConflictError) as error:
        state.discard_block(pending)
        return Status.FAILED, str(error), isinstance(error, IpSetConflictError)  # a conflict may pass later
    except Exception:
        state.discard_block(pending)
        raise
    if not added:
        # The address was absent when read, under the set's lock, and is there now: our own write landed on an
        # earlier try whose reply was lost (a person adding this very address in the same second is far less
        # likely). Recording it keeps the block owned, so it expires; leaving it unrecorded would block forever.
        state.record_block(replace(pending, status=BlockStatus.ACTIVE))
        return Status.DONE, f"added {cidr} (its write was retried), expires {block.expires_at}", False
    if cidr not in waf.addresses(container):
        return Status.FAILED, f"{cidr} was not found in the set when read back", True
    state.record_block(replace(pending, status=BlockStatus.ACTIVE))
    return Status.DONE, f"added {cidr}, expires {block.expires_at}", False


@ACTIONS.register
class BlockWaf(Action):
    name: ClassVar[str] = "block_waf"
    target_kind: ClassVar[str] = "ip"
    permissions: ClassVar[tuple[Permission, ...]] = (Permission(("wafv2:GetIPSet", "wafv2:UpdateIPSet"), "waf_ip_set"),)
    mutating_calls: ClassVar[tuple[str, ...]] = ("UpdateIPSet",)

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        if config.mode is Mode.ENFORCE and not config.waf.ip_sets:
            return [f"waf: mode 'enforce' with action '{cls.name}' needs waf.ip_sets"]
        return []

    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        # The same parties as block_ip: attackers acting on us over the network (a webhook alert's offender is
        # one: the HTTP front ends WAF protects are where it acted), and by config the peers our compromised
        # hosts reach out to.
        roles = (Role.ACTOR, Role.PEER) if config.blocks.outbound_peers else (Role.ACTOR,)
        return event.entities.having("ip", *roles, network=True)

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        # An IPv4-mapped target (::ffff:a.b.c.d) travels as IPv4: it belongs in an IPv4 set.
        cidr = guard.block_cidr(target)  # an IPv4-mapped address as IPv4; a network target as the network
        family = ipaddress.ip_network(cidr).version
        waf = waf_port(ctx.ports)
        if waf is None or not ctx.config.waf.ip_sets:
            if ctx.dry_run:
                # Dry run is how people try Riposte before configuring targets: say what it would do and what
                # is missing, without failing the trial.
                detail = f"would add {cidr} to a WAF IP set, but none is configured (waf.ip_sets) (dry run)"
                return Outcome(self.name, target, Status.DRY_RUN, detail)
            return Outcome(self.name, target, Status.FAILED, "no WAF IP set to add to: set waf.ip_sets")
        containers = [c for c in waf.sets() if waf.family(c) == family]
        if not containers:
            return Outcome(self.name, target, Status.FAILED, f"no IPv{family} WAF IP set is configured (waf.ip_sets)")
        results = [self._block_in(container, cidr, waf, ctx) for container in containers]
        detail = "; ".join(f"{c}: {text}" for c, (_, text, _) in zip(containers, results, strict=True))
        if any(status is Status.FAILED for status, _, _ in results):
            return Outcome(self.name, target, Status.FAILED, detail, retryable=any(r for _, _, r in results))
        return Outcome(self.name, target, Status.DRY_RUN if ctx.dry_run else Status.DONE, detail)

    def _block_in(self, container: str, cidr: str, waf: WafPort, ctx: ActionContext) -> tuple[Status, str, bool]:
        if ctx.dry_run:  # read only: UpdateIPSet is never called
            held = waf.addresses(container)
            if cidr in held:
                return Status.DONE, "already in the set", False
            if len(held) >= ctx.config.waf.max_addresses:
                return Status.FAILED, f"set is full: {len(held)} of {ctx.config.waf.max_addresses} addresses", False
            return Status.DRY_RUN, f"would add {cidr} (dry run)", False
        hours = ctx.config.blocks.ttl_hours
        block = BlockRecord(
            acl_id=container,
            cidr=cidr,
            rule_number=0,
            egress=False,
            event_id=ctx.event.id,
            created_at=ctx.now.isoformat(),
            expires_at=(ctx.now + timedelta(hours=hours)).isoformat(),
            status=BlockStatus.PENDING,
            reason=ctx.event.title or ctx.event.type,
            incident=ctx.event.notification_key,
        )
        return add_block(waf, ctx.ports.state, block)


# Module-level so tests can replace them (no real sleeping in unit tests).
pause: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic
