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
