"""State shared by concurrent invocations: merged window tallies, window populations, per-source baselines.

One source's traffic arrives in many log streams (one per interface) handled by concurrent invocations, so no
invocation sees a whole window. Each writes what it counted and reads back the merge. The protocol is shaped so
that a DynamoDB adapter (``riposte.adapters.aws.flowstate``) makes O(candidates) writes, each an atomic
``ADD`` or a conditional put:

- ``merge_window``: one ``UpdateItem`` per source on key (source, window): ``ADD`` on the counters and on
  number/string sets for ports, hosts and interfaces (set union), ``ReturnValues=ALL_NEW`` returning the
  merge in the same round trip; a TTL attribute retires the item. Sets are only added to while under their
  cap (a condition on ``size(...)``), so they stay bounded. Each delivery names itself (``part``): a part
  already merged for that source and window is not added again, so a retried delivery (Lambda retries a
  failed invocation; Kinesis re-reads a failed record) never counts its traffic twice, which would make a
  busy client look like a flood.
- ``merge_population``: one ``UpdateItem`` per window, ``ADD`` on flat per-bucket attributes. Not guarded by
  parts: a retry counts a payload's sources twice in a summary whose median and MAD barely move for it.
- ``baselines`` / ``update_baselines``: one ``BatchGetItem`` per 100 candidates, and a ``PutItem`` each
  conditioned on the baseline read being still current (compare-and-set); a lost race is reported, not
  overwritten.

Only heavy-hitter candidates over a minimum are written (see ``detect.analyze``), so the number of writes per
invocation is bounded by the windows it saw times three times the heavy-hitter capacity (one per ranking),
plus a population write per window and a baseline write per candidate, whatever the number of
distinct addresses. ``MemoryFlowState`` keeps the same contract in memory, bounded too: old windows are
evicted, baselines are an LRU of fixed size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from riposte.flowlogs.window import Caps, Population, SourceTally


@dataclass(frozen=True, slots=True)
class Baseline:
    """A source's usual traffic per window: exponentially weighted moving averages of flows, packets, bytes.

    ``window`` is the last window folded in and ``prior`` the averages before it, so that an invocation that
    sees more of that same window can replace its contribution rather than count the window twice, and so that
    detection in a window compares against the baseline *before* it.
    """

    window: int
    windows: int  # how many windows are folded in
    flows: float
    packets: float
    bytes: float
    prior: tuple[float, float, float] | None = None  # (flows, packets, bytes) before `window`; None: first

    def before(self, window: int) -> tuple[int, float, float, float] | None:
        """(windows, flows, packets, bytes) as they stood before ``window``; None when there was no history."""
        if window == self.window:
            return None if self.prior is None else (self.windows - 1, *self.prior)
        return (self.windows, self.flows, self.packets, self.bytes)


def next_baseline(old: Baseline | None, window: int, tally: SourceTally, alpha: float) -> Baseline | None:
    """The baseline after folding ``tally`` (the source's merged traffic in ``window``); None: unchanged.

    A newer window is folded in; the same window again replaces its earlier, partial contribution; an older
    window (late data) changes nothing.
    """
    value = (float(tally.flows), float(tally.packets), float(tally.bytes))
    if old is None:
        return Baseline(window=window, windows=1, flows=value[0], packets=value[1], bytes=value[2])
    if window < old.window:
        return None
    if window == old.window:
        prior, windows = old.prior, old.windows
    else:
        prior, windows = (old.flows, old.packets, old.bytes), old.windows + 1
    if prior is None:
        flows, packets, nbytes = value
    else:
        flows, packets, nbytes = (alpha * v + (1 - alpha) * p for v, p in zip(value, prior, strict=True))
    return Baseline(window=window, windows=windows, flows=flows, packets=packets, bytes=nbytes, prior=prior)


class FlowState(Protocol):
    def merge_window(
        self, window: int, tallies: Mapping[str, SourceTally], *, part: str = ""
    ) -> dict[str, SourceTally]:
        """Add these sources' tallies to the window's; return the merged tallies of these sources. A non-empty
        ``part`` (the delivery's identity) already merged for a source is not added again for it."""
        ...

    def merge_population(self, window: int, population: Population) -> Population:
        """Add a population summary to the window's; return the merged summary."""
        ...

    def population(self, window: int) -> Population:
        """The window's population summary as merged so far (empty when none)."""
        ...

    def baselines(self, ips: Collection[str]) -> dict[str, Baseline]:
        """The stored baselines of these sources (a source without one is left out)."""
        ...

    def update_baselines(self, changes: Mapping[str, tuple[Baseline, Baseline | None]]) -> frozenset[str]:
        """For each ip, store ``(value, expected)``'s value if the stored baseline is still ``expected`` (None:
        absent). Returns the sources whose race was lost (nothing stored for them)."""
        ...


class MemoryFlowState:
    """FlowState in memory, for the CLI, tests and the bench; bounded whatever the traffic."""

    def __init__(self, *, caps: Caps | None = None, max_windows: int = 15, max_baselines: int = 100_000) -> None:
        self.caps = caps or Caps()
        self.max_windows = max_windows
        self.max_baselines = max_baselines
        self._windows: dict[int, dict[str, SourceTally]] = {}
        self._parts: dict[int, dict[str, set[str]]] = {}
        self._populations: dict[int, Population] = {}
        self._baselines: OrderedDict[str, Baseline] = OrderedDict()
        self.writes = 0  # one per write a DynamoDB adapter would make

    def merge_window(
        self, window: int, tallies: Mapping[str, SourceTally], *, part: str = ""
    ) -> dict[str, SourceTally]:
        table = self._window(window)
        parts = self._parts.setdefault(window, {})
        merged = {}
        for ip, tally in tallies.items():
            held = table.get(ip)
            seen = parts.setdefault(ip, set()) if part else set()
            if held is not None and part in seen:
                merged[ip] = held  # this delivery was merged before: a retry adds nothing
                continue
            seen.add(part)
            table[ip] = merged[ip] = tally if held is None else held.merged(tally, self.caps)
        self.writes += len(tallies)
        self._evict()
        return merged

    def merge_population(self, window: int, population: Population) -> Population:
        merged = self._populations.get(window, Population()).merged(population)
        self._populations[window] = merged
        self.writes += 1
        self._evict()
        return merged

    def population(self, window: int) -> Population:
        return self._populations.get(window, Population())

    def baselines(self, ips: Collection[str]) -> dict[str, Baseline]:
        found = {}
        for ip in ips:
            if (baseline := self.baseline(ip)) is not None:
                found[ip] = baseline
        return found

    def update_baselines(self, changes: Mapping[str, tuple[Baseline, Baseline | None]]) -> frozenset[str]:
        return frozenset(
            ip for ip, (value, expected) in changes.items() if not self.update_baseline(ip, value, expected=expected)
        )

    def baseline(self, ip: str) -> Baseline | None:
        found = self._baselines.get(ip)
        if found is not None:
            self._baselines.move_to_end(ip)
        return found

    def update_baseline(self, ip: str, value: Baseline, *, expected: Baseline | None) -> bool:
        if self._baselines.get(ip) != expected:
            return False
        self._baselines[ip] = value
        self._baselines.move_to_end(ip)
        while len(self._baselines) > self.max_baselines:
            self._baselines.popitem(last=False)
        self.writes += 1
        return True

    def size(self) -> dict[str, int]:
        return {
            "windows": len(self._windows),
            "window_sources": sum(len(table) for table in self._windows.values()),
            "populations": len(self._populations),
            "baselines": len(self._baselines),
        }

    def _window(self, window: int) -> dict[str, SourceTally]:
        table = self._windows.get(window)
        if table is None:
            table = self._windows[window] = {}
        return table

    def _evict(self) -> None:
        # Keep the newest windows: delivery lags by minutes, not hours (see Thresholds.max_lag).
        for store in (self._windows, self._parts, self._populations):
            while len(store) > self.max_windows:
                del store[min(store)]
