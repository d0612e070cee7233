from __future__ import annotations

from pathlib import Path

import pytest

from riposte.core import config as cfg
from riposte.engine import setup

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid_and_safe_by_default() -> None:
    config = cfg.load(ROOT / "riposte.example.toml")
    assert config.mode is cfg.Mode.DRY_RUN
    assert config.dry_run
    assert config == cfg.Config()  # the example documents the defaults, it does not change them


def test_config_round_trips_through_the_lambda_environment() -> None:
    config = cfg.parse(
        {
            "mode": "enforce",
            "allowlist": ["34.120.0.0/16", "2001:db8::/32"],
            "nacl": {"network_acl_ids": ["acl-0123456789abcdef0"]},
        }
    )
    assert cfg.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"mode": "yolo"}, "mode"),
        ({"thresholds": {"act": 101}}, "thresholds.act"),
        ({"thresholds": {"notify": 90, "page": 50}}, "thresholds"),
        ({"nacl": {"rule_range": [0, 10]}}, "nacl.rule_range"),
        ({"nacl": {"rule_range": [50, 10]}}, "nacl.rule_range"),
        ({"nacl": {"rule_range": [1, 32767]}}, "nacl.rule_range"),
        ({"nacl": {"rule_quota": 41}}, "nacl.rule_quota"),
        ({"nacl": {"network_acl_ids": ["sg-0123456789abcdef0"]}}, "nacl.network_acl_ids.0"),
        ({"allowlist": ["10.0.0.0/33"]}, "allowlist.0"),
        ({"allowlist": ["10.0.0.1/24"]}, "allowlist.0"),  # host bits set: almost always a typo
        ({"actions": ["nuke_account"]}, "actions"),
        ({"blocks": {"ttl_hours": 0}}, "blocks.ttl_hours"),
        ({"secrets": {"slack_webhook_url": "has spaces"}}, "secrets.slack_webhook_url"),
        ({"unknown_key": 1}, "unknown_key"),
        ({"mode": "enforce"}, "nacl"),  # enforce with block_ip needs somewhere to block
        ({"secrets": {"teams_webhook_url": "riposte/teams"}}, "secrets.teams_webhook_url"),  # no such notifier
    ],
)
def test_bad_values_fail_with_the_field_named(data: dict[str, object], field: str) -> None:
    with pytest.raises(cfg.ConfigError) as caught:
        setup.parse(data, "riposte.toml")
    assert f"riposte.toml: {field}:" in str(caught.value)


def test_unknown_action_error_lists_the_valid_names() -> None:
    with pytest.raises(cfg.ConfigError, match="valid: block_ip"):
        setup.parse({"actions": ["nuke_account"]})


def test_load_reports_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(cfg.ConfigError, match="file not found"):
        cfg.load(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("mode = \n")
    with pytest.raises(cfg.ConfigError, match="not valid TOML"):
        cfg.load(bad)


def test_environment_json_errors_are_clear() -> None:
    with pytest.raises(cfg.ConfigError, match="RIPOSTE_CONFIG: not valid JSON"):
        cfg.from_json("{")
    with pytest.raises(cfg.ConfigError, match="must be a JSON object"):
        cfg.from_json("[]")


def test_config_is_frozen() -> None:
    config = cfg.Config()
    with pytest.raises(ValueError, match="frozen"):
        config.mode = cfg.Mode.ENFORCE  # type: ignore[misc]
