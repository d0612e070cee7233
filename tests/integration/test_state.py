"""DynamoState must behave like MemoryState, the reference the core's tests run on."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from demo.local import create_state_table
from riposte.adapters.aws.dynamodb import DynamoState
from riposte.adapters.memory import MemoryState
from riposte.core.ports import StatePort


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
