"""The notification state (who was told, open incidents, storm digests) in DynamoDB must behave like MemoryState,
and stay within the table calls the stack grants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws

from demo.local import create_state_table
from riposte.adapters.aws.dynamodb import DynamoState
from riposte.adapters.memory import MemoryState
from riposte.core.ports import BlockRecord, Digest, DigestItem, OpenIncident, StatePort
from stacks.names import STATE_TABLE_CALLS


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> Iterator[StatePort]:
    if request.param == "memory":
        yield MemoryState()
        return
    with mock_aws():
        create_state_table(boto3.client("dynamodb"), "state")
        yield DynamoState(boto3.resource("dynamodb").Table("state"))


def test_delivered_is_true_only_for_a_completed_claim_and_forgetting_it_allows_another(state: StatePort) -> None:
    assert not state.delivered("k#high", "slack")
    assert state.claim_delivery("k#high", "slack", 1000, 300)
    assert not state.delivered("k#high", "slack")  # being delivered is not delivered
    state.forget_delivery("k#high", "slack")  # a claim in progress is left alone
    assert not state.claim_delivery("k#high", "slack", 1001, 300)
    state.complete_delivery("k#high", "slack", 1002)
    assert state.delivered("k#high", "slack")
    assert not state.delivered("k#high", "pagerduty")
    state.forget_delivery("k#high", "slack")
    assert not state.delivered("k#high", "slack")
    assert state.claim_delivery("k#high", "slack", 1003, 300)
    state.forget_delivery("never#seen", "slack")  # nothing to forget: no error


def test_open_incidents_merge_addresses_keep_their_first_time_and_close(state: StatePort) -> None:
    assert state.open_incidents() == ()
    state.open_incident("guardduty:1:us-east-1:abc", ("45.13.104.66",), 1000)
    state.open_incident("guardduty:1:us-east-1:abc", ("45.13.104.67", "45.13.104.66"), 2000)  # an escalation
    state.open_incident("webhooks:generic:x", (), 3000)
    assert sorted(state.open_incidents(), key=lambda i: i.incident) == [
        OpenIncident("guardduty:1:us-east-1:abc", ("45.13.104.66", "45.13.104.67"), 1000),
        OpenIncident("webhooks:generic:x", (), 3000),
    ]
    state.close_incident("guardduty:1:us-east-1:abc")
    state.close_incident("not:open")
    assert state.open_incidents() == (OpenIncident("webhooks:generic:x", (), 3000),)


def test_an_incident_key_too_long_for_a_sort_key_is_kept_in_full(state: StatePort) -> None:
    long = "cloudtrail:" + "x" * 2000
    state.open_incident(long, ("91.240.118.9",), 5)
    assert state.open_incidents() == (OpenIncident(long, ("91.240.118.9",), 5),)
    state.close_incident(long)
    assert state.open_incidents() == ()


def digest(window: int, **changes: object) -> Digest:
    base = Digest(
        channel="slack",
        window=window,
        seconds=60,
        token="tok-1",
        version=1,
        counts={"high": 2, "low": 1},
        top=(DigestItem(85, "high", "SSH brute force", "block_ip 45.13.104.66 done", "e1"),),
        members=("a1", "b2", "c3"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_digest_is_saved_only_over_the_version_it_was_read_at(state: StatePort) -> None:
    assert state.load_digest("slack", 60) is None
    first = digest(60)
    assert state.save_digest(first, 0)
    assert not state.save_digest(replace(first, version=2), 0)  # someone created it first
    assert state.load_digest("slack", 60) == first
    second = replace(first, version=2, counts={"high": 3, "low": 1}, members=(*first.members, "d4"))
    assert not state.save_digest(second, 5)
    assert state.save_digest(second, 1)
    assert state.load_digest("slack", 60) == second
    assert state.load_digest("pagerduty", 60) is None
    assert state.load_digest("slack", 120) is None


def test_closed_digests_are_those_whose_window_has_ended_oldest_first(state: StatePort) -> None:
    for window in (180, 60, 120):
        assert state.save_digest(digest(window), 0)
    assert state.save_digest(replace(digest(60), channel="other"), 0)
    assert [d.window for d in state.closed_digests("slack", 179)] == [60]
    assert [d.window for d in state.closed_digests("slack", 180)] == [60, 120]
    assert [d.window for d in state.closed_digests("slack", 10_000)] == [60, 120, 180]
    assert state.closed_digests("slack", 119) == ()


def test_a_digest_is_dropped_only_by_its_own_generation(state: StatePort) -> None:
    assert state.save_digest(digest(60), 0)
    state.drop_digest(digest(60, token="tok-older"))
    assert state.load_digest("slack", 60) is not None
    state.drop_digest(digest(60))
    assert state.load_digest("slack", 60) is None
    state.drop_digest(digest(60))  # already gone: no error


def test_a_block_record_keeps_its_incident(state: StatePort) -> None:
    block = BlockRecord("acl-0123456789abcdef0", "45.13.104.66/32", 3, False, "e1", "c", "x", incident="webhooks:g:1")
    state.record_block(block)
    assert state.list_blocks(("acl-0123456789abcdef0",)) == (block,)


def test_the_adapter_makes_only_the_table_calls_the_stack_grants() -> None:
    calls: set[str] = set()
    with mock_aws():
        create_state_table(boto3.client("dynamodb"), "state")
        resource = boto3.resource("dynamodb")
        resource.meta.client.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.add(f"dynamodb:{model.name}")
        )
        state = DynamoState(resource.Table("state"))
        state.claim_delivery("k#high", "slack", 1, 300)
        state.complete_delivery("k#high", "slack", 1)
        state.delivered("k#high", "slack")
        state.forget_delivery("k#high", "slack")
        state.open_incident("i", ("45.13.104.66",), 1)
        state.open_incidents()
        state.close_incident("i")
        state.save_digest(digest(60), 0)
        state.load_digest("slack", 60)
        state.closed_digests("slack", 1000)
        state.drop_digest(digest(60))
    assert calls
    assert calls <= set(STATE_TABLE_CALLS), calls - set(STATE_TABLE_CALLS)
