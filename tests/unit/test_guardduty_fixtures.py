"""Every GuardDuty fixture states the role and network path of every party, and the entity kinds the general
sample sweep (tests/unit/test_samples.py) does not check: buckets, clusters, functions, DB instances, domains,
and the signals that decide scoring (sample, archived, threat intel, already blocked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from riposte import inputs, sources
from riposte.core.config import Config
from riposte.core.model import EventKind, Role
from riposte.engine import pipeline, setup
from tests.conftest import GUARDDUTY
from tests.unit.test_samples import expectations

OTHER_KINDS = ("buckets", "clusters", "functions", "db_instances", "domains")
# Each family and action type the issue names has a fixture; a fixture deleted by mistake fails here.
REQUIRED_KINDS = {kind.value for kind in EventKind} - {"network_traffic", "alert", "other"}


def fixtures() -> list[Path]:
    return sorted(GUARDDUTY.rglob("*.json"))


def events(sample: Path) -> list[tuple[Any, dict[str, Any]]]:
    items = list(inputs.read([str(sample)]))
    cases = expectations(sample)
    assert len(items) == len(cases)
    return [(item.raw, case) for item, case in zip(items, cases, strict=True)]


def describe(party: Any) -> str:
    return f"{party.kind} {party.value} {party.role}" + (" network" if party.network else "")


@pytest.mark.parametrize("sample", fixtures(), ids=lambda p: p.name)
def test_every_party_has_its_expected_role_and_network_path(sample: Path) -> None:
    for raw, expect in events(sample):
        assert "roles" in expect, f"{sample.name}: state every party's role in roles = [...]"
        event = sources.normalize(raw)
        assert [describe(p) for p in event.entities.parties] == expect["roles"]
        for kind in OTHER_KINDS:
            assert list(getattr(event.entities, kind)) == expect.get(kind, []), kind
        assert sorted(event.signals) == expect["signals"]


ACT_ON_EVERYTHING = {"act": 0, "notify": 0, "page": 0}


@pytest.mark.parametrize("outbound_peers", [True, False])
@pytest.mark.parametrize("sample", fixtures(), ids=lambda p: p.name)
def test_block_ip_targets_the_networked_actors_and_by_config_peers(sample: Path, outbound_peers: bool) -> None:
    """Acting on every score, block_ip takes every actor address on a network path, and peers on one only when
    configured; never an API or Kubernetes caller; nothing at all for a sample or an archived finding."""
    blocks = {"max_per_event": 100, "outbound_peers": outbound_peers}
    config = setup.check(Config.model_validate({"thresholds": ACT_ON_EVERYTHING, "blocks": blocks}))
    roles = (Role.ACTOR, Role.PEER) if outbound_peers else (Role.ACTOR,)
    for raw, expect in events(sample):
        plan = pipeline.plan(raw, config)
        targets = [o.target for o in plan.actions if o.name == "block_ip"]
        parties = plan.event.entities.parties
        wanted = list(dict.fromkeys(p.value for p in parties if p.kind == "ip" and p.network and p.role in roles))
        if {"sample", "archived"} & set(expect["signals"]):
            wanted = []
        assert targets == wanted
        if plan.event.kind in (EventKind.API_CALL, EventKind.KUBERNETES_API_CALL):
            assert not targets


def test_the_fixtures_cover_every_kind_of_finding() -> None:
    kinds = {sources.normalize(raw).kind.value for sample in fixtures() for raw, _ in events(sample)}
    assert kinds >= REQUIRED_KINDS, REQUIRED_KINDS - kinds


def test_the_fixtures_cover_every_role_and_both_network_paths() -> None:
    parties = [p for sample in fixtures() for raw, _ in events(sample) for p in sources.normalize(raw).entities.parties]
    for role in Role:
        assert any(p.role is role for p in parties), role
    for network in (True, False):
        for role in (Role.ACTOR, Role.PEER):
            assert any(p.kind == "ip" and p.role is role and p.network is network for p in parties), (role, network)
