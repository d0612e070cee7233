"""Context moves scores with stated reasons: bursts, repeat offenders, other sources' sightings, criticality."""

from __future__ import annotations

import dataclasses

from riposte import sources
from riposte.adapters.memory import MemoryState
from riposte.core.model import SIGNAL_SAMPLE, Party, Role, Tally
from riposte.engine import context, setup
from tests.conftest import load_event

CONFIG = setup.parse({})


def event(name: str = "ssh_bruteforce_inbound.json"):  # type: ignore[no-untyped-def]
    return sources.normalize(load_event(name))


def test_a_burst_adds_its_points_only_from_its_threshold_on_and_counts_redeliveries_once() -> None:
    state = MemoryState()
    tally = Tally(key="console-failures#alice", window_seconds=300, threshold=3, points=30, label="failed logins")
    found = []
    for n in range(3):
        occurrence = dataclasses.replace(event(), id=f"e{n}", tally=tally)
        found.append(context.gather(occurrence, CONFIG, state, now=1000 + n))
        found.append(context.gather(occurrence, CONFIG, state, now=1000 + n))  # redelivered
    assert [points for points, _ in (f[0] for f in found)] == [0, 0, 0, 0, 30, 30]
    assert found[0][0][1] == "failed logins: 1 of 3 within 5 min, not yet a burst"
    assert found[4][0][1] == "failed logins: 3 within 5 min (threshold 3): +30"


def test_a_repeat_offender_is_recognised_from_the_configured_count() -> None:
    state = MemoryState()
    reasons = []
    for n in range(3):
        occurrence = dataclasses.replace(event(), id=f"e{n}", subject=f"finding-{n}")
        reasons.append(context.gather(occurrence, CONFIG, state, now=1000 + n))
    assert reasons[0] == []
    assert reasons[1] == []
    assert reasons[2] == [(5, "repeat offender: 185.156.73.23 in 3 events within 24h: +5")]


def test_another_sources_sighting_raises_the_score() -> None:
    state = MemoryState()
    first = event()
    assert context.gather(first, CONFIG, state, now=1000) == []
    elsewhere = dataclasses.replace(first, source="flowlogs", id="f1", subject="f1")
    assert context.gather(elsewhere, CONFIG, state, now=1500) == [
        (10, "185.156.73.23 also seen by guardduty within 60 min: +10")
    ]
    late = dataclasses.replace(first, source="cloudtrail", id="c1", subject="c1")
    late_reasons = [why for _, why in context.gather(late, CONFIG, state, now=1500 + 3601)]
    assert not [why for why in late_reasons if "also seen" in why]  # both sightings are too old


def test_criticality_from_the_resource_tag_or_the_configuration() -> None:
    tagged = dataclasses.replace(event(), asset_criticality="critical")
    assert context.gather(tagged, CONFIG, MemoryState(), now=0)[0] == (
        15,
        "resource tagged riposte:criticality=critical: +15",
    )
    config = setup.parse({"scoring": {"critical_resources": ["i-0a1b2c3d*"]}})
    assert context.gather(event(), config, MemoryState(), now=0)[0] == (
        10,
        "i-0a1b2c3d4e5f60718 is a critical resource (i-0a1b2c3d*): +10",
    )
    # An attacker's own values never match: only our resources (affected or compromised) count.
    attacker_pattern = setup.parse({"scoring": {"critical_resources": ["185.156.*"]}})
    assert context.gather(event(), attacker_pattern, MemoryState(), now=0) == []


def test_samples_make_nobody_a_repeat_offender() -> None:
    state = MemoryState()
    for n in range(5):
        sample = dataclasses.replace(event(), id=f"s{n}", subject=f"s{n}", signals=frozenset({SIGNAL_SAMPLE}))
        assert context.gather(sample, CONFIG, state, now=1000 + n) == []
    assert state.counts == {}
    assert state.sightings == {}


def test_only_actors_are_tracked_as_offenders() -> None:
    state = MemoryState()
    peer_only = dataclasses.replace(
        event(), entities=dataclasses.replace(event().entities, parties=(Party("ip", "45.13.104.9", Role.PEER),))
    )
    for n in range(5):
        assert context.gather(dataclasses.replace(peer_only, subject=f"p{n}"), CONFIG, state, now=n) == []
