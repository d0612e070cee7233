"""Flow-log core: per-record cost beside the floor and a naive handler, peak memory, state size. Not a test.

Run from the repository root: ``PYTHONPATH=lambdas:. .venv/bin/python bench/bench_flowlogs.py``.

Every path starts from the same CloudWatch Logs subscription payload (base64(gzip(json))), as a Lambda gets it:

- floor: base64 + gunzip + json.loads, the messages extracted (what any handler pays);
- naive: the floor, then split each line and count flows per srcaddr;
- riposte core: the floor, then ``analyze`` with all detectors and a fresh ``MemoryFlowState``;
- riposte handler: the flow-log Lambda itself (``riposte.handlers.flowlogs.handler``) with ``RIPOSTE_STATE=memory``
  and the default configuration: the envelope, the analysis on the container's state, and every offender through
  the responder's pipeline (context, plan, dry-run actions, audit) as in Lambda. Powertools' INFO logs and
  metrics are off (one line each per invocation in Lambda).

Timings are the best of several rounds (time.perf_counter): a timing asserted in a test fails on a busy machine
and proves nothing, so they are printed here instead.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import gzip
import io
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("lambdas", ".")]
os.environ.update(
    {
        "RIPOSTE_STATE": "memory",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "riposte",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
)
for _name in ("RIPOSTE_CONFIG", "RIPOSTE_TABLE"):
    os.environ.pop(_name, None)

from demo.local import LambdaContext  # noqa: E402
from riposte.flowlogs import MemoryFlowState, Networks, analyze  # noqa: E402
from riposte.handlers import flowlogs as flowlogs_handler  # noqa: E402
from tests.unit.flowlogs import scenario  # noqa: E402

NOW = scenario.T0 + 120
NETWORKS = Networks(own=[scenario.VPC_V6])
CONTEXT = LambdaContext(function_name="riposte-flowlogs")
flowlogs_handler.clock = lambda: NOW  # the payloads are of a past minute: judge them as if it were now


def floor(data: str) -> list[str]:
    events: list[dict[str, Any]] = json.loads(gzip.decompress(base64.b64decode(data)))["logEvents"]
    return [event["message"] for event in events]


def naive(data: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in floor(data):
        src = message.split()[3]
        counts[src] = counts.get(src, 0) + 1
    return counts


def riposte(data: str) -> object:
    return analyze([floor(data)], MemoryFlowState(), now=NOW, networks=NETWORKS)


def handler(data: str) -> object:
    with contextlib.redirect_stdout(_SINK):  # Powertools flushes its metrics every 100 even when disabled
        return flowlogs_handler.handler({"awslogs": {"data": data}}, CONTEXT)  # type: ignore[arg-type]


class _Sink(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


_SINK = _Sink()


def naive_loop(messages: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        src = message.split()[3]
        counts[src] = counts.get(src, 0) + 1
    return counts


def riposte_core(messages: list[str]) -> object:
    return analyze([messages], MemoryFlowState(), now=NOW, networks=NETWORKS)


def timed(paths: dict[str, tuple[Callable[[Any], object], object]], rounds: int) -> dict[str, list[float]]:
    """Times of each path, interleaved round by round so that a busy spell hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds + 1):  # the first round warms up
        for name, (fn, arg) in paths.items():
            start = time.perf_counter()
            fn(arg)
            times[name].append(time.perf_counter() - start)
    return {name: found[1:] for name, found in times.items()}


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of a/b, each round's pair measured back to back: steadier than a ratio of minimums."""
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


def payload(records: int) -> str:
    return scenario.encode(scenario.subscription_payload(scenario.traffic(records)))


def speed(rounds: int) -> None:
    print(f"us per record (records/s): best of {rounds} interleaved rounds, from the base64(gzip(json)) payload;")
    print("ratios: median over rounds of the two paths run back to back")
    print(
        f"{'records':>8} {'floor':>19} {'naive':>19} {'riposte core':>19} {'riposte handler':>19}"
        f" {'core/naive':>11} {'handler/naive':>14}"
    )
    loops = []
    for records in (10_000, 27_000):
        data = payload(records)
        messages = floor(data)
        paths = {
            "floor": (floor, data),
            "naive": (naive, data),
            "riposte": (riposte, data),
            "handler": (handler, data),
            "naive loop": (naive_loop, messages),
            "riposte core": (riposte_core, messages),
        }
        times = timed(paths, rounds)
        cost = {name: min(found) / records for name, found in times.items()}
        cells = [f"{cost[k] * 1e6:5.2f} ({1 / cost[k]:>9,.0f})" for k in ("floor", "naive", "riposte", "handler")]
        print(
            f"{records:>8,} {cells[0]:>19} {cells[1]:>19} {cells[2]:>19} {cells[3]:>19}"
            f" {ratio(times, 'riposte', 'naive'):>10.2f}x {ratio(times, 'handler', 'naive'):>13.2f}x"
        )
        loops.append((records, cost["naive loop"], cost["riposte core"], ratio(times, "riposte core", "naive loop")))
    print("the same from decoded messages (the loop alone, payload decoding left out):")
    for records, naive_cost, core_cost, core_ratio in loops:
        print(
            f"{records:>8,} naive split-and-count {naive_cost * 1e6:5.2f}, riposte analyze {core_cost * 1e6:5.2f}:"
            f" {core_ratio:.2f}x"
        )
    print(f"  (a payload of 27,000 records is {len(data) / 2**20:.2f} MiB of base64)")


def traced_peak(fn: Callable[[Any], object], arg: object) -> float:
    gc.collect()
    tracemalloc.start()
    fn(arg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def memory() -> None:
    records = 200_000
    data = payload(records)
    while len(data) < 6 * 2**20:  # grow to about 6 MiB of base64, the largest synchronous Lambda payload
        records = int(records * 6 * 2**20 / len(data)) + 1000
        data = payload(records)
    size = f"{len(data) / 2**20:.2f} MiB of base64, {records:,} records"
    print(f"peak traced memory on {size}:")
    print(f"  floor (decoding alone)             {traced_peak(floor, data):6.1f} MiB")
    print(f"  riposte core (decoding + analyze)  {traced_peak(riposte, data):6.1f} MiB")
    print(f"  riposte handler (the Lambda)       {traced_peak(handler, data):6.1f} MiB")
    messages = floor(data)
    print(f"  analyze alone, on decoded messages {traced_peak(riposte_core, messages):6.1f} MiB")


def deep_size(root: object) -> int:
    """Bytes held by an object graph (sys.getsizeof over everything reachable, each object once)."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, name) for name in obj.__slots__ if hasattr(obj, name))
        elif hasattr(obj, "__dict__"):
            stack.append(vars(obj))
    return total


def state_size() -> None:
    """A million distinct sources, each sending one flow big enough to be a candidate, over 20 windows."""
    state = MemoryFlowState()
    sources, per_window = 1_000_000, 50_000
    writes = 0
    start = time.perf_counter()
    for first in range(0, sources, per_window):
        window = scenario.T0 + 60 * (first // per_window)
        lines = [
            f"2 {scenario.ACCOUNT} eni-0a0b0c0d0e0f10010 {81 + i // 65536 % 100}.{i // 256 % 256}.{i % 256}.7"
            f" 10.0.1.10 40000 443 6 {1000 + i % 5000} {(1000 + i % 5000) * 90} {window + i % 60} {window + 59}"
            " ACCEPT OK"
            for i in range(first, first + per_window)
        ]
        result = analyze([lines[:27_000], lines[27_000:]], state, now=window + 60, networks=NETWORKS)
        writes += result.counters.writes
    elapsed = time.perf_counter() - start
    print(
        f"MemoryFlowState after {sources:,} distinct sources over {sources // per_window} windows: {state.size()},"
        f" {deep_size(state) / 2**20:.1f} MiB; {writes:,} writes ({writes / sources:.3f} per source); {elapsed:.0f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--only", choices=("speed", "memory", "state"))
    args = parser.parse_args()
    if args.only in (None, "speed"):
        speed(args.rounds)
    if args.only in (None, "memory"):
        memory()
    if args.only in (None, "state"):
        state_size()


if __name__ == "__main__":
    main()
