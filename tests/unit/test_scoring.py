from __future__ import annotations

import dataclasses

import pytest

from riposte import sources
from riposte.core import scoring
from riposte.core.model import SIGNAL_ALREADY_BLOCKED, SIGNAL_ARCHIVED, SIGNAL_SAMPLE, SIGNAL_THREAT_INTEL, Severity
from tests.conftest import load_event, with_detail


def base_event(severity: float = 8.0, count: int = 1, signals: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    event = sources.normalize(with_detail(load_event("bitcoin_outbound.json"), severity=severity))
    return dataclasses.replace(event, count=count, signals=signals)


@pytest.mark.parametrize(
    ("severity", "band", "level"),
    [
        (0.5, "Informational", Severity.INFO),
        (1.0, "Low", Severity.LOW),
        (3.9, "Low", Severity.LOW),
        (4.0, "Medium", Severity.MEDIUM),
        (6.9, "Medium", Severity.MEDIUM),
        (7.0, "High", Severity.HIGH),
        (8.9, "High", Severity.HIGH),
        (9.0, "Critical", Severity.CRITICAL),
        (10.0, "Critical", Severity.CRITICAL),
    ],
)
def test_guardduty_bands_map_to_the_same_severity(severity: float, band: str, level: Severity) -> None:
    score = scoring.score(base_event(severity))
    assert score.value == round(severity * 10)
    assert score.severity is level
    assert score.reasons[0].startswith(f"GuardDuty severity {severity:g} ({band})")


def test_every_modifier_is_explained_and_summed() -> None:
    score = scoring.score(base_event(6.0, count=25, signals=frozenset({SIGNAL_THREAT_INTEL})))
    assert score.value == 60 + 10 + 5
    assert any("threat-intelligence" in r and "+10" in r for r in score.reasons)
    assert any(r == "seen 25 times: +5" for r in score.reasons)


def test_traffic_already_blocked_lowers_the_score() -> None:
    assert scoring.score(base_event(5.0, signals=frozenset({SIGNAL_ALREADY_BLOCKED}))).value == 40


def test_score_is_clamped_to_100_and_says_so() -> None:
    score = scoring.score(base_event(10.0, count=99, signals=frozenset({SIGNAL_THREAT_INTEL})))
    assert score.value == 100
    assert score.reasons[-1] == "clamped to 100"


def test_event_without_severity_scores_zero_with_a_reason() -> None:
    score = scoring.score(dataclasses.replace(base_event(), native_severity=None))
    assert score.value == 0
    assert "no severity" in score.reasons[0]


@pytest.mark.parametrize(
    ("severity", "points", "level"),
    [(6.95, 69, Severity.MEDIUM), (6.99, 69, Severity.MEDIUM), (8.95, 89, Severity.HIGH), (0.7, 7, Severity.INFO)],
)
def test_the_base_is_banded_by_the_sources_own_value_never_rounded_up_across_a_band(
    severity: float, points: int, level: Severity
) -> None:
    score = scoring.score(base_event(severity))
    assert (score.value, score.severity) == (points, level)


@pytest.mark.parametrize(("signal", "words"), [(SIGNAL_SAMPLE, "sample"), (SIGNAL_ARCHIVED, "archived")])
def test_samples_and_archived_events_score_at_most_low_and_say_why(signal: str, words: str) -> None:
    score = scoring.score(base_event(9.5, signals=frozenset({signal, SIGNAL_THREAT_INTEL})))
    assert score.value == scoring.NOT_LIVE_CAP
    assert score.severity is Severity.LOW
    assert words in score.reasons[-1]
    assert "never acted on" in score.reasons[-1]


def test_context_contributions_are_added_with_their_reasons() -> None:
    score = scoring.score(base_event(5.0), context=[(10, "asset is critical: +10"), (-5, "known scanner: -5")])
    assert score.value == 55
    assert score.reasons[-2:] == ("asset is critical: +10", "known scanner: -5")


# --- exact boundaries and exact reasons ------------------------------------------------------------------------


def test_a_repeat_counts_from_exactly_ten_occurrences() -> None:
    assert scoring.REPEAT_COUNT == 10
    assert scoring.score(base_event(5.0, count=9)).reasons == ("GuardDuty severity 5 (Medium): base 50",)
    assert scoring.score(base_event(5.0, count=9)).value == 50
    at = scoring.score(base_event(5.0, count=10))
    assert (at.value, at.reasons) == (55, ("GuardDuty severity 5 (Medium): base 50", "seen 10 times: +5"))


def test_each_modifier_adds_exactly_its_points_with_its_own_reason() -> None:
    intel = scoring.score(base_event(5.0, signals=frozenset({SIGNAL_THREAT_INTEL})))
    assert (intel.value, intel.reasons[1:]) == (60, ("remote address is on a threat-intelligence list: +10",))
    blocked = scoring.score(base_event(5.0, signals=frozenset({SIGNAL_ALREADY_BLOCKED})))
    assert blocked.reasons[1:] == ("traffic was already blocked by a security group or ACL: -10",)
    assert scoring.score(base_event(5.0)).reasons == ("GuardDuty severity 5 (Medium): base 50",)


def test_modifiers_come_before_context_in_the_reasons() -> None:
    score = scoring.score(
        base_event(5.0, count=10, signals=frozenset({SIGNAL_THREAT_INTEL, SIGNAL_ALREADY_BLOCKED})),
        context=[(3, "context: +3")],
    )
    assert score.value == 50 + 10 + 5 - 10 + 3
    assert score.reasons[1:] == (
        "remote address is on a threat-intelligence list: +10",
        "seen 10 times: +5",
        "traffic was already blocked by a security group or ACL: -10",
        "context: +3",
    )


def test_without_a_note_the_base_names_the_source_and_its_value() -> None:
    event = dataclasses.replace(base_event(), native_severity=6.5, severity_note="")
    assert scoring.score(event).reasons == ("guardduty severity 6.5: base 65",)
    none = dataclasses.replace(base_event(), native_severity=None)
    assert scoring.score(none).reasons == ("guardduty gives no severity: base 0",)


@pytest.mark.parametrize(("severity", "points"), [(0.0, 0), (0.1, 1), (2.3, 23), (6.9, 69), (7.0, 70), (10.0, 100)])
def test_the_base_is_exactly_ten_times_the_sources_severity(severity: float, points: int) -> None:
    assert scoring.score(base_event(severity)).value == points


def test_a_score_is_clamped_at_zero_and_says_so_but_not_at_exactly_zero_or_a_hundred() -> None:
    low = scoring.score(base_event(0.5, signals=frozenset({SIGNAL_ALREADY_BLOCKED})))
    assert (low.value, low.reasons[-1]) == (0, "clamped to 0")
    zero = scoring.score(base_event(1.0, signals=frozenset({SIGNAL_ALREADY_BLOCKED})))
    assert (zero.value, len(zero.reasons)) == (0, 2)  # exactly 0: nothing to clamp
    hundred = scoring.score(base_event(9.0, signals=frozenset({SIGNAL_THREAT_INTEL})))
    assert (hundred.value, len(hundred.reasons)) == (100, 2)  # exactly 100: nothing to clamp
    over = scoring.score(base_event(9.1, signals=frozenset({SIGNAL_THREAT_INTEL})))
    assert (over.value, over.reasons[-1]) == (100, "clamped to 100")


@pytest.mark.parametrize(
    ("signal", "what"), [(SIGNAL_SAMPLE, "a sample, not live activity"), (SIGNAL_ARCHIVED, "archived by a person")]
)
def test_the_not_live_cap_applies_only_above_thirty(signal: str, what: str) -> None:
    assert scoring.NOT_LIVE_CAP == 30
    assert Severity.for_score(scoring.NOT_LIVE_CAP) is Severity.LOW
    at = scoring.score(base_event(3.0, signals=frozenset({signal})))
    assert (at.value, at.reasons) == (30, ("GuardDuty severity 3 (Low): base 30",))
    above = scoring.score(base_event(3.1, signals=frozenset({signal})))
    assert (above.value, above.reasons[-1]) == (30, f"{what}: capped at 30 (low), never acted on")
    assert len(above.reasons) == 2


def test_an_event_both_sampled_and_archived_is_capped_once() -> None:
    score = scoring.score(base_event(9.0, signals=frozenset({SIGNAL_SAMPLE, SIGNAL_ARCHIVED})))
    assert score.value == 30
    assert score.reasons[1:] == ("a sample, not live activity: capped at 30 (low), never acted on",)


def test_the_cap_follows_the_clamp() -> None:
    score = scoring.score(base_event(10.0, signals=frozenset({SIGNAL_SAMPLE, SIGNAL_THREAT_INTEL})))
    assert score.value == 30
    assert score.reasons[-2:] == ("clamped to 100", "a sample, not live activity: capped at 30 (low), never acted on")
