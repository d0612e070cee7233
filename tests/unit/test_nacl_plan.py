from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riposte.core.nacl import DEFAULT_RULE, BlockVerdict, host_cidr, plan_block
from riposte.core.ports import NaclEntry


def entry(number: int, action: str = "allow", cidr: str = "0.0.0.0/0", egress: bool = False) -> NaclEntry:
    return NaclEntry(number, egress, action, cidr)


def test_lowest_free_number_in_the_range_is_chosen_around_foreign_rules() -> None:
    entries = [
        entry(1, "deny", "192.0.2.9/32"),
        entry(2, "deny", "192.0.2.10/32"),
        entry(100),
        entry(DEFAULT_RULE, "deny"),
    ]
    plan = plan_block(entries, "45.13.105.9/32", egress=False, rule_range=(1, 99), quota=20)
    assert plan.verdict is BlockVerdict.ADD
    assert plan.rule_number == 3


def test_an_address_already_denied_in_the_range_is_not_added_again() -> None:
    entries = [entry(7, "deny", "45.13.105.9/32")]
    plan = plan_block(entries, "45.13.105.9/32", egress=False, rule_range=(1, 99), quota=20)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ALREADY, 7)


def test_a_full_range_is_reported_not_overwritten() -> None:
    entries = [entry(n, "deny", f"198.51.100.{n}/32") for n in range(10, 13)]
    plan = plan_block(entries, "45.13.105.9/32", egress=False, rule_range=(10, 12), quota=20)
    assert plan.verdict is BlockVerdict.RANGE_FULL
    assert plan.rule_number is None
    assert plan.detail == "managed range 10-12 is full"


def test_the_quota_counts_every_non_default_rule_in_the_direction() -> None:
    # 19 of the user's rules plus the default: one slot left; another egress rule does not count.
    entries = [entry(100 + n) for n in range(19)] + [entry(DEFAULT_RULE, "deny"), entry(100, egress=True)]
    assert plan_block(entries, "45.13.105.9/32", egress=False, rule_range=(1, 99), quota=20).rule_number == 1
    full = [*entries, entry(200)]
    plan = plan_block(full, "45.13.105.9/32", egress=False, rule_range=(1, 99), quota=20)
    assert plan.verdict is BlockVerdict.QUOTA_FULL
    assert "20 of 20 ingress rules" in plan.detail


def test_other_direction_does_not_count_as_already_blocked() -> None:
    entries = [entry(7, "deny", "45.13.105.9/32", egress=True)]
    plan = plan_block(entries, "45.13.105.9/32", egress=False, rule_range=(1, 99), quota=20)
    assert plan.verdict is BlockVerdict.ADD


@pytest.mark.parametrize(("ip", "cidr"), [("45.13.105.9", "45.13.105.9/32"), ("2001:db8::1", "2001:db8::1/128")])
def test_host_cidr(ip: str, cidr: str) -> None:
    assert host_cidr(ip) == cidr


@given(
    used=st.sets(st.integers(min_value=1, max_value=200), max_size=60),
    low=st.integers(min_value=1, max_value=150),
    width=st.integers(min_value=0, max_value=50),
)
def test_a_chosen_number_is_always_free_and_inside_the_range(used: set[int], low: int, width: int) -> None:
    high = low + width
    entries = [entry(n) for n in used]
    plan = plan_block(entries, "45.13.105.9/32", egress=False, rule_range=(low, high), quota=40)
    if plan.verdict is BlockVerdict.ADD:
        assert plan.rule_number is not None
        assert low <= plan.rule_number <= high
        assert plan.rule_number not in used
    elif plan.verdict is BlockVerdict.RANGE_FULL:
        assert set(range(low, high + 1)) <= used
    else:
        assert plan.verdict is BlockVerdict.QUOTA_FULL
        assert len(used) >= 40
