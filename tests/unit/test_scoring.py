from __future__ import annotations

import dataclasses

import pytest

from riposte import sources
from riposte.core import scoring
from riposte.core.model import SIGNAL_ALREADY_BLOCKED, SIGNAL_THREAT_INTEL, Severity
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
