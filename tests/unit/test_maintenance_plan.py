"""The pure expiry/reconciliation/unblock planners: what they remove, forget, confirm and report, and the
property that matters most: no entry is ever removed without a record naming it exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry
from riposte.engine.maintenance import (
    PENDING_LEASE,
    DriftKind,
    StepKind,
    owns,
    plan_expiry,
    plan_unblock,
    waf_entries,
)

ACL = "acl-0123456789abcdef0"
WAF = "waf:REGIONAL:riposte-v4:3c9248bb-52cc-47e0-a27b-08ec2b70786e"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RANGE = (1, 99)


def record(
    number: int,
    cidr: str,
    *,
    expires: datetime,
    status: str = BlockStatus.ACTIVE,
    egress: bool = False,
    created: datetime | None = None,
    container: str = ACL,
) -> BlockRecord:
    return BlockRecord(
        acl_id=container,
        cidr=cidr,
        rule_number=number,
        egress=egress,
        event_id=f"event-{number}-{cidr}",
        created_at=(created or expires - timedelta(hours=24)).isoformat(),
        expires_at=expires.isoformat(),
        status=status,
    )


def deny(number: int, cidr: str, *, egress: bool = False) -> NaclEntry:
    return NaclEntry(number, egress, "deny", cidr)


def kinds(plan_steps: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(str(s.kind), s.record.cidr) for s in plan_steps]  # type: ignore[attr-defined]


def test_expiry_removes_exactly_the_expired_entries_it_owns() -> None:
    expired = record(1, "91.240.118.77/32", expires=NOW - timedelta(seconds=1))
    at_the_second = record(2, "45.13.104.7/32", expires=NOW)  # expires_at == now: expired
    still_running = record(3, "185.156.72.9/32", expires=NOW + timedelta(microseconds=1))
    live = (deny(1, "91.240.118.77/32"), deny(2, "45.13.104.7/32"), deny(3, "185.156.72.9/32"))
    plan = plan_expiry(ACL, [expired, at_the_second, still_running], live, NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [("remove", "91.240.118.77/32"), ("remove", "45.13.104.7/32")]
    assert {s.audit for s in plan.steps} == {"expiry"}
    assert plan.findings == ()


def test_an_expired_record_whose_entry_is_gone_or_changed_is_forgotten_and_reported() -> None:
    gone = record(1, "91.240.118.77/32", expires=NOW - timedelta(hours=1))
    renumbered = record(2, "45.13.104.7/32", expires=NOW - timedelta(hours=1))
    live = (deny(2, "193.32.162.5/32"),)  # someone reused number 2 for another address
    plan = plan_expiry(ACL, [gone, renumbered], live, NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [("forget", "91.240.118.77/32"), ("forget", "45.13.104.7/32")]
    assert [f.kind for f in plan.findings if f.cidr != "193.32.162.5/32"] == [DriftKind.MISSING, DriftKind.MISSING]
    assert "rule 2 now denies 193.32.162.5/32" in plan.steps[1].why
    # The reused number's entry has no record of ours: reported, never in a step.
    assert [(f.kind, f.rule_number) for f in plan.findings if f.cidr == "193.32.162.5/32"] == [(DriftKind.UNMANAGED, 2)]


def test_a_record_without_its_entry_is_retired_never_recreated() -> None:
    manual_deletion = record(4, "91.240.118.77/32", expires=NOW + timedelta(hours=5))
    plan = plan_expiry(ACL, [manual_deletion], (), NOW, rule_range=RANGE)
    (step,) = plan.steps
    assert (step.kind, step.audit) == (StepKind.FORGET, "reconcile")
    assert "removed by hand?" in step.why
    (finding,) = plan.findings
    assert (finding.kind, finding.cidr, finding.rule_number) == (DriftKind.MISSING, "91.240.118.77/32", 4)


def test_an_allow_at_the_records_number_is_not_ours_to_remove() -> None:
    expired = record(5, "91.240.118.77/32", expires=NOW - timedelta(hours=1))
    live = (NaclEntry(5, False, "allow", "91.240.118.77/32"),)
    plan = plan_expiry(ACL, [expired], live, NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [("forget", "91.240.118.77/32")]


def test_the_direction_is_part_of_ownership() -> None:
    egress = record(6, "91.240.118.77/32", expires=NOW - timedelta(hours=1), egress=True)
    live = (deny(6, "91.240.118.77/32", egress=False),)  # the ingress entry at 6 is someone else's
    plan = plan_expiry(ACL, [egress], live, NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [("forget", "91.240.118.77/32")]
    assert [(f.kind, f.egress) for f in plan.findings] == [(DriftKind.MISSING, True), (DriftKind.UNMANAGED, False)]
    plan = plan_expiry(ACL, [egress], (deny(6, "91.240.118.77/32", egress=True),), NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [("remove", "91.240.118.77/32")]


def test_entries_in_the_managed_range_without_a_record_are_reported_and_never_touched() -> None:
    live = (
        deny(1, "193.32.162.5/32"),  # low end of the range
        NaclEntry(99, True, "allow", "0.0.0.0/0"),  # high end, egress
        deny(100, "193.32.162.6/32"),  # just above the range: not Riposte's business
        NaclEntry(32767, False, "deny", "0.0.0.0/0"),  # the default rule
    )
    plan = plan_expiry(ACL, [], live, NOW, rule_range=RANGE)
    assert plan.steps == ()
    assert [(f.kind, f.rule_number, f.egress) for f in plan.findings] == [
        (DriftKind.UNMANAGED, 1, False),
        (DriftKind.UNMANAGED, 99, True),
    ]


def test_pending_records_are_left_alone_for_the_lease_then_confirmed_or_discarded() -> None:
    expires = NOW + timedelta(hours=24)
    fresh = record(1, "91.240.118.77/32", expires=expires, status="pending", created=NOW - PENDING_LEASE / 2)
    just_stale = record(2, "45.13.104.7/32", expires=expires, status="pending", created=NOW - PENDING_LEASE)
    abandoned = record(3, "185.156.72.9/32", expires=expires, status="pending", created=NOW - PENDING_LEASE * 3)
    stale_expired = record(
        4, "193.32.162.9/32", expires=NOW - timedelta(seconds=1), status="pending", created=NOW - timedelta(hours=2)
    )
    live = (deny(1, "91.240.118.77/32"), deny(2, "45.13.104.7/32"), deny(4, "193.32.162.9/32"))
    plan = plan_expiry(ACL, [fresh, just_stale, abandoned, stale_expired], live, NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [
        ("confirm", "45.13.104.7/32"),
        ("discard", "185.156.72.9/32"),
        ("remove", "193.32.162.9/32"),
    ]
    assert plan.findings == ()  # a fresh pending record's entry is claimed, not unmanaged


def test_unreadable_records_are_reported_and_left_alone() -> None:
    bad = replace(record(1, "91.240.118.77/32", expires=NOW), expires_at="tomorrow")
    odd = replace(record(2, "45.13.104.7/32", expires=NOW - timedelta(days=1)), status="removed")
    pending = replace(record(3, "185.156.72.9/32", expires=NOW, status="pending"), created_at="")
    live = (deny(1, "91.240.118.77/32"), deny(2, "45.13.104.7/32"), deny(3, "185.156.72.9/32"))
    plan = plan_expiry(ACL, [bad, odd, pending], live, NOW, rule_range=RANGE)
    assert plan.steps == ()
    assert [f.kind for f in plan.findings] == [DriftKind.UNREADABLE] * 3


def test_waf_sets_are_planned_by_address() -> None:
    expired = record(0, "91.240.118.77/32", expires=NOW - timedelta(hours=1), container=WAF)
    retired = record(0, "2a0d:5600:24::10/128", expires=NOW + timedelta(hours=1), container=WAF)
    live = waf_entries(["91.240.118.77/32", "193.32.162.5/32"])
    plan = plan_expiry(WAF, [expired, retired], live, NOW, rule_range=RANGE)
    assert kinds(plan.steps) == [("remove", "91.240.118.77/32"), ("forget", "2a0d:5600:24::10/128")]
    assert [(f.kind, f.cidr) for f in plan.findings] == [
        (DriftKind.MISSING, "2a0d:5600:24::10/128"),
        (DriftKind.UNMANAGED, "193.32.162.5/32"),
    ]


def test_unblock_removes_every_owned_block_covering_the_address_and_forgets_stale_ones() -> None:
    later = NOW + timedelta(hours=5)
    host = record(1, "91.240.118.77/32", expires=later)
    covering = record(2, "91.240.118.0/24", expires=later)
    other = record(3, "45.13.104.7/32", expires=later)
    stale = record(4, "91.240.118.77/32", expires=later, egress=True)
    live = (deny(1, "91.240.118.77/32"), deny(2, "91.240.118.0/24"), deny(3, "45.13.104.7/32"))
    plan = plan_unblock(ACL, [host, covering, other, stale], live, "91.240.118.77")
    assert kinds(plan.steps) == [
        ("remove", "91.240.118.77/32"),
        ("remove", "91.240.118.0/24"),
        ("forget", "91.240.118.77/32"),
    ]
    assert {s.audit for s in plan.steps} == {"unblock"}
    assert "its other addresses too" in plan.steps[1].why
    assert plan_unblock(ACL, [host], live, "::ffff:91.240.118.77").steps[0].kind is StepKind.REMOVE
    assert plan_unblock(ACL, [host], live, "91.240.118.78").steps == ()
    assert plan_unblock(ACL, [host], live, "2a0d:5600:24::10").steps == ()


# --- property-based: never remove what no record names ------------------------------------------------------

CIDRS = ["91.240.118.77/32", "45.13.104.7/32", "185.156.72.9/32", "2a0d:5600:24::10/128"]
entry_strategy = st.builds(
    NaclEntry,
    rule_number=st.integers(1, 12),
    egress=st.booleans(),
    rule_action=st.sampled_from(["deny", "allow"]),
    cidr=st.sampled_from(CIDRS),
)
record_strategy = st.builds(
    lambda number, cidr, egress, status, expires_in, age: BlockRecord(
        acl_id=ACL,
        cidr=cidr,
        rule_number=number,
        egress=egress,
        event_id="e",
        created_at=(NOW - timedelta(minutes=age)).isoformat(),
        expires_at=(NOW + timedelta(minutes=expires_in)).isoformat(),
        status=status,
    ),
    st.integers(1, 12),
    st.sampled_from(CIDRS),
    st.booleans(),
    st.sampled_from([BlockStatus.ACTIVE, BlockStatus.PENDING]),
    st.integers(-120, 120),
    st.integers(0, 30),
)


def unique_entries(entries: list[NaclEntry]) -> tuple[NaclEntry, ...]:
    """A NACL holds one entry per number and direction."""
    return tuple({(e.rule_number, e.egress): e for e in entries}.values())


def unique_records(records: list[BlockRecord]) -> list[BlockRecord]:
    """The state table holds one record per ACL, direction and CIDR."""
    return list({(r.acl_id, r.egress, r.cidr): r for r in records}.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(record_strategy, max_size=8), st.lists(entry_strategy, max_size=10), st.integers(1, 12))
def test_no_entry_is_ever_removed_without_a_record_naming_it_exactly(
    records: list[BlockRecord], entries: list[NaclEntry], high: int
) -> None:
    records, live = unique_records(records), unique_entries(entries)
    for plan in (
        plan_expiry(ACL, records, live, NOW, rule_range=(1, high)),
        plan_unblock(ACL, records, live, "91.240.118.77"),
    ):
        for step in plan.steps:
            assert step.record in records
            if step.kind is StepKind.REMOVE:
                r = step.record
                assert deny(r.rule_number, r.cidr, egress=r.egress) in live
                assert owns(ACL, r, live)
        removed = {(s.record.rule_number, s.record.egress) for s in plan.steps if s.kind is StepKind.REMOVE}
        for entry in live:
            named = any(
                (r.rule_number, r.egress, r.cidr) == (entry.rule_number, entry.egress, entry.cidr) for r in records
            )
            if not named:
                assert (entry.rule_number, entry.egress) not in removed
    # Every entry in the managed range that no record names is reported as unmanaged; nothing else is.
    expiry = plan_expiry(ACL, records, live, NOW, rule_range=(1, high))
    unmanaged = {(f.rule_number, f.egress, f.cidr) for f in expiry.findings if f.kind is DriftKind.UNMANAGED}
    named = {(r.rule_number, r.egress, r.cidr) for r in records}
    assert unmanaged == {
        (e.rule_number, e.egress, e.cidr)
        for e in live
        if e.rule_number <= high and (e.rule_number, e.egress, e.cidr) not in named
    }
