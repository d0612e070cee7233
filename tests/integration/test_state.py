"""DynamoState must behave like MemoryState, the reference the core's tests run on."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from demo.local import create_state_table
from riposte.adapters.aws.dynamodb import DynamoState
from riposte.adapters.memory import MemoryState
from riposte.core.ports import BlockRecord, BlockStatus, StatePort


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> Iterator[StatePort]:
    if request.param == "memory":
        yield MemoryState()
        return
    with mock_aws():
        create_state_table(boto3.client("dynamodb"), "state")
        yield DynamoState(boto3.resource("dynamodb").Table("state"))


def test_a_delivery_is_claimed_once_until_released_or_its_lease_expires(state: StatePort) -> None:
    assert state.claim_delivery("finding-1#high", "slack", now=1000, lease_seconds=300)
    assert not state.claim_delivery("finding-1#high", "slack", now=1001, lease_seconds=300)  # held
    assert state.claim_delivery("finding-1#high", "pagerduty", now=1001, lease_seconds=300)  # other channel
    assert state.claim_delivery("finding-1#high", "slack", now=1301, lease_seconds=300)  # holder died
    state.release_delivery("finding-1#high", "slack")
    assert state.claim_delivery("finding-1#high", "slack", now=1302, lease_seconds=300)
    state.complete_delivery("finding-1#high", "slack", now=1303)
    assert not state.claim_delivery("finding-1#high", "slack", now=99_999, lease_seconds=300)  # delivered: never again
    state.release_delivery("finding-1#high", "slack")  # a late release cannot undo a delivery
    assert not state.claim_delivery("finding-1#high", "slack", now=99_999, lease_seconds=300)


def test_hits_are_counted_per_fixed_window_and_key_once_per_member(state: StatePort) -> None:
    assert [state.hit("login#alice", f"e{n}", 300, now=1000 + n) for n in range(3)] == [1, 2, 3]
    assert state.hit("login#alice", "e1", 300, now=1005) == 3  # a redelivered event counts once
    assert state.hit("login#bob", "e9", 300, now=1010) == 1  # another key
    assert state.hit("login#alice", "e3", 300, now=1199) == 4  # 1199 is still in [900, 1200)
    assert state.hit("login#alice", "e4", 300, now=1200) == 1  # a new window starts at 1200


def test_a_window_saturates_at_the_cap(state: StatePort, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("riposte.adapters.memory.HIT_CAP", 20)
    monkeypatch.setattr("riposte.adapters.aws.dynamodb.HIT_CAP", 20)
    counts = [state.hit("storm", f"e{n}", 60, now=0) for n in range(25)]
    assert counts == [*range(1, 21), 20, 20, 20, 20, 20]
    assert state.hit("storm", "e3", 60, now=0) == 20  # a member already counted stays counted


def test_sightings_return_the_sources_that_saw_a_key_within_the_window(state: StatePort) -> None:
    assert state.sighting("ip#45.13.104.50", "guardduty", now=1000, window_seconds=3600) == {"guardduty"}
    assert state.sighting("ip#45.13.104.50", "flowlogs", now=2000, window_seconds=3600) == {"guardduty", "flowlogs"}
    assert state.sighting("ip#45.13.104.50", "flowlogs", now=4700, window_seconds=3600) == {"flowlogs"}
    assert state.sighting("ip#45.13.104.51", "webhooks", now=4700, window_seconds=3600) == {"webhooks"}


def test_a_pending_block_record_is_discarded_only_by_its_own_claim(state: StatePort) -> None:
    def record(number: int, status: str) -> BlockRecord:
        return BlockRecord("acl-0123456789abcdef0", "91.240.118.77/32", number, False, "e", "t", "t", status)

    state.record_block(record(5, BlockStatus.PENDING))
    state.discard_block(record(6, BlockStatus.PENDING))  # another number: kept
    state.record_block(record(5, BlockStatus.ACTIVE))
    state.discard_block(record(5, BlockStatus.PENDING))  # confirmed since: kept
    state.record_block(record(7, BlockStatus.PENDING))
    state.discard_block(record(7, BlockStatus.PENDING))  # our own claim: gone
    state.record_block(record(8, BlockStatus.ACTIVE))
    assert blocks_of(state) == [(8, BlockStatus.ACTIVE)]


def blocks_of(state: StatePort) -> list[tuple[int, str]]:
    if isinstance(state, MemoryState):
        return [(b.rule_number, b.status) for b in state.blocks.values()]
    items = state._table.scan()["Items"]  # type: ignore[attr-defined]
    return [(int(i["rule_number"]), str(i["status"])) for i in items if str(i["pk"]).startswith("block#")]


def test_locks_are_leased_to_one_owner_at_a_time(state: StatePort) -> None:
    assert state.acquire_lock("nacl#acl-1", "a", now=100, lease_seconds=30)
    assert state.acquire_lock("nacl#acl-1", "a", now=101, lease_seconds=30)
    assert not state.acquire_lock("nacl#acl-1", "b", now=110, lease_seconds=30)
    assert state.acquire_lock("nacl#acl-2", "b", now=110, lease_seconds=30)  # another lock
    state.release_lock("nacl#acl-1", "b")  # not b's
    assert not state.acquire_lock("nacl#acl-1", "b", now=120, lease_seconds=30)
    state.release_lock("nacl#acl-1", "a")
    assert state.acquire_lock("nacl#acl-1", "b", now=121, lease_seconds=30)
    assert state.acquire_lock("nacl#acl-1", "c", now=152, lease_seconds=30)  # b's lease ran out at 151


def test_block_records_are_listed_per_container_and_forgotten_only_as_they_were(state: StatePort) -> None:
    acl, other = "acl-0123456789abcdef0", "waf:REGIONAL:riposte:11111111-2222-3333-4444-555555555555"
    first = BlockRecord(acl, "91.240.118.77/32", 5, False, "e1", "2026-01-01T00:00:00+00:00", "x", score=90)
    egress = BlockRecord(acl, "91.240.118.77/32", 6, True, "e1", "t", "x", offences=2, reason="C&C")
    waf = BlockRecord(other, "2a0d:5600:24::10/128", 0, False, "e2", "t", "x", BlockStatus.PENDING)
    for record in (first, egress, waf):
        state.record_block(record)
    assert sorted(state.list_blocks((acl,)), key=lambda b: b.rule_number) == [first, egress]
    assert state.list_blocks((other,)) == (waf,)
    assert state.list_blocks(("acl-ffffffffffffffff0",)) == ()
    assert not state.forget_block(BlockRecord(acl, "91.240.118.77/32", 7, False, "e1", "t", "x"))  # renumbered
    assert state.forget_block(first)
    assert state.list_blocks((acl,)) == (egress,)


def test_the_breaker_trips_once_says_why_and_resets(state: StatePort) -> None:
    assert state.breaker() is None
    assert state.trip_breaker("301 actions within an hour", now=1000)
    assert not state.trip_breaker("302 actions within an hour", now=1001)  # the first reason stands
    assert state.breaker() == "301 actions within an hour (since 1000)"
    state.reset_breaker()
    assert state.breaker() is None
