"""Pure planning of a NACL deny entry: which rule number, or why none.

Safety rules, all enforced here and tested without AWS:
- only numbers inside the configured managed range are ever chosen;
- an existing entry is never overwritten: a number in use, by anyone, is skipped;
- the per-direction rule quota counts every non-default entry (ours and the user's);
- an address already denied inside the range is reported, not added again (redelivery adds nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from riposte.core.ports import NaclEntry

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
