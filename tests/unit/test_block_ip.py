"""block_ip under contention: truthful records (pending -> active), one writer per ACL, lost attempts take
back their own claims, and deletions that verify number, CIDR and ACL together."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime

import pytest

from riposte.actions import ActionContext, Ports
from riposte.actions import block_ip as block_ip_module
from riposte.actions.block_ip import ATTEMPTS, LOCK_ATTEMPTS, LOCK_WAIT_SECONDS, BlockIp
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import config as cfg
from riposte.core.model import Entities, Outcome, Party, Role, Status
from riposte.core.nacl import BlockPlan, BlockVerdict
from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry, RuleNumberTakenError
from riposte.engine import pipeline, setup
from tests.conftest import load_event

ACL = "acl-0123456789abcdef0"
# What a full ACL says when no strategy finds room (aggregation off, nothing of Riposte's to evict).
NO_ROOM = "; aggregation is off; no block of Riposte's to evict"
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
            incident=EVENT.notification_key,
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


def test_an_unexpected_error_while_adding_keeps_the_pending_claim_and_releases_the_lock() -> None:
    class Broken(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            raise ConnectionError("throttled")

    state = MemoryState()
    with pytest.raises(ConnectionError):
        block("91.240.118.77", Broken({ACL: []}), state)
    # The write may have landed with its reply lost: the pending claim stays for maintenance to confirm or drop.
    assert [r.status for r in state.blocks.values()] == [BlockStatus.PENDING]
    assert state.locks == {}


class LostReply(MemoryNacls):
    """The entry is created, but the caller never hears so: the reply is lost (raised), or botocore's retry of
    the same call collides with the entry its first try made."""

    def __init__(self, then: type[Exception]) -> None:
        super().__init__({ACL: []})
        self.then = then

    def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
        super().add_deny(acl_id, rule_number, cidr, egress=egress)
        raise self.then(f"{acl_id} rule {rule_number}")


@pytest.mark.parametrize("then", [RuleNumberTakenError, TimeoutError])
def test_a_write_that_landed_with_its_reply_lost_is_owned_never_orphaned(then: type[Exception]) -> None:
    nacls, state = LostReply(then), MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert outcome.status is Status.DONE
    (record,) = state.blocks.values()
    assert (record.rule_number, record.status) == (1, BlockStatus.ACTIVE)  # expiry will find and remove it
    assert [e.cidr for e in nacls.acls[ACL]] == ["91.240.118.77/32"]


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


# --- what the action declares, validates and targets -----------------------------------------------------------


def test_the_contention_settings() -> None:
    # Five tries at a number, among the eight lowest free after a collision; a 30 s lease on the ACL, waited for
    # at most 20 s (a third of the function's timeout) or 60 tries; backoff from 50 ms, capped at 2 s.
    assert (block_ip_module.ATTEMPTS, block_ip_module.SPREAD) == (5, 8)
    assert (block_ip_module.LOCK_LEASE_SECONDS, LOCK_WAIT_SECONDS, LOCK_ATTEMPTS) == (30, 20, 60)
    assert (block_ip_module.BACKOFF_BASE_SECONDS, block_ip_module.BACKOFF_CAP_SECONDS) == (0.05, 2.0)


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        (
            {"mode": "enforce"},
            ["nacl: mode 'enforce' with action 'block_ip' needs nacl.vpc_ids or nacl.network_acl_ids"],
        ),
        ({"mode": "enforce", "nacl": {"vpc_ids": ["vpc-0123456789abcdef0"]}}, []),
        ({"mode": "enforce", "nacl": {"network_acl_ids": [ACL]}}, []),
        ({"mode": "dry_run"}, []),
    ],
)
def test_enforcing_needs_an_acl_or_a_vpc_to_act_in(data: dict[str, object], problems: list[str]) -> None:
    assert BlockIp.validate(cfg.parse(data)) == problems


def test_targets_are_network_attackers_and_by_config_the_peers_our_hosts_reach() -> None:
    parties = [
        Party("ip", "45.13.104.1", Role.ACTOR, network=True),
        Party("ip", "45.13.104.2", Role.PEER, network=True),
        Party("ip", "45.13.104.3", Role.ACTOR, network=False),  # only called an API
        Party("ip", "45.13.104.4", Role.AFFECTED, network=True),
        Party("principal", "45.13.104.5", Role.ACTOR, network=True),
    ]
    event = dataclasses.replace(EVENT, entities=Entities.of(parties))
    assert BlockIp().targets(event, setup.parse({})) == ("45.13.104.1", "45.13.104.2")
    assert BlockIp().targets(event, setup.parse({"blocks": {"outbound_peers": False}})) == ("45.13.104.1",)


# --- the ACLs it acts in ---------------------------------------------------------------------------------------


def test_with_no_acl_to_modify_it_fails_without_retry_and_touches_nothing() -> None:
    state = MemoryState()
    outcome = block("91.240.118.77", MemoryNacls({}), state)
    assert outcome == Outcome(
        "block_ip",
        "91.240.118.77",
        Status.FAILED,
        "no network ACL to modify: set nacl.network_acl_ids or nacl.vpc_ids",
    )
    assert (state.blocks, state.locks) == ({}, {})


OTHER = "acl-0fedcba9876543210"


def two_acls(second: list[NaclEntry]) -> MemoryNacls:
    return MemoryNacls({ACL: [], OTHER: second})


def test_every_acl_gets_the_block_and_the_detail_names_each() -> None:
    nacls, state = two_acls([NaclEntry(1, False, "allow", "0.0.0.0/0")]), MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.retryable) == (Status.DONE, False)
    assert outcome.detail == (
        f"{ACL}: added 91.240.118.77/32 as rule 1, expires in 24h; "
        f"{OTHER}: added 91.240.118.77/32 as rule 2, expires in 24h"
    )
    assert sorted((r.acl_id, r.rule_number, r.status) for r in state.blocks.values()) == [
        (ACL, 1, BlockStatus.ACTIVE),
        (OTHER, 2, BlockStatus.ACTIVE),
    ]


def test_an_acl_with_no_room_is_refused_and_said_so_while_the_others_block() -> None:
    full = [NaclEntry(n, False, "allow", "0.0.0.0/0") for n in range(1, 100)]
    outcome = block("91.240.118.77", two_acls(full), MemoryState())
    assert (outcome.status, outcome.retryable) == (Status.DONE, False)
    assert outcome.detail == (
        f"{ACL}: added 91.240.118.77/32 as rule 1, expires in 24h; "
        f"{OTHER}: rule quota reached: 99 of 20 ingress rules in use{NO_ROOM}"
    )
    refused_everywhere = block("91.240.118.78", MemoryNacls({ACL: list(full), OTHER: list(full)}), MemoryState())
    assert (refused_everywhere.status, refused_everywhere.retryable) == (Status.REFUSED, False)


def test_a_retryable_failure_in_any_acl_makes_the_action_retryable() -> None:
    state = MemoryState()
    assert state.acquire_lock(f"nacl#{OTHER}", "someone-else", now=9e18, lease_seconds=30)
    full = [NaclEntry(n, False, "allow", "0.0.0.0/0") for n in range(1, 100)]
    nacls = MemoryNacls({ACL: full, OTHER: []})  # the first fails for good, the second only for now
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert outcome.detail.startswith(f"{ACL}: rule quota reached")
    assert outcome.detail.endswith(f"; {OTHER}: another invocation kept the NACL busy ({LOCK_ATTEMPTS} attempts)")


def test_an_acl_that_already_denies_the_address_makes_no_failure_retryable() -> None:
    full = [NaclEntry(n, False, "allow", "0.0.0.0/0") for n in range(1, 100)]
    nacls = MemoryNacls({ACL: [NaclEntry(1, False, "deny", "91.240.118.77/32")], OTHER: full})
    outcome = block("91.240.118.77", nacls, MemoryState())
    assert (outcome.status, outcome.retryable) == (Status.DONE, False)
    assert outcome.detail.startswith(f"{ACL}: already denied by rule 1; {OTHER}: rule quota reached")


def test_an_address_already_denied_counts_as_done_and_writes_nothing() -> None:
    nacls = MemoryNacls({ACL: [NaclEntry(99, False, "deny", "91.240.118.77/32")]})
    state = MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.detail, outcome.retryable) == (
        Status.DONE,
        f"{ACL}: already denied by rule 99",
        False,
    )
    assert (nacls.calls, state.blocks, state.locks) == ([], {}, {})


def test_the_configured_range_quota_and_lifetime_are_used() -> None:
    config = setup.parse(
        {
            "mode": "enforce",
            "nacl": {"network_acl_ids": [ACL], "rule_range": [40, 60], "rule_quota": 2},
            "blocks": {"ttl_hours": 3},
        }
    )
    nacls, state = MemoryNacls({ACL: [NaclEntry(40, False, "allow", "0.0.0.0/0")]}), MemoryState()
    outcome = block("91.240.118.77", nacls, state, config)
    assert outcome.detail == f"{ACL}: added 91.240.118.77/32 as rule 41, expires in 3h"
    (record,) = state.blocks.values()
    assert (record.rule_number, record.expires_at) == (41, "2026-11-28T07:00:00+00:00")
    outcome = block("45.13.104.9", nacls, MemoryState(), config)  # 2 of 2 rules now in use, none recorded here
    assert (outcome.status, outcome.retryable) == (Status.REFUSED, False)
    assert outcome.detail == f"{ACL}: rule quota reached: 2 of 2 ingress rules in use{NO_ROOM}"


def test_the_entry_is_an_ingress_deny_of_the_host() -> None:
    nacls = MemoryNacls({ACL: []})
    block("2a0d:5600:24::1", nacls, MemoryState())
    assert nacls.acls[ACL] == [NaclEntry(1, False, "deny", "2a0d:5600:24::1/128")]


def test_dry_run_reports_per_acl_what_it_would_add() -> None:
    config = setup.parse({"mode": "dry_run", "nacl": {"network_acl_ids": [ACL]}})
    nacls = two_acls([NaclEntry(1, False, "deny", "91.240.118.77/32")])
    outcome = block("91.240.118.77", nacls, MemoryState(), config)
    assert (outcome.status, outcome.retryable) == (Status.DRY_RUN, False)
    assert (
        outcome.detail == f"{ACL}: would deny 91.240.118.77/32 as rule 1 (dry run); {OTHER}: already denied by rule 1"
    )


def test_a_dry_run_that_could_add_in_one_acl_but_not_another_is_not_retryable() -> None:
    config = setup.parse({"mode": "dry_run", "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 1]}})
    nacls = two_acls([NaclEntry(1, False, "allow", "0.0.0.0/0")])
    outcome = block("91.240.118.77", nacls, MemoryState(), config)
    assert (outcome.status, outcome.retryable) == (Status.DRY_RUN, False)
    assert outcome.detail == (
        f"{ACL}: would deny 91.240.118.77/32 as rule 1 (dry run); {OTHER}: managed range 1-1 is full{NO_ROOM}"
    )


def test_dry_run_still_reports_an_acl_it_could_not_add_to() -> None:
    config = setup.parse({"mode": "dry_run", "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 1]}})
    nacls = MemoryNacls({ACL: [NaclEntry(1, False, "allow", "0.0.0.0/0")]})
    outcome = block("91.240.118.77", nacls, MemoryState(), config)
    assert (outcome.status, outcome.detail, outcome.retryable) == (
        Status.REFUSED,
        f"{ACL}: managed range 1-1 is full{NO_ROOM}",
        False,
    )


# --- the lock ---------------------------------------------------------------------------------------------------


class SpyState(MemoryState):
    def __init__(self) -> None:
        super().__init__()
        self.acquired: list[tuple[str, str, float, int]] = []
        self.released: list[tuple[str, str]] = []
        self.recorded: list[BlockRecord] = []
        self.discarded: list[BlockRecord] = []

    def acquire_lock(self, name: str, owner: str, now: float, lease_seconds: int) -> bool:
        self.acquired.append((name, owner, now, lease_seconds))
        return super().acquire_lock(name, owner, now, lease_seconds)

    def release_lock(self, name: str, owner: str) -> None:
        self.released.append((name, owner))
        super().release_lock(name, owner)

    def record_block(self, block: BlockRecord) -> None:
        self.recorded.append(block)
        super().record_block(block)

    def discard_block(self, block: BlockRecord) -> None:
        self.discarded.append(block)
        super().discard_block(block)


def test_the_lock_is_leased_per_acl_to_this_event_on_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(block_ip_module.time, "time", lambda: 1_800_000_000.5)
    state = SpyState()
    block("91.240.118.77", MemoryNacls({ACL: []}), state)
    ((name, owner, now, lease),) = state.acquired
    assert (name, now, lease) == (f"nacl#{ACL}", 1_800_000_000.5, 30)
    event_id, _, token = owner.rpartition("#")
    assert event_id == EVENT.id
    assert len(token) == 16  # random per attempt: two invocations never share an owner
    assert int(token, 16) >= 0
    assert state.released == [(f"nacl#{ACL}", owner)]


def test_two_blocks_never_share_a_lock_owner() -> None:
    state = SpyState()
    block("91.240.118.77", MemoryNacls({ACL: []}), state)
    block("91.240.118.78", MemoryNacls({ACL: []}), state)
    assert state.acquired[0][1] != state.acquired[1][1]


def test_the_wait_for_a_lock_ends_exactly_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += 10

    monkeypatch.setattr(block_ip_module, "monotonic", lambda: clock[0])
    monkeypatch.setattr(block_ip_module, "pause", pause)
    state = MemoryState()
    assert state.acquire_lock(f"nacl#{ACL}", "someone-else", now=9e18, lease_seconds=30)
    outcome = block("91.240.118.77", MemoryNacls({ACL: []}), state)
    assert outcome.detail == f"{ACL}: another invocation kept the NACL busy for 20s"
    assert clock[0] == 120  # tried at 100, 110 and 120: at the deadline it gives up
    assert len(waits) == 2


def test_a_lock_freed_while_waiting_is_taken(no_sleeping: list[float]) -> None:
    class FreedLater(MemoryState):
        tries = 0

        def acquire_lock(self, name: str, owner: str, now: float, lease_seconds: int) -> bool:
            self.tries += 1
            return self.tries == LOCK_ATTEMPTS  # free on the last try

    state = FreedLater()
    assert block("91.240.118.77", MemoryNacls({ACL: []}), state).status is Status.DONE
    assert len(no_sleeping) == LOCK_ATTEMPTS - 1


def test_backoff_is_full_jitter_doubling_from_50_ms_up_to_2_s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(block_ip_module.random, "uniform", lambda low, high: (low, high))
    ceilings = [block_ip_module.backoff(attempt) for attempt in range(8)]
    assert ceilings == [(0, 0.05), (0, 0.1), (0, 0.2), (0, 0.4), (0, 0.8), (0, 1.6), (0, 2.0), (0, 2.0)]


def test_lock_waits_back_off_by_attempt(monkeypatch: pytest.MonkeyPatch, no_sleeping: list[float]) -> None:
    monkeypatch.setattr(block_ip_module.random, "uniform", lambda low, high: high)
    state = MemoryState()
    assert state.acquire_lock(f"nacl#{ACL}", "someone-else", now=9e18, lease_seconds=30)
    block("91.240.118.77", MemoryNacls({ACL: []}), state)
    assert no_sleeping[:7] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


# --- collisions, records and read-back -------------------------------------------------------------------------


def test_the_first_try_takes_the_lowest_free_number_and_a_retry_picks_among_the_eight_lowest(
    monkeypatch: pytest.MonkeyPatch, no_sleeping: list[float]
) -> None:
    offered: list[tuple[int, ...]] = []

    def choice(numbers: tuple[int, ...]) -> int:
        offered.append(tuple(numbers))
        return numbers[-1]

    monkeypatch.setattr(block_ip_module.random, "choice", choice)
    monkeypatch.setattr(block_ip_module.random, "uniform", lambda low, high: high)
    nacls, state = TakesNumbers(times=1), SpyState()
    outcome = block("91.240.118.77", nacls, state)
    assert outcome.detail == f"{ACL}: added 91.240.118.77/32 as rule 9, expires in 24h"
    assert [number for _, _, number in nacls.calls] == [9]  # the write at 1 was refused: taken
    assert offered == [(2, 3, 4, 5, 6, 7, 8, 9)]  # 1 was taken by someone else
    assert no_sleeping == [0.05]  # one backoff after the collision, for attempt 0
    pending = [r for r in state.recorded if r.status == BlockStatus.PENDING]
    assert [r.rule_number for r in pending] == [1, 9]
    assert state.discarded == [pending[0]]  # the lost claim, and only it, was taken back


def test_every_collision_backs_off_longer_and_exhaustion_is_retryable(
    monkeypatch: pytest.MonkeyPatch, no_sleeping: list[float]
) -> None:
    monkeypatch.setattr(block_ip_module.random, "uniform", lambda low, high: high)
    nacls, state = TakesNumbers(times=ATTEMPTS + 10), SpyState()  # someone always gets there first
    outcome = block("91.240.118.77", nacls, state)
    assert outcome == Outcome(
        "block_ip",
        "91.240.118.77",
        Status.FAILED,
        f"{ACL}: rule numbers kept being taken concurrently (5 attempts)",
        retryable=True,
    )
    assert no_sleeping == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert len(state.discarded) == ATTEMPTS == len([r for r in state.recorded if r.status == BlockStatus.PENDING])
    assert state.blocks == {}
    assert state.released == [(f"nacl#{ACL}", state.acquired[0][1])]


def test_the_pending_record_is_written_before_the_entry_with_every_field() -> None:
    order: list[str] = []

    class Watching(SpyState):
        def record_block(self, block: BlockRecord) -> None:
            order.append(f"record {block.status}")
            super().record_block(block)

    class Nacls(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            order.append("add")
            super().add_deny(acl_id, rule_number, cidr, egress=egress)

    state = Watching()
    block("91.240.118.77", Nacls({ACL: []}), state)
    assert order == ["record pending", "add", "record active"]
    assert state.recorded[0] == BlockRecord(
        acl_id=ACL,
        cidr="91.240.118.77/32",
        rule_number=1,
        egress=False,
        event_id=EVENT.id,
        created_at="2026-11-28T04:00:00+00:00",
        expires_at="2026-11-29T04:00:00+00:00",
        status=BlockStatus.PENDING,
        score=0,
        offences=1,
        reason=f"{EVENT.type}: {EVENT.title}",
        incident=EVENT.notification_key,
    )
    assert state.recorded[1] == dataclasses.replace(state.recorded[0], status=BlockStatus.ACTIVE)


@pytest.mark.parametrize(
    "written",
    [
        NaclEntry(1, True, "deny", "91.240.118.77/32"),  # the other direction
        NaclEntry(1, False, "allow", "91.240.118.77/32"),  # not a deny
        NaclEntry(1, False, "deny", "91.240.118.78/32"),  # another address
        NaclEntry(2, False, "deny", "91.240.118.77/32"),  # another number
    ],
)
def test_only_the_exact_entry_read_back_confirms_the_block(written: NaclEntry) -> None:
    class Misfiled(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            self.calls.append(("CreateNetworkAclEntry", acl_id, rule_number))
            self.acls[acl_id].append(written)

    state = MemoryState()
    outcome = block("91.240.118.77", Misfiled({ACL: []}), state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert outcome.detail == f"{ACL}: rule 1 for 91.240.118.77/32 was not found when read back"
    assert [r.status for r in state.blocks.values()] == [BlockStatus.PENDING]
    assert state.locks == {}


def test_a_plan_to_add_without_a_number_never_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The planner always names the number it adds; should it ever not, nothing is written on a guess.
    broken = BlockPlan(BlockVerdict.ADD, None, "deny 91.240.118.77/32 as rule ?")
    monkeypatch.setattr(block_ip_module, "plan_block", lambda *args, **kwargs: broken)
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    outcome = block("91.240.118.77", nacls, state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, False)
    assert (nacls.calls, state.blocks) == ([], {})
