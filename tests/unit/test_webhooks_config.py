"""The [webhooks] configuration: documented defaults, validation that names the field, and safe defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from riposte.core import config as cfg
from riposte.engine import setup

ROOT = Path(__file__).resolve().parents[2]


def test_the_commented_example_section_is_valid_and_states_the_defaults() -> None:
    text = (ROOT / "riposte.example.toml").read_text()
    block = text.split("# [webhooks]\n", 1)[1].split("\n\n", 1)[0]
    lines = [line[2:] for line in block.splitlines() if line.startswith("# ") and ("=" in line or line[2:3] == " ")]
    data = tomllib.loads("\n".join(lines))
    assert cfg.Webhooks.model_validate(data) == cfg.Webhooks()
    assert set(data) == set(cfg.Webhooks.model_fields)


def test_the_front_door_is_off_by_default() -> None:
    assert not cfg.Config().webhooks.enabled


@pytest.mark.parametrize(
    ("webhooks", "field"),
    [
        ({"min_prefix_ipv4": 7}, "webhooks.min_prefix_ipv4"),
        ({"min_prefix_ipv4": 33}, "webhooks.min_prefix_ipv4"),
        ({"min_prefix_ipv6": 15}, "webhooks.min_prefix_ipv6"),
        ({"max_addresses": 0}, "webhooks.max_addresses"),
        ({"default_severity": "urgent"}, "webhooks.default_severity"),
        ({"sns_topic_arns": ["riposte-alerts"]}, "webhooks.sns_topic_arns.0"),
        ({"address_fields": ["src ip"]}, "webhooks.address_fields.0"),
        ({"throttle_rate": 50, "throttle_burst": 10}, "webhooks"),
        ({"waf_rate_limit": 99}, "webhooks.waf_rate_limit"),
        ({"redrive_role_arns": ["ops"]}, "webhooks.redrive_role_arns.0"),
        ({"secret_prefix": "has space/"}, "webhooks.secret_prefix"),
        ({"tools": ["splunk"]}, "webhooks.tools"),
        ({"enabled": True, "tools": []}, "webhooks.tools"),
        ({"enabled": True}, "webhooks.sns_topic_arns"),
        ({"address_fields": ["dest_ip"]}, "webhooks.address_fields"),
    ],
)
def test_bad_webhook_settings_fail_with_the_field_named(webhooks: dict[str, object], field: str) -> None:
    with pytest.raises(cfg.ConfigError) as caught:
        setup.parse({"webhooks": webhooks}, "riposte.toml")
    assert f"riposte.toml: {field}:" in str(caught.value)


def test_limits_at_their_bounds_are_accepted() -> None:
    config = setup.parse(
        {
            "webhooks": {
                "min_prefix_ipv4": 8,
                "min_prefix_ipv6": 128,
                "max_addresses": 1000,
                "throttle_rate": 10,
                "throttle_burst": 10,
                "waf_rate_limit": 100,
                "tools": ["generic"],
                "enabled": True,
            }
        }
    )
    assert config.webhooks.tools == ("generic",)
    arn = "arn:aws:sns:us-east-1:123456789012:riposte-alerts"
    assert setup.parse({"webhooks": {"enabled": True, "sns_topic_arns": [arn]}}).webhooks.sns_topic_arns == (arn,)
