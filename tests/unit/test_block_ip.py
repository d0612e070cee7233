"""block_ip under contention: truthful records (pending -> active), one writer per ACL, lost attempts take
back their own claims, and deletions that verify number, CIDR and ACL together."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from riposte.actions import ActionContext, Ports
from riposte.actions import block_ip as block_ip_module
from riposte.actions.block_ip import ATTEMPTS, LOCK_ATTEMPTS, LOCK_WAIT_SECONDS, BlockIp
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core.model import Outcome, Status
from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry
from riposte.engine import pipeline, setup
from tests.conftest import load_event

ACL = "acl-0123456789abcdef0"
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
CONFIG = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 99]}})
EVENT = pipeline.plan(load_event("c2_activity_outbound.json"), CONFIG).event


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(block_ip_module, "pause", pauses.append)
    return pauses


def block(target: str, nacls: MemoryNacls, state: MemoryState, config: object = CONFIG) -> Outcome:
    ctx = ActionContext(event=EVENT, config=config, ports=Ports(nacl=nacls, state=state), now=NOW)  # type: ignore[arg-type]
    return BlockIp().execute(target, ctx)


class TakesNumbers(MemoryNacls):
    """Someone outside Riposte takes the number we picked, ``times`` times."""

    def __init__(self, times: int) -> None:
        super().__init__({ACL: []})
        self.times = times

    def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
        if self.times > 0:
            self.times -= 1
            self.acls[acl_id].append(NaclEntry(rule_number, egress, "deny", f"34.120.9.{rule_number}/32"))
        super().add_deny(acl_id, rule_number, cidr, egress=egress)


def test_a_confirmed_block_is_recorded_active_with_the_number_it_got() -> None:
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.detail) == (Status.DONE, f"{ACL}: added 91.240.118.77/32 as rule 1, expires in 24h")
    assert state.blocks == {
        (ACL, False, "91.240.118.77/32"): BlockRecord(
            acl_id=ACL,
            cidr="91.240.118.77/32",
            rule_number=1,
            egress=False,
            event_id=EVENT.id,
            created_at="2026-11-28T04:00:00+00:00",
            expires_at="2026-11-29T04:00:00+00:00",
            status=BlockStatus.ACTIVE,
            score=0,
            offences=1,
            reason=f"{EVENT.type}: {EVENT.title}",
        )
    }
    assert state.locks == {}  # the ACL's lock was given back


def test_a_lost_attempt_removes_its_own_pending_record_and_the_retry_records_the_number_used() -> None:
    nacls, state = TakesNumbers(times=2), MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert outcome.status is Status.DONE
    (record,) = state.blocks.values()
    mine = [e for e in nacls.acls[ACL] if e.cidr == "91.240.118.77/32"]
    assert [(e.rule_number) for e in mine] == [record.rule_number]
    assert record.status == BlockStatus.ACTIVE
    others = {e.rule_number for e in nacls.acls[ACL]} - {record.rule_number}
    assert len(others) == 2
    assert record.rule_number not in others


def test_retries_are_exhausted_when_every_number_is_taken_and_no_record_is_left(no_sleeping: list[float]) -> None:
    nacls, state = TakesNumbers(times=ATTEMPTS), MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert outcome.detail == f"{ACL}: rule numbers kept being taken concurrently ({ATTEMPTS} attempts)"
    assert state.blocks == {}
    assert not [e for e in nacls.acls[ACL] if e.cidr == "91.240.118.77/32"]
    assert len(no_sleeping) == ATTEMPTS  # backed off after each collision


def test_discarding_never_removes_another_claim() -> None:
    state = MemoryState()
    theirs = BlockRecord(ACL, "91.240.118.77/32", 5, False, "e1", "t", "t", BlockStatus.PENDING)
    state.record_block(theirs)
    state.discard_block(BlockRecord(ACL, "91.240.118.77/32", 6, False, "e2", "t", "t", BlockStatus.PENDING))
    assert list(state.blocks.values()) == [theirs]  # another number: not ours to take back
    active = BlockRecord(ACL, "91.240.118.77/32", 5, False, "e1", "t", "t", BlockStatus.ACTIVE)
    state.record_block(active)
    state.discard_block(theirs)
    assert list(state.blocks.values()) == [active]  # confirmed: never discarded


def test_an_entry_that_cannot_be_read_back_leaves_the_record_pending_and_retries() -> None:
    class Forgetful(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            self.calls.append(("CreateNetworkAclEntry", acl_id, rule_number))  # accepted, but never shows up

    state = MemoryState()
    outcome = block("91.240.118.77", Forgetful({ACL: []}), state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert "not found when read back" in outcome.detail
    assert [r.status for r in state.blocks.values()] == [BlockStatus.PENDING]


def test_an_unexpected_error_while_adding_takes_the_claim_back_and_releases_the_lock() -> None:
    class Broken(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            raise ConnectionError("throttled")

    state = MemoryState()
    with pytest.raises(ConnectionError):
        block("91.240.118.77", Broken({ACL: []}), state)
    assert state.blocks == {}
    assert state.locks == {}


def test_a_held_lock_makes_a_contender_wait_and_then_give_up_for_a_retry(no_sleeping: list[float]) -> None:
    state = MemoryState()
    assert state.acquire_lock(f"nacl#{ACL}", "someone-else", now=9e18, lease_seconds=30)
    nacls = MemoryNacls({ACL: []})
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert outcome.detail == f"{ACL}: another invocation kept the NACL busy ({LOCK_ATTEMPTS} attempts)"
    assert nacls.calls == []
    assert len(no_sleeping) == LOCK_ATTEMPTS
    assert all(0 <= p <= block_ip_module.BACKOFF_CAP_SECONDS for p in no_sleeping)


def test_the_wait_for_a_busy_lock_is_bounded_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(block_ip_module, "monotonic", lambda: clock[0])
    monkeypatch.setattr(block_ip_module, "pause", lambda seconds: clock.__setitem__(0, clock[0] + 7))
    state = MemoryState()
    assert state.acquire_lock(f"nacl#{ACL}", "someone-else", now=9e18, lease_seconds=30)
    outcome = block("91.240.118.77", MemoryNacls({ACL: []}), state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert outcome.detail == f"{ACL}: another invocation kept the NACL busy for {LOCK_WAIT_SECONDS}s"
    assert clock[0] == 21  # waited 7 s three times, then gave up at the 20 s deadline


def test_an_expired_lock_is_taken_over() -> None:
    state = MemoryState()
    assert state.acquire_lock(f"nacl#{ACL}", "died", now=0, lease_seconds=30)
    assert block("91.240.118.77", MemoryNacls({ACL: []}), state).status is Status.DONE


def test_locks_belong_to_their_owner() -> None:
    state = MemoryState()
    assert state.acquire_lock("x", "a", now=100, lease_seconds=30)
    assert state.acquire_lock("x", "a", now=101, lease_seconds=30)  # re-entrant for its owner
    assert not state.acquire_lock("x", "b", now=129, lease_seconds=30)
    state.release_lock("x", "b")  # not b's to release
    assert not state.acquire_lock("x", "b", now=130, lease_seconds=30)
    assert state.acquire_lock("x", "b", now=132, lease_seconds=30)  # a's lease ran out at 131


def test_dry_run_takes_no_lock_and_writes_nothing() -> None:
    state, nacls = MemoryState(), MemoryNacls({ACL: []})
    config = setup.parse({"mode": "dry_run", "nacl": {"network_acl_ids": [ACL]}})
    outcome = block("91.240.118.77", nacls, state, config)
    assert outcome.status is Status.DRY_RUN
    assert (nacls.calls, state.blocks, state.locks) == ([], {}, {})


@pytest.mark.parametrize("same_address", [False, True])
def test_concurrent_contenders_never_share_a_number_nor_duplicate_an_address(
    same_address: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(block_ip_module, "pause", lambda seconds: time.sleep(seconds / 10))  # real, shorter waits
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    targets = ["91.240.118.77"] * 10 if same_address else [f"45.13.104.{n}" for n in range(10, 20)]
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(len(targets))

    def contend(target: str) -> None:
        barrier.wait()
        outcomes.append(block(target, nacls, state))

    threads = [threading.Thread(target=contend, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(o.status is Status.DONE for o in outcomes), [o.detail for o in outcomes if o.status is not Status.DONE]
    numbers = [e.rule_number for e in nacls.acls[ACL]]
    assert len(numbers) == len(set(numbers)) == len(set(targets))
    assert {e.cidr for e in nacls.acls[ACL]} == {f"{t}/32" for t in targets}
    for record in state.blocks.values():  # every record is confirmed and names the entry it owns
        assert record.status == BlockStatus.ACTIVE
        assert NaclEntry(record.rule_number, False, "deny", record.cidr) in nacls.acls[ACL]
    assert len(state.blocks) == len(set(targets))


def test_remove_deny_verifies_number_cidr_and_direction_together() -> None:
    nacls = MemoryNacls(
        {ACL: [NaclEntry(5, False, "deny", "91.240.118.77/32"), NaclEntry(6, True, "deny", "1.2.3.4/32")]}
    )
    assert not nacls.remove_deny(ACL, 5, "91.240.118.78/32", egress=False)  # another address now holds 5
    assert not nacls.remove_deny(ACL, 5, "91.240.118.77/32", egress=True)  # wrong direction
    assert not nacls.remove_deny(ACL, 7, "91.240.118.77/32", egress=False)  # no such rule
    assert nacls.remove_deny(ACL, 5, "91.240.118.77/32", egress=False)
    assert nacls.acls[ACL] == [NaclEntry(6, True, "deny", "1.2.3.4/32")]
    assert nacls.calls == [("DeleteNetworkAclEntry", ACL, 5)]


def test_an_ipv4_mapped_target_is_blocked_as_its_ipv4_address() -> None:
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    outcome = block("::ffff:91.240.118.77", nacls, state)
    assert outcome.status is Status.DONE
    assert [e.cidr for e in nacls.acls[ACL]] == ["91.240.118.77/32"]
