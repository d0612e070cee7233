from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riposte.core.nacl import DEFAULT_RULE, BlockPlan, BlockVerdict, host_cidr, plan_block
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


# --- exact boundaries ------------------------------------------------------------------------------------------

ATTACKER = "45.13.105.9/32"


def test_the_default_rule_is_awss_catch_all_number() -> None:
    # AWS gives every NACL a catch-all entry numbered 32767 ("*" in the console) that cannot be changed.
    assert DEFAULT_RULE == 32767


@pytest.mark.parametrize("number", [10, 11, 19, 20])
def test_a_deny_at_either_end_of_the_managed_range_is_recognised_on_redelivery(number: int) -> None:
    plan = plan_block([entry(number, "deny", ATTACKER)], ATTACKER, egress=False, rule_range=(10, 20), quota=20)
    assert plan == BlockPlan(BlockVerdict.ALREADY, number, f"already denied by rule {number}", ())


@pytest.mark.parametrize("number", [9, 21])
def test_a_deny_just_outside_the_managed_range_is_someone_elses_and_ours_is_added(number: int) -> None:
    plan = plan_block([entry(number, "deny", ATTACKER)], ATTACKER, egress=False, rule_range=(10, 20), quota=20)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ADD, 10)


def test_an_allow_entry_for_the_address_is_not_a_block() -> None:
    plan = plan_block([entry(12, "allow", ATTACKER)], ATTACKER, egress=False, rule_range=(10, 20), quota=20)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ADD, 10)


def test_a_deny_of_another_address_is_not_a_block_of_this_one() -> None:
    plan = plan_block([entry(10, "deny", "45.13.105.8/32")], ATTACKER, egress=False, rule_range=(10, 20), quota=20)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ADD, 11)


def test_an_add_names_every_free_number_of_the_range_lowest_first() -> None:
    entries = [entry(11, "deny", "45.13.105.8/32"), entry(13), entry(15, egress=True), entry(DEFAULT_RULE, "deny")]
    plan = plan_block(entries, ATTACKER, egress=False, rule_range=(10, 15), quota=20)
    assert plan == BlockPlan(BlockVerdict.ADD, 10, f"deny {ATTACKER} as rule 10", (10, 12, 14, 15))


def test_the_top_number_of_the_range_is_used_when_it_is_the_only_one_left() -> None:
    entries = [entry(n) for n in range(10, 15)]
    assert plan_block(entries, ATTACKER, egress=False, rule_range=(10, 15), quota=20).free == (15,)
    plan = plan_block([*entries, entry(15)], ATTACKER, egress=False, rule_range=(10, 15), quota=20)
    assert plan == BlockPlan(BlockVerdict.RANGE_FULL, None, "managed range 10-15 is full", ())


@pytest.mark.parametrize(("egress", "word"), [(False, "ingress"), (True, "egress")])
def test_the_quota_is_reached_exactly_at_its_value_in_the_planned_direction(egress: bool, word: str) -> None:
    theirs = [entry(100 + n, egress=egress) for n in range(2)]
    other_direction = [entry(200 + n, egress=not egress) for n in range(5)]
    below = plan_block(theirs + other_direction, ATTACKER, egress=egress, rule_range=(1, 99), quota=3)
    assert (below.verdict, below.rule_number) == (BlockVerdict.ADD, 1)
    full = [*theirs, entry(102, egress=egress), *other_direction]
    plan = plan_block(full, ATTACKER, egress=egress, rule_range=(1, 99), quota=3)
    assert plan == BlockPlan(BlockVerdict.QUOTA_FULL, None, f"rule quota reached: 3 of 3 {word} rules in use", ())


def test_the_default_rule_never_counts_against_the_quota_nor_as_a_block() -> None:
    default = NaclEntry(DEFAULT_RULE, False, "deny", ATTACKER)  # even if it denied the very address
    plan = plan_block([default], ATTACKER, egress=False, rule_range=(1, 32766), quota=1)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ADD, 1)


def test_an_already_denied_address_is_reported_even_when_the_quota_is_full() -> None:
    # A redelivery must find its own entry, not fail for a quota its own entry fills.
    entries = [entry(1, "deny", ATTACKER), entry(100)]
    plan = plan_block(entries, ATTACKER, egress=False, rule_range=(1, 99), quota=2)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ALREADY, 1)


def test_the_planned_direction_decides_which_entries_count() -> None:
    entries = [entry(1, "deny", ATTACKER, egress=True), entry(2, egress=True)]
    plan = plan_block(entries, ATTACKER, egress=True, rule_range=(1, 99), quota=20)
    assert (plan.verdict, plan.rule_number) == (BlockVerdict.ALREADY, 1)
    assert plan_block(entries, ATTACKER, egress=False, rule_range=(1, 99), quota=20).rule_number == 1


@pytest.mark.parametrize(
    ("ip", "cidr"),
    [("2A0D:5600:0024:0000:0000:0000:0000:0001", "2a0d:5600:24::1/128"), ("91.240.118.77", "91.240.118.77/32")],
)
def test_host_cidr_is_canonical_so_one_address_is_always_one_entry(ip: str, cidr: str) -> None:
    assert host_cidr(ip) == cidr
