from __future__ import annotations

import pytest

from riposte.flowlogs.state import Baseline, FlowState, MemoryFlowState, next_baseline
from riposte.flowlogs.window import Caps, Population, SourceTally

W = 1_764_403_200


def tally(flows: int, packets: int = 0, nbytes: int = 0, ports: frozenset[int] = frozenset()) -> SourceTally:
    return SourceTally(flows=flows, packets=packets, bytes=nbytes, ports=ports)


def test_memory_state_is_a_flow_state() -> None:
    state: FlowState = MemoryFlowState()
    assert state.population(W) == Population()


def test_merge_window_adds_what_invocations_counted_and_returns_the_merge() -> None:
    state = MemoryFlowState(caps=Caps(ports=3))
    first = state.merge_window(W, {"45.13.105.20": tally(2, 2, 88, frozenset({22, 23})), "81.2.69.160": tally(1)})
    assert first["45.13.105.20"].flows == 2
    merged = state.merge_window(W, {"45.13.105.20": tally(3, 3, 132, frozenset({80, 443}))})
    assert set(merged) == {"45.13.105.20"}  # only the sources asked about
    assert (merged["45.13.105.20"].flows, merged["45.13.105.20"].bytes) == (5, 220)
    assert merged["45.13.105.20"].ports == {22, 23, 80}  # capped
    assert state.merge_window(W + 60, {"45.13.105.20": tally(1)})["45.13.105.20"].flows == 1  # windows apart
    assert state.writes == 4  # one per source written


def test_populations_merge_per_window() -> None:
    state = MemoryFlowState()
    state.merge_population(W, Population(sources=2, flows={1: 2}))
    merged = state.merge_population(W, Population(sources=1, flows={3: 1}))
    assert merged == Population(sources=3, flows={1: 2, 3: 1})
    assert state.population(W) == merged
    assert state.population(W + 60) == Population()


def test_old_windows_are_evicted() -> None:
    state = MemoryFlowState(max_windows=3)
    for i in range(10):
        state.merge_window(W + 60 * i, {"81.2.69.160": tally(1)})
        state.merge_population(W + 60 * i, Population(sources=1))
    assert state.size()["windows"] == state.size()["populations"] == 3
    assert state.population(W) == Population()
    assert state.population(W + 540).sources == 1


def test_baselines_are_an_lru_of_fixed_size() -> None:
    state = MemoryFlowState(max_baselines=2)
    for ip in ("81.2.69.1", "81.2.69.2"):
        assert state.update_baseline(ip, Baseline(W, 1, 1.0, 1.0, 1.0), expected=None)
    assert state.baseline("81.2.69.1") is not None  # touched: now the most recent
    state.update_baseline("81.2.69.3", Baseline(W, 1, 1.0, 1.0, 1.0), expected=None)
    assert state.baseline("81.2.69.2") is None
    assert state.baseline("81.2.69.1") is not None
    assert state.size()["baselines"] == 2


def test_update_baseline_is_compare_and_set() -> None:
    state = MemoryFlowState()
    first = Baseline(W, 1, 10.0, 100.0, 1000.0)
    assert state.update_baseline("81.2.69.1", first, expected=None)
    second = Baseline(W + 60, 2, 12.0, 120.0, 1200.0, prior=(10.0, 100.0, 1000.0))
    assert not state.update_baseline("81.2.69.1", second, expected=None)  # someone else wrote first
    assert state.baseline("81.2.69.1") == first
    assert state.update_baseline("81.2.69.1", second, expected=first)
    assert state.baseline("81.2.69.1") == second


def test_next_baseline_folds_new_windows_replaces_the_same_one_and_ignores_late_ones() -> None:
    first = next_baseline(None, W, tally(10, 100, 1000), alpha=0.5)
    assert first == Baseline(W, 1, 10.0, 100.0, 1000.0)
    second = next_baseline(first, W + 60, tally(20, 200, 2000), alpha=0.5)
    assert second == Baseline(W + 60, 2, 15.0, 150.0, 1500.0, prior=(10.0, 100.0, 1000.0))
    # Another invocation saw more of the same minute: its merged tally replaces the partial one.
    again = next_baseline(second, W + 60, tally(30, 300, 3000), alpha=0.5)
    assert again == Baseline(W + 60, 2, 20.0, 200.0, 2000.0, prior=(10.0, 100.0, 1000.0))
    assert next_baseline(again, W, tally(99, 99, 99), alpha=0.5) is None  # late data changes nothing


def test_detection_compares_with_the_baseline_before_the_window() -> None:
    baseline = Baseline(W + 60, 2, 15.0, 150.0, 1500.0, prior=(10.0, 100.0, 1000.0))
    assert baseline.before(W + 60) == (1, 10.0, 100.0, 1000.0)
    assert baseline.before(W + 120) == (2, 15.0, 150.0, 1500.0)
    assert Baseline(W, 1, 1.0, 1.0, 1.0).before(W) is None


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.5])
def test_a_steady_source_has_a_steady_baseline(alpha: float) -> None:
    baseline = None
    for i in range(30):
        baseline = next_baseline(baseline, W + 60 * i, tally(40, 4000, 400_000), alpha=alpha)
    assert baseline is not None
    assert baseline.windows == 30
    assert baseline.packets == pytest.approx(4000.0)
