"""Carrying maintenance out through the ports (in memory): under the container's lock, audited, verified,
dry-run making no change, one broken container not stopping the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from riposte.actions import block_waf as block_waf_module
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.adapters.waf_memory import MemoryWaf
from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry
from riposte.engine import maintenance
from riposte.engine.maintenance import Targets, expiry_planner, unblock_planner

ACL = "acl-0123456789abcdef0"
OTHER_ACL = "acl-0fedcba9876543210"
WAF = "waf:REGIONAL:riposte-v4:3c9248bb-52cc-47e0-a27b-08ec2b70786e"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EXPIRED = NOW - timedelta(minutes=1)
LATER = NOW + timedelta(hours=3)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000, 3))
    monkeypatch.setattr(block_waf_module, "pause", lambda _: None)
    monkeypatch.setattr(block_waf_module, "monotonic", lambda: float(next(clock)))


def rec(container: str, number: int, cidr: str, expires: datetime, *, event: str = "") -> BlockRecord:
    return BlockRecord(
        acl_id=container,
        cidr=cidr,
        rule_number=number,
        egress=False,
        event_id=event or f"event-{cidr}",
        created_at=(expires - timedelta(hours=24)).isoformat(),
        expires_at=expires.isoformat(),
        status=BlockStatus.ACTIVE,
    )


def deny(number: int, cidr: str) -> NaclEntry:
    return NaclEntry(number, False, "deny", cidr)


def world(*records: BlockRecord) -> tuple[Targets, MemoryNacls, MemoryState, MemoryWaf]:
    nacls = MemoryNacls(
        {
            ACL: [
                deny(1, "91.240.118.77/32"),  # ours, expired
                deny(2, "45.13.104.7/32"),  # ours, running
                deny(3, "193.32.162.5/32"),  # a person's, inside the managed range
                deny(150, "193.32.162.6/32"),  # a person's, outside it
                NaclEntry(32767, False, "deny", "0.0.0.0/0"),
            ]
        }
    )
    waf = MemoryWaf({WAF: (4, ["185.156.72.9/32", "193.32.162.7/32"])})
    state = MemoryState()
    for record in records:
        state.record_block(record)
    return Targets(nacl=nacls, state=state, waf=waf), nacls, state, waf


def ours() -> tuple[BlockRecord, ...]:
    return (
        rec(ACL, 1, "91.240.118.77/32", EXPIRED),
        rec(ACL, 2, "45.13.104.7/32", LATER),
        rec(WAF, 0, "185.156.72.9/32", EXPIRED),
    )


def expire(targets: Targets, *, dry_run: bool = False) -> maintenance.Report:
    return maintenance.run(targets, expiry_planner(NOW, (1, 99)), now=NOW, dry_run=dry_run)


def test_expiry_removes_exactly_the_expired_entries_it_owns_and_audits_each() -> None:
    targets, nacls, state, waf = world(*ours())
    report = expire(targets)
    assert report.ok
    assert [e.cidr for e in nacls.acls[ACL]] == ["45.13.104.7/32", "193.32.162.5/32", "193.32.162.6/32", "0.0.0.0/0"]
    assert waf.ip_sets[WAF][1] == ["193.32.162.7/32"]
    assert sorted(k[2] for k in state.blocks) == ["45.13.104.7/32"]
    assert [(r["event_id"], r["container"], r["cidr"]) for r in report.as_dict()["removed"]] == [
        ("event-91.240.118.77/32", ACL, "91.240.118.77/32"),
        ("event-185.156.72.9/32", WAF, "185.156.72.9/32"),
    ]
    assert [(a.event_id, a.kind, a.name, a.status) for a in state.audit] == [
        ("event-91.240.118.77/32", "expiry", "block_ip", "removed"),
        ("event-185.156.72.9/32", "expiry", "block_waf", "removed"),
    ]
    assert nacls.calls == [("DeleteNetworkAclEntry", ACL, 1)]
    # The person's entries are reported, never touched.
    counts = report.counts()
    assert (counts["removed"], counts["unmanaged"], counts["missing"]) == (2, 2, 0)
    assert {f.cidr for f in report.findings} == {"193.32.162.5/32", "193.32.162.7/32"}
    assert state.locks == {}


def test_a_manually_deleted_entry_is_reported_and_its_record_retired_never_recreated() -> None:
    targets, nacls, state, _ = world(*ours())
    nacls.acls[ACL] = [e for e in nacls.acls[ACL] if e.rule_number != 2]  # a person removed our rule 2
    report = expire(targets)
    missing = [f for f in report.findings if f.kind is maintenance.DriftKind.MISSING]
    assert [(f.cidr, f.rule_number) for f in missing] == [("45.13.104.7/32", 2)]
    assert (ACL, False, "45.13.104.7/32") not in state.blocks
    assert not any(c[0] == "CreateNetworkAclEntry" for c in nacls.calls)
    assert ("event-45.13.104.7/32", "reconcile", "forgotten") in [(a.event_id, a.kind, a.status) for a in state.audit]
    assert expire(targets).counts()["missing"] == 0  # retired: not reported again


def test_dry_run_changes_nothing_and_audits_nothing() -> None:
    targets, nacls, state, waf = world(*ours())
    before = dict(state.blocks)
    report = expire(targets, dry_run=True)
    assert (nacls.calls, waf.calls, state.audit) == ([], [], [])
    assert state.blocks == before
    assert [a.status for a in report.applied] == ["dry_run", "dry_run"]
    assert report.as_dict()["mode"] == "dry_run"
    assert report.removed == []


def test_a_container_held_by_another_writer_is_left_for_the_next_run() -> None:
    targets, nacls, state, waf = world(*ours())
    assert state.acquire_lock(f"nacl#{ACL}", "block_ip#someone", now=4e9, lease_seconds=30)
    report = expire(targets)
    assert [c for c, _ in report.skipped] == [ACL]
    assert "busy" in report.skipped[0][1]
    assert nacls.calls == []
    assert waf.calls == [("UpdateIPSet", WAF, "185.156.72.9/32")]  # the other container went ahead


class BrokenNacls(MemoryNacls):
    def entries(self, acl_id: str) -> tuple[NaclEntry, ...]:
        if acl_id == ACL:
            raise ConnectionError("throttled")
        return super().entries(acl_id)


def test_a_broken_container_is_reported_and_the_others_are_maintained() -> None:
    _, _, state, waf = world(*ours())
    nacls = BrokenNacls({ACL: [], OTHER_ACL: []})
    report = expire(Targets(nacl=nacls, state=state, waf=waf))
    assert report.failed == [(ACL, "ConnectionError: throttled")]
    assert not report.ok
    assert waf.ip_sets[WAF][1] == ["193.32.162.7/32"]
    assert state.locks == {}


class DeletesNothing(MemoryNacls):
    def remove_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> bool:
        return True


def test_a_removal_that_does_not_read_back_is_a_failure() -> None:
    _, nacls, state, _ = world(*ours())
    broken = DeletesNothing(nacls.acls)
    report = expire(Targets(nacl=broken, state=state, waf=None))
    (applied,) = report.applied
    assert applied.status == "failed"
    assert "still present when read back" in applied.detail
    assert not report.ok
    assert [(a.status) for a in state.audit] == ["removed", "failed"]


class ChangesUnderUs(MemoryNacls):
    def remove_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> bool:
        return False  # between our read and the delete, the entry at that number became someone else's


def test_an_entry_changed_before_the_delete_is_not_deleted_and_the_record_is_forgotten() -> None:
    _, nacls, state, _ = world(*ours())
    report = expire(Targets(nacl=ChangesUnderUs(nacls.acls), state=state, waf=None))
    assert [a.status for a in report.applied] == ["forgotten"]
    assert (ACL, False, "91.240.118.77/32") not in state.blocks
    assert report.removed == []


def test_containers_are_not_started_without_time_to_finish_them() -> None:
    targets, nacls, _, waf = world(*ours())
    report = maintenance.run(targets, expiry_planner(NOW, (1, 99)), now=NOW, dry_run=False, time_left=lambda: 9.9)
    assert [c for c, _ in report.skipped] == [ACL, WAF]
    assert (nacls.calls, waf.calls) == ([], [])
    report = maintenance.run(targets, expiry_planner(NOW, (1, 99)), now=NOW, dry_run=False, time_left=lambda: 10.0)
    assert report.skipped == []


def test_unblock_removes_every_block_of_the_address_it_owns_in_every_container() -> None:
    records = (
        rec(ACL, 1, "91.240.118.77/32", LATER),
        rec(WAF, 0, "91.240.118.77/32", LATER),
        rec(ACL, 2, "45.13.104.7/32", LATER),
    )
    targets, nacls, state, waf = world(*records)
    waf.ip_sets[WAF][1].append("91.240.118.77/32")
    report = maintenance.run(targets, unblock_planner("91.240.118.77"), now=NOW, dry_run=False)
    assert [(a.container, a.status) for a in report.applied] == [(ACL, "removed"), (WAF, "removed")]
    assert "91.240.118.77/32" not in [e.cidr for e in nacls.acls[ACL]]
    assert "91.240.118.77/32" not in waf.ip_sets[WAF][1]
    assert sorted(k[2] for k in state.blocks) == ["45.13.104.7/32"]
    assert {(a.kind, a.status) for a in state.audit} == {("unblock", "removed")}


def test_an_unknown_address_fails_before_any_lock() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        unblock_planner("not-an-ip")
