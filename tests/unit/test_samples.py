"""Every bundled sample event carries its expected outcome beside it (``<name>.expect.toml``), and this sweep
runs them all through the pure pipeline under the default configuration. A sample without expectations
fails; nothing is skipped."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from riposte import inputs
from riposte.core.config import Config
from riposte.engine import pipeline, setup
from tests.conftest import EVENTS

SAMPLE_SUFFIXES = (".json", ".jsonl")
ENTITY_KINDS = ("ips", "instances", "access_keys", "principals", "accounts")


def sample_files() -> list[Path]:
    return sorted(p for p in EVENTS.rglob("*") if p.is_file() and p.suffix in SAMPLE_SUFFIXES)


def expectations(sample: Path) -> list[dict[str, Any]]:
    sidecar = sample.with_name(sample.stem + ".expect.toml")
    assert sidecar.exists(), f"{sample.relative_to(EVENTS)} has no {sidecar.name} stating what must happen"
    cases: list[dict[str, Any]] = tomllib.loads(sidecar.read_text())["expect"]
    return cases


def test_there_are_samples_to_sweep() -> None:
    assert len(sample_files()) >= 7


def test_every_expectation_file_belongs_to_a_sample() -> None:
    for sidecar in EVENTS.rglob("*.expect.toml"):
        stem = sidecar.name.removesuffix(".expect.toml")
        assert any(sidecar.with_name(stem + suffix).exists() for suffix in SAMPLE_SUFFIXES), sidecar


@pytest.mark.parametrize("sample", sample_files(), ids=lambda p: str(p.relative_to(EVENTS)))
def test_sample_meets_its_expectations(sample: Path) -> None:
    config = setup.check(Config())
    items = list(inputs.read([str(sample)]))
    cases = expectations(sample)
    assert len(items) == len(cases), f"{len(items)} events but {len(cases)} [[expect]] entries"
    for item, expect in zip(items, cases, strict=True):
        assert item.error is None, item.error
        plan = pipeline.plan(item.raw, config)
        event = plan.event
        assert (event.source, event.type, str(event.kind)) == (expect["source"], expect["type"], expect["kind"])
        assert str(plan.score.severity) == expect["band"], plan.score.reasons
        for kind in ENTITY_KINDS:
            assert list(getattr(event.entities, kind)) == expect.get(kind, []), kind
        actions = [f"{o.name} {o.target} {o.status}" for o in plan.actions]
        assert actions == expect["actions"]
        for forbidden in expect["must_not"]:
            assert not any(a.startswith(forbidden + " ") and not a.endswith(" refused") for a in actions), forbidden
        assert list(plan.notify) == expect["notify"]
