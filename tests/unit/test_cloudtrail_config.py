"""The [cloudtrail] section: small, validated, errors naming the field."""

from __future__ import annotations

import pytest

from riposte.core import config as cfg
from tests.conftest import ROOT


def test_defaults_create_a_trail_keeping_a_year_of_logs() -> None:
    section = cfg.Config().cloudtrail
    assert (section.create_trail, section.log_retention_days, section.bucket_retention_days) == (True, 365, 365)
    assert cfg.load(ROOT / "riposte.example.toml").cloudtrail == section


def test_an_existing_trail_can_be_used_instead() -> None:
    assert cfg.parse({"cloudtrail": {"create_trail": False}}).cloudtrail.create_trail is False


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"log_retention_days": 366}, "cloudtrail.log_retention_days: must be one of CloudWatch Logs' retention"),
        ({"log_retention_days": 0}, "cloudtrail.log_retention_days"),
        (
            {"bucket_retention_days": 89},
            "cloudtrail.bucket_retention_days: Input should be greater than or equal to 90",
        ),
        ({"bucket_retention_days": 36501}, "cloudtrail.bucket_retention_days: Input should be less than or equal"),
        ({"create_trail": "maybe"}, "cloudtrail.create_trail: Input should be a valid boolean"),
        ({"ignore": ["x"]}, "cloudtrail.ignore: Extra inputs are not permitted"),
    ],
)
def test_bad_values_fail_naming_the_field(section: dict[str, object], message: str) -> None:
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse({"cloudtrail": section})


@pytest.mark.parametrize("days", [90, 36500])
def test_bucket_retention_bounds_are_inclusive(days: int) -> None:
    assert cfg.parse({"cloudtrail": {"bucket_retention_days": days}}).cloudtrail.bucket_retention_days == days


@pytest.mark.parametrize("days", [1, 3653])
def test_log_retention_accepts_cloudwatch_s_periods_from_shortest_to_longest(days: int) -> None:
    assert cfg.parse({"cloudtrail": {"log_retention_days": days}}).cloudtrail.log_retention_days == days
