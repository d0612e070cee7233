"""`make bench`: throughput of the pure pipeline (normalize + score + plan) on the bundled findings.

Measured here, not asserted in tests: a timing assertion fails on a busy machine and proves nothing.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

from riposte.core import config as cfg
from riposte.engine import pipeline

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events" / "guardduty"
ROUNDS = 2000


def main() -> None:
    raws = [json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json"))]
    config = cfg.Config()
    for raw in raws:  # warm up imports and pydantic's validators
        pipeline.plan(raw, config)
    start = time.perf_counter()
    for _ in range(ROUNDS):
        for raw in raws:
            pipeline.plan(raw, config)
    elapsed = time.perf_counter() - start
    count = ROUNDS * len(raws)
    tracemalloc.start()
    for raw in raws:
        pipeline.plan(raw, config)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per = elapsed / count * 1e6
    print(f"pipeline.plan: {count} findings in {elapsed:.2f}s = {count / elapsed:,.0f}/s, {per:.1f} us each")
    print(f"peak traced memory for one pass over {len(raws)} findings: {peak / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
