"""Pure planning of a NACL deny entry: which rule number, or why none.

Safety rules, all enforced here and tested without AWS:
- only numbers inside the configured managed range are ever chosen;
- an existing entry is never overwritten: a number in use, by anyone, is skipped;
- the per-direction rule quota counts every non-default entry (ours and the user's);
- an address already denied inside the range is reported, not added again (redelivery adds nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry

DEFAULT_RULE = 32767  # the catch-all entry AWS adds to every NACL; never counted, never touched


class BlockVerdict(StrEnum):
    ADD = "add"
    ALREADY = "already"
    RANGE_FULL = "range_full"
    QUOTA_FULL = "quota_full"


@dataclass(frozen=True, slots=True)
class BlockPlan:
    verdict: BlockVerdict
    rule_number: int | None
    detail: str
    # Every free number of the range, lowest first (the first is ``rule_number``); empty unless ADD.
    free: tuple[int, ...] = ()


def host_cidr(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    return f"{address}/{address.max_prefixlen}"


def plan_block(
    entries: Iterable[NaclEntry], cidr: str, *, egress: bool, rule_range: tuple[int, int], quota: int
) -> BlockPlan:
    low, high = rule_range
    same_direction = [e for e in entries if e.egress == egress and e.rule_number != DEFAULT_RULE]
    for entry in same_direction:
        if entry.cidr == cidr and entry.rule_action == "deny" and low <= entry.rule_number <= high:
            return BlockPlan(BlockVerdict.ALREADY, entry.rule_number, f"already denied by rule {entry.rule_number}")
    if len(same_direction) >= quota:
        return BlockPlan(
            BlockVerdict.QUOTA_FULL,
            None,
            f"rule quota reached: {len(same_direction)} of {quota} {'egress' if egress else 'ingress'} rules in use",
        )
    used = {e.rule_number for e in same_direction}
    free = tuple(n for n in range(low, high + 1) if n not in used)
    if free:
        return BlockPlan(BlockVerdict.ADD, free[0], f"deny {cidr} as rule {free[0]}", free)
    return BlockPlan(BlockVerdict.RANGE_FULL, None, f"managed range {low}-{high} is full")


class RoomVerdict(StrEnum):
    EVICT = "evict"  # reuse the number of the least valuable block Riposte owns
    AGGREGATE = "aggregate"  # one covering CIDR replaces blocks of neighbouring addresses, the new one included
    NONE = "none"  # no room here (the caller may spill over to a WAF IP set, or refuses)


@dataclass(frozen=True, slots=True)
class Room:
    verdict: RoomVerdict
    detail: str
    evict: BlockRecord | None = None
    aggregate: str | None = None  # the covering CIDR
    members: tuple[BlockRecord, ...] = ()  # the records (and entries) the aggregate replaces


# A repeat offender's block is worth more: each earlier offence adds this much (up to four).
OFFENCE_VALUE = 5


def block_value(score: int, offences: int) -> int:
    return score + OFFENCE_VALUE * min(max(offences - 1, 0), 4)


def owned(entries: Iterable[NaclEntry], records: Iterable[BlockRecord], *, egress: bool) -> list[BlockRecord]:
    """Active records whose entry is live at their number with their CIDR: what Riposte may evict or merge."""
    live = {(e.rule_number, e.cidr) for e in entries if e.egress == egress and e.rule_action == "deny"}
    return [
        r for r in records if r.egress == egress and r.status == BlockStatus.ACTIVE and (r.rule_number, r.cidr) in live
    ]


def make_room(
    entries: Iterable[NaclEntry],
    records: Iterable[BlockRecord],
    cidr: str,
    *,
    value: int,
    egress: bool,
    strategies: Iterable[str],
    max_prefix: dict[int, int],
    refuse: Callable[[ipaddress.IPv4Network | ipaddress.IPv6Network], str | None],
) -> Room:
    """How to fit ``cidr`` into an ACL whose managed range or quota is full, trying ``strategies`` in order:
    "aggregate" (the smallest covering CIDR, no wider than ``max_prefix[version]``, that covers at least one
    address Riposte already blocks there, and that ``refuse`` accepts: never over a protected address) and
    "evict" (the least valuable block, if it is worth less than ``value``: score plus repeat offences, the
    older first on a tie). Only entries Riposte owns are ever touched."""
    mine = owned(entries, records, egress=egress)
    target = ipaddress.ip_network(cidr)
    reasons: list[str] = []
    for strategy in strategies:
        if strategy == "aggregate":
            limit = max_prefix.get(target.version, 0)
            if not limit:
                reasons.append("aggregation is off")
                continue
            for length in range(target.prefixlen - 1, limit - 1, -1):
                covering = target.supernet(new_prefix=length)
                members = tuple(r for r in mine if ipaddress.ip_network(r.cidr).subnet_of(covering))  # type: ignore[arg-type]
                if not members:
                    continue
                if why := refuse(covering):
                    reasons.append(f"cannot aggregate into {covering}: {why}")
                    break
                names = ", ".join(r.cidr for r in members)
                return Room(
                    RoomVerdict.AGGREGATE, f"{covering} replaces {names}", aggregate=str(covering), members=members
                )
            else:
                reasons.append(f"no blocked neighbour within /{limit}")
        elif strategy == "evict":
            if not mine:
                reasons.append("no block of Riposte's to evict")
                continue
            victim = min(mine, key=lambda r: (block_value(r.score, r.offences), r.created_at, r.rule_number))
            worth = block_value(victim.score, victim.offences)
            if worth >= value:
                reasons.append(f"every block here is worth at least as much (lowest {worth} >= {value})")
                continue
            since = victim.created_at
            detail = f"evicting {victim.cidr} (rule {victim.rule_number}, worth {worth} < {value}, since {since})"
            return Room(RoomVerdict.EVICT, detail, evict=victim)
    return Room(RoomVerdict.NONE, "; ".join(reasons) or "no strategy to make room")
