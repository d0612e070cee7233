"""Context at its exact boundaries: burst thresholds and windows, repeat offenders, sightings, criticality.

Written from the survivors of `make mutate` on ``riposte.engine.context``: each test pins a boundary or a word
that no other test held.
"""

from __future__ import annotations

import dataclasses

import pytest

from riposte import sources
from riposte.adapters.memory import MemoryState
from riposte.core.model import SIGNAL_ARCHIVED, Entities, Party, Role, SecurityEvent, Tally
from riposte.engine import context, setup
from tests.conftest import load_event

CONFIG = setup.parse({})
ATTACKER = "185.156.73.23"


def event(**changes: object) -> SecurityEvent:
    return dataclasses.replace(sources.normalize(load_event("ssh_bruteforce_inbound.json")), **changes)  # type: ignore[arg-type]


def parties(*found: Party) -> Entities:
    return Entities.of(found)


def test_the_points_context_adds() -> None:
    assert (context.REPEAT_POINTS, context.CORRELATION_POINTS, context.CONFIGURED_CRITICAL_POINTS) == (5, 10, 10)
    assert context.CRITICALITY_POINTS == {"critical": 15, "high": 10}
    assert context.ATTACKER_KINDS == ("ip", "principal", "access_key", "account")


# --- bursts ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"), [(59, "59 s"), (60, "1 min"), (119, "1 min"), (120, "2 min"), (3600, "60 min")]
)
def test_a_burst_window_is_named_in_seconds_below_a_minute_and_whole_minutes_from_one(seconds: int, words: str) -> None:
    tally = Tally(key="k", window_seconds=seconds, threshold=2, points=20, label="secret reads")
    found = context.gather(event(tally=tally), CONFIG, MemoryState(), now=0)
    assert found == [(0, f"secret reads: 1 of 2 within {words}, not yet a burst")]


def test_a_burst_counts_distinct_events_under_its_key_in_its_window() -> None:
    state = MemoryState()
    tally = Tally(key="console#alice", window_seconds=300, threshold=2, points=20, label="failed logins")
    assert context.gather(event(id="a", tally=tally), CONFIG, state, now=600)[0][0] == 0
    assert context.gather(event(id="b", tally=tally), CONFIG, state, now=899)[0] == (
        20,
        "failed logins: 2 within 5 min (threshold 2): +20",
    )
    assert context.gather(event(id="c", tally=tally), CONFIG, state, now=900)[0][0] == 0  # a new window
    assert set(state.counts) >= {("tally#console#alice", 600), ("tally#console#alice", 900)}


# --- repeat offenders --------------------------------------------------------------------------------------------


def repeat_reasons(state: MemoryState, now: float, n: int, config: object = CONFIG) -> list[tuple[int, str]]:
    found = context.gather(event(id=f"e{n}", subject=f"s{n}"), config, state, now=now)  # type: ignore[arg-type]
    return [f for f in found if "repeat offender" in f[1]]


def test_a_repeat_offender_is_named_from_exactly_the_configured_count_of_events() -> None:
    config = setup.parse({"scoring": {"repeat_offender_events": 4, "repeat_window_hours": 2}})
    state = MemoryState()
    assert [repeat_reasons(state, 10 + n, n, config) for n in range(3)] == [[], [], []]
    assert repeat_reasons(state, 13, 3, config) == [(5, f"repeat offender: {ATTACKER} in 4 events within 2h: +5")]


def test_repeat_offenders_are_counted_in_windows_of_the_configured_hours() -> None:
    config = setup.parse({"scoring": {"repeat_offender_events": 2, "repeat_window_hours": 1}})
    state = MemoryState()
    assert repeat_reasons(state, 3600, 0, config) == []
    assert repeat_reasons(state, 7199, 1, config) != []  # the same hour-long window
    assert repeat_reasons(state, 7200, 2, config) == []  # the next one
    assert set(state.counts) == {(f"offender#ip#{ATTACKER}", 3600), (f"offender#ip#{ATTACKER}", 7200)}


def test_a_repeat_is_counted_per_subject_so_updates_of_one_finding_are_one_event() -> None:
    state = MemoryState()
    for n in range(3):
        found = context.gather(event(id=f"update-{n}", subject="one-finding"), CONFIG, state, now=n)
        assert not [f for f in found if "repeat offender" in f[1]]
    without_subject = [event(id=f"x{n}", subject="") for n in range(3)]  # then each id is one event
    found = [context.gather(e, CONFIG, MemoryState(), now=0) for e in without_subject]
    state = MemoryState()
    reasons = [context.gather(e, CONFIG, state, now=0) for e in without_subject]
    assert found[2] == []
    assert reasons[2] == [(5, f"repeat offender: {ATTACKER} in 3 events within 24h: +5")]


def test_the_most_repeated_attacker_is_the_one_named() -> None:
    state = MemoryState()
    config = setup.parse({"scoring": {"repeat_offender_events": 2}})
    one = Party("ip", "45.13.104.1", Role.ACTOR, network=True)
    two = Party("principal", "arn:aws:iam::111122223333:user/mallory", Role.ACTOR)
    context.gather(event(id="a", subject="a", entities=parties(two)), config, state, now=0)
    found = context.gather(event(id="b", subject="b", entities=parties(one, two)), config, state, now=1)
    assert found == [(5, "repeat offender: arn:aws:iam::111122223333:user/mallory in 2 events within 24h: +5")]


@pytest.mark.parametrize(
    "party",
    [
        Party("ip", ATTACKER, Role.PEER, network=True),
        Party("ip", ATTACKER, Role.AFFECTED),
        Party("instance", "i-0a1b2c3d4e5f60718", Role.ACTOR),
    ],
)
def test_only_acting_addresses_principals_keys_and_accounts_are_offenders(party: Party) -> None:
    state = MemoryState()
    config = setup.parse({"scoring": {"repeat_offender_events": 2}})
    for n in range(3):
        assert context.gather(event(id=f"e{n}", subject=f"s{n}", entities=parties(party)), config, state, now=n) == []
    assert state.counts == {}


@pytest.mark.parametrize(
    ("kind", "value"),
    [("ip", ATTACKER), ("principal", "mallory"), ("access_key", "AKIAIOSFODNN7EXAMPLE"), ("account", "444455556666")],
)
def test_every_attacker_kind_can_be_a_repeat_offender(kind: str, value: str) -> None:
    state = MemoryState()
    config = setup.parse({"scoring": {"repeat_offender_events": 2}})
    actor = parties(Party(kind, value, Role.ACTOR))
    context.gather(event(id="a", subject="a", entities=actor), config, state, now=0)
    found = context.gather(event(id="b", subject="b", entities=actor), config, state, now=1)
    assert found == [(5, f"repeat offender: {value} in 2 events within 24h: +5")]


def test_a_repeat_offender_is_named_whole_even_with_a_hash_in_its_name() -> None:
    # Names from webhooks and other tools may carry "#": the reason names the party, not a piece of it.
    state = MemoryState()
    config = setup.parse({"scoring": {"repeat_offender_events": 2}})
    actor = parties(Party("principal", "ci#bot#7", Role.ACTOR))
    context.gather(event(id="a", subject="a", entities=actor), config, state, now=0)
    found = context.gather(event(id="b", subject="b", entities=actor), config, state, now=1)
    assert found == [(5, "repeat offender: ci#bot#7 in 2 events within 24h: +5")]


# --- other sources' sightings ------------------------------------------------------------------------------------


def test_a_sighting_counts_up_to_exactly_the_end_of_the_window() -> None:
    config = setup.parse({"scoring": {"correlation_window_minutes": 10}})
    state = MemoryState()
    assert context.gather(event(), config, state, now=1000) == []
    in_time = context.gather(event(source="flowlogs", id="f", subject="f"), config, state, now=1600)
    assert in_time == [(10, f"{ATTACKER} also seen by guardduty within 10 min: +10")]
    state = MemoryState()
    context.gather(event(), config, state, now=1000)
    late = context.gather(event(source="flowlogs", id="f", subject="f"), config, state, now=1601)
    assert late == []


def test_every_other_source_is_named_in_order() -> None:
    state = MemoryState()
    for source in ("webhook", "cloudtrail"):
        context.gather(event(source=source, id=source, subject=source), CONFIG, state, now=0)
    found = context.gather(event(), CONFIG, state, now=1)
    assert found[-1] == (10, f"{ATTACKER} also seen by cloudtrail, webhook within 60 min: +10")


def test_the_first_attacker_another_source_saw_is_named_once() -> None:
    state = MemoryState()
    first = Party("ip", "45.13.104.1", Role.ACTOR, network=True)
    second = Party("ip", "45.13.104.2", Role.ACTOR, network=True)
    both = parties(first, second)
    context.gather(event(source="flowlogs", id="f", subject="f", entities=both), CONFIG, state, now=0)
    found = context.gather(event(entities=both), CONFIG, state, now=1)
    assert found == [(10, "45.13.104.1 also seen by flowlogs within 60 min: +10")]


def test_another_sources_sighting_of_someone_else_does_not_count() -> None:
    state = MemoryState()
    other = parties(Party("ip", "45.13.104.1", Role.ACTOR, network=True))
    context.gather(event(source="flowlogs", id="f", subject="f", entities=other), CONFIG, state, now=0)
    assert context.gather(event(), CONFIG, state, now=1) == []
    assert set(state.sightings) == {"ip#45.13.104.1", f"ip#{ATTACKER}"}


def test_a_sighting_names_the_party_whole_even_with_a_hash_in_its_name() -> None:
    state = MemoryState()
    actor = parties(Party("principal", "ci#bot#7", Role.ACTOR))
    context.gather(event(source="webhook", id="w", subject="w", entities=actor), CONFIG, state, now=0)
    found = context.gather(event(entities=actor), CONFIG, state, now=1)
    assert found == [(10, "ci#bot#7 also seen by webhook within 60 min: +10")]


# --- criticality ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("critical", [(15, "resource tagged riposte:criticality=critical: +15")]),
        ("High", [(10, "resource tagged riposte:criticality=high: +10")]),
        ("medium", []),
        ("low", []),
        ("", []),
    ],
)
def test_a_criticality_tag_counts_only_when_high_or_critical(tag: str, expected: list[tuple[int, str]]) -> None:
    assert context.gather(event(asset_criticality=tag), CONFIG, MemoryState(), now=0)[:1] == expected


@pytest.mark.parametrize("role", [Role.AFFECTED, Role.COMPROMISED])
def test_a_configured_critical_resource_counts_when_it_is_ours(role: Role) -> None:
    config = setup.parse({"scoring": {"critical_resources": ["arn:aws:s3:::other-*", "arn:aws:s3:::payroll-*"]}})
    ours = parties(Party("bucket", "arn:aws:s3:::payroll-2026", role))
    assert context.gather(event(entities=ours), config, MemoryState(), now=0) == [
        (10, "arn:aws:s3:::payroll-2026 is a critical resource (arn:aws:s3:::payroll-*): +10")
    ]


def test_the_tag_decides_before_the_configuration() -> None:
    config = setup.parse({"scoring": {"critical_resources": ["i-0a1b2c3d*"]}})
    found = context.gather(event(asset_criticality="high"), config, MemoryState(), now=0)
    assert found == [(10, "resource tagged riposte:criticality=high: +10")]


def test_patterns_match_case_sensitively() -> None:
    config = setup.parse({"scoring": {"critical_resources": ["I-0A1B2C3D*"]}})
    assert context.gather(event(), config, MemoryState(), now=0) == []


# --- what is gathered, in order ----------------------------------------------------------------------------------


def test_contributions_come_in_order_criticality_burst_repeat_correlation() -> None:
    config = setup.parse({"scoring": {"repeat_offender_events": 2}})
    state = MemoryState()
    tally = Tally(key="k", window_seconds=60, threshold=1, points=20, label="burst")
    context.gather(event(source="flowlogs", id="f", subject="f"), config, state, now=0)
    found = context.gather(event(tally=tally, asset_criticality="critical"), config, state, now=1)
    assert [why.split(":")[0] for _, why in found] == [
        "resource tagged riposte",
        "burst",
        "repeat offender",
        f"{ATTACKER} also seen by flowlogs within 60 min",
    ]


def test_an_archived_event_still_counts_its_burst_and_criticality_but_makes_no_offender() -> None:
    state = MemoryState()
    tally = Tally(key="k", window_seconds=60, threshold=1, points=20, label="burst")
    archived = event(tally=tally, asset_criticality="critical", signals=frozenset({SIGNAL_ARCHIVED}))
    found = context.gather(archived, CONFIG, state, now=0)
    assert [points for points, _ in found] == [15, 20]
    assert state.sightings == {}
