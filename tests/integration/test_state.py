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
