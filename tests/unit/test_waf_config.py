"""The ``[waf]`` section: validated at synth and cold start, errors naming the field."""

from __future__ import annotations

import pytest

from riposte.core import config as cfg

SET_ID = "3c9248bb-52cc-47e0-a27b-08ec2b70786e"


def test_ip_sets_name_their_block_container_by_scope_name_and_id() -> None:
    config = cfg.parse(
        {
            "waf": {
                "ip_sets": [
                    {"name": "riposte-v4", "id": SET_ID},
                    {"name": "riposte_cf", "id": SET_ID, "scope": "CLOUDFRONT"},
                ]
            }
        }
    )
    assert [s.container for s in config.waf.ip_sets] == [
        f"waf:REGIONAL:riposte-v4:{SET_ID}",  # REGIONAL unless said otherwise
        f"waf:CLOUDFRONT:riposte_cf:{SET_ID}",  # the same id in another scope is another set
    ]
    assert cfg.from_json(config.to_json()) == config
    assert cfg.Config().waf.ip_sets == ()


@pytest.mark.parametrize(
    ("waf", "field"),
    [
        ({"ip_sets": [{"name": "has space", "id": SET_ID}]}, "waf.ip_sets.0.name"),
        ({"ip_sets": [{"name": "x" * 129, "id": SET_ID}]}, "waf.ip_sets.0.name"),
        ({"ip_sets": [{"name": "ok", "id": SET_ID.upper()}]}, "waf.ip_sets.0.id"),
        ({"ip_sets": [{"name": "ok", "id": SET_ID, "scope": "GLOBAL"}]}, "waf.ip_sets.0.scope"),
        ({"ip_sets": [{"name": "ok", "id": SET_ID, "arn": "x"}]}, "waf.ip_sets.0.arn"),
        ({"ip_sets": [{"name": "a", "id": SET_ID}, {"name": "b", "id": SET_ID}]}, "waf.ip_sets"),
        ({"max_addresses": 0}, "waf.max_addresses"),
        ({"max_addresses": 10_001}, "waf.max_addresses"),
    ],
)
def test_bad_waf_values_fail_with_the_field_named(waf: dict[str, object], field: str) -> None:
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.parse({"waf": waf}, "riposte.toml")
    assert f"riposte.toml: {field}:" in str(caught.value)


def test_the_budget_bounds_are_accepted() -> None:
    assert cfg.parse({"waf": {"max_addresses": 1}}).waf.max_addresses == 1
    assert cfg.parse({"waf": {"max_addresses": 10_000}}).waf.max_addresses == 10_000
    assert len(cfg.parse({"waf": {"ip_sets": [{"name": "x" * 128, "id": SET_ID}]}}).waf.ip_sets) == 1
