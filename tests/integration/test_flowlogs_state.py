"""DynamoFlowState must behave like MemoryFlowState (the reference the core's tests run on), on moto."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from demo.local import create_state_table
from riposte.adapters.aws.flowstate import DynamoFlowState, decode_baseline, encode_baseline
from riposte.flowlogs import Baseline, Caps, FlowState, MemoryFlowState, Networks, Population, SourceTally, analyze
from tests.unit.flowlogs import scenario

W = scenario.T0
CAPS = Caps(ports=3, hosts=2, interfaces=2)


class CountingClient:
    """The DynamoDB client, counting the calls made through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(**kwargs)

        return call


@pytest.fixture(params=["memory", "dynamodb"])
def state(request: pytest.FixtureRequest) -> Iterator[FlowState]:
    if request.param == "memory":
        yield MemoryFlowState(caps=CAPS)
        return
    with mock_aws():
        client = boto3.client("dynamodb")
        create_state_table(client, "state")
        yield DynamoFlowState(client, "state", caps=CAPS, clock=lambda: W)


def tally(flows: int, **more: Any) -> SourceTally:
    return SourceTally(flows=flows, packets=more.pop("packets", flows), bytes=more.pop("bytes", 60 * flows), **more)


def test_merges_add_counters_and_return_the_merge_of_the_sources_asked(state: FlowState) -> None:
    first = state.merge_window(W, {"45.13.105.20": tally(2, rejects=2), "81.2.69.160": tally(1)})
    assert (first["45.13.105.20"].flows, first["81.2.69.160"].flows) == (2, 1)
    merged = state.merge_window(W, {"45.13.105.20": tally(3, rejects=1, admin_short=2)})
    assert set(merged) == {"45.13.105.20"}
    got = merged["45.13.105.20"]
    assert (got.flows, got.packets, got.bytes, got.rejects, got.admin_short) == (5, 5, 300, 3, 2)
    assert state.merge_window(W + 60, {"45.13.105.20": tally(1)})["45.13.105.20"].flows == 1  # windows apart


def test_a_delivery_merged_twice_counts_once(state: FlowState) -> None:
    assert state.merge_window(W, {"91.240.118.50": tally(10)}, part="payload-a")["91.240.118.50"].flows == 10
    again = state.merge_window(W, {"91.240.118.50": tally(10)}, part="payload-a")  # Lambda retried it
    assert again["91.240.118.50"].flows == 10
    other = state.merge_window(W, {"91.240.118.50": tally(4)}, part="payload-b")
    assert other["91.240.118.50"].flows == 14
    # The same payload may hold another source for the first time: that one is added.
    assert state.merge_window(W, {"91.240.118.51": tally(2)}, part="payload-a")["91.240.118.51"].flows == 2


def test_sets_unite_and_stop_growing_past_their_caps(state: FlowState) -> None:
    state.merge_window(W, {"45.13.105.20": tally(2, ports=frozenset({22, 23}), hosts=frozenset({"10.0.1.10"}))})
    merged = state.merge_window(
        W,
        {"45.13.105.20": tally(2, ports=frozenset({80, 443}), hosts=frozenset({"10.0.1.11", "10.0.1.12"}))},
    )["45.13.105.20"]
    assert len(merged.ports) == CAPS.ports  # "over the threshold" is all a detector needs to know
    assert merged.ports <= {22, 23, 80, 443}
    assert len(merged.hosts) == CAPS.hosts
    assert merged.flows == 4  # counters are added even when a set is full
    full = state.merge_window(W, {"45.13.105.20": tally(1, ports=frozenset({8080}))})["45.13.105.20"]
    assert full.ports == merged.ports
    assert full.flows == 5


def test_interfaces_subnets_and_the_internal_flag_come_back(state: FlowState) -> None:
    sent = tally(
        3,
        interfaces=frozenset({"eni-0a0b0c0d0e0f10010"}),
        subnets=frozenset({"subnet-0123456789abcdef0"}),
        internal=True,
    )
    got = state.merge_window(W, {"10.0.5.23": sent})["10.0.5.23"]
    assert got == sent
    assert state.merge_window(W, {"45.13.105.20": tally(1)})["45.13.105.20"].internal is False


def test_populations_merge_per_window(state: FlowState) -> None:
    assert state.population(W) == Population()
    state.merge_population(W, Population(sources=2, flows={1: 2}, packets={3: 2}, bytes={9: 2}))
    merged = state.merge_population(W, Population(sources=1, flows={3: 1}, packets={3: 1}, bytes={12: 1}))
    assert merged == Population(sources=3, flows={1: 2, 3: 1}, packets={3: 3}, bytes={9: 2, 12: 1})
    assert state.population(W) == merged
    assert state.population(W + 60) == Population()
    assert state.merge_population(W + 60, Population()) == Population()  # nothing external: still a write


def test_baselines_are_read_in_bulk_and_written_by_compare_and_set(state: FlowState) -> None:
    first = Baseline(W, 1, 10.0, 100.0, 1000.0)
    second = Baseline(W + 60, 2, 12.0, 120.4, 1200.1, prior=(10.0, 100.0, 1000.0))
    assert state.baselines(["81.2.69.1", "81.2.69.2"]) == {}
    assert state.update_baselines({"81.2.69.1": (first, None), "81.2.69.2": (first, None)}) == frozenset()
    assert state.baselines(["81.2.69.1", "81.2.69.2", "81.2.69.3"]) == {"81.2.69.1": first, "81.2.69.2": first}
    lost = state.update_baselines({"81.2.69.1": (second, None), "81.2.69.2": (second, first)})
    assert lost == {"81.2.69.1"}  # someone else wrote first: reported, not overwritten
    assert state.baselines(["81.2.69.1", "81.2.69.2"]) == {"81.2.69.1": first, "81.2.69.2": second}


def test_many_baselines_are_read_past_one_batch(state: FlowState) -> None:
    ips = [f"81.2.{i // 250}.{i % 250 + 1}" for i in range(250)]
    value = Baseline(W, 1, 1.0, 2.0, 3.0)
    assert state.update_baselines(dict.fromkeys(ips, (value, None))) == frozenset()
    assert state.baselines(ips) == dict.fromkeys(ips, value)


def test_baselines_round_trip_exactly_through_their_encoding() -> None:
    for value in (
        Baseline(W, 3, 0.1, 1 / 3, 1e300),
        Baseline(W, 2, 2.5, 7.0, 9.0, prior=(0.1, 0.2, 0.30000000000000004)),
    ):
        assert decode_baseline(encode_baseline(value)) == value


def test_the_scenario_reaches_the_same_verdicts_on_both_states() -> None:
    story = scenario.build()
    networks = Networks(own=[scenario.VPC_V6])
    found = {}
    for name in ("memory", "dynamodb"):
        with mock_aws():
            client = boto3.client("dynamodb")
            create_state_table(client, "state")
            state: FlowState = MemoryFlowState() if name == "memory" else DynamoFlowState(client, "state")
            offenders = []
            for i, batches in enumerate(story.invocations(3)):
                result = analyze(batches, state, now=story.onset + 120, networks=networks, part=f"p{i}")
                offenders += result.offenders
            found[name] = {(o.ip, o.window_start, o.detectors, o.internal, o.flows, o.packets) for o in offenders}
    assert found["memory"] == found["dynamodb"]
    assert {ip for ip, *_ in found["memory"]} == {*story.offenders, *story.internal}


def test_writes_per_invocation_are_the_ones_the_analysis_counts() -> None:
    story = scenario.build()
    with mock_aws():
        client = CountingClient(boto3.client("dynamodb"))
        create_state_table(client, "state")
        client.calls.clear()
        state = DynamoFlowState(client, "state")
        for batches in story.invocations(2):
            before = client.calls["update_item"] + client.calls["put_item"]
            result = analyze(batches, state, now=story.onset + 120, networks=Networks(own=[scenario.VPC_V6]))
            made = client.calls["update_item"] + client.calls["put_item"] - before
            # Each candidate's merge is one write, and one more when a set of it was full (the scanner's ports):
            # the old item says which at once.
            assert result.counters.writes <= made <= result.counters.writes + result.counters.candidates
            assert made <= result.counters.windows * (1 + 3 * 1000 * 2)  # the bound, whatever the sources
        assert client.calls["batch_get_item"] >= 1
        assert set(client.calls) <= {"update_item", "put_item", "get_item", "batch_get_item"}
