"""A value in an address field that is not an address is skipped and reported, never the whole request refused:
Alertmanager and Datadog do not retry a 4xx, so one bad label would lose every other alert of the group."""

from __future__ import annotations

import json
from typing import Any

import pytest

from riposte.core.config import Config
from riposte.core.model import SIGNAL_RESOLVED, SecurityEvent
from riposte.engine import setup
from riposte.sources.webhooks import FrontDoor, Request, WebhookError, map_body
from riposte.sources.webhooks.addresses import without_port
from riposte.sources.webhooks.auth import ToolSecret
from riposte.sources.webhooks.base import MAX_SKIPPED_SHOWN
from riposte.sources.webhooks.sns import SnsVerifier
from tests.webhooks_samples import body, payload
from tests.webhooks_samples.signing import FakeHttp

TOKEN = "t0k3n-" + "x" * 40


def events(tool: str, data: dict[str, Any] | str) -> list[SecurityEvent]:
    raw = body(data) if isinstance(data, str) else json.dumps(data).encode()
    return map_body(tool, raw, setup.check(Config()))


def skipped(event: SecurityEvent) -> list[str]:
    return [value for label, value in event.evidence if label == "Skipped address"]


def with_src(value: object) -> dict[str, Any]:
    data = payload("alertmanager_firing.json")
    data["alerts"][1]["labels"]["src_ip"] = value
    return data


def test_one_bad_value_loses_only_that_value_and_every_alert_still_becomes_an_event() -> None:
    found = events("alertmanager", "alertmanager_mixed_addresses.json")
    assert [e.entities.ips for e in found] == [
        ("91.240.118.50",),
        (),  # "-": no address
        ("45.13.104.10",),  # ip:port
        ("2a0d:5600:24::10",),  # [v6]:port
        (),  # leading zero: skipped and reported
        ("185.156.73.54",),
    ]
    assert [SIGNAL_RESOLVED in e.signals for e in found] == [False] * 5 + [True]
    assert [skipped(e) for e in found] == [
        [],
        [],
        [],
        [],
        ["alerts[4].labels.src_ip: '185.156.073.54' has a leading zero"],
        [],
    ]


@pytest.mark.parametrize("value", ["-", ""])
def test_a_dash_or_an_empty_value_is_no_address_and_nothing_to_report(value: str) -> None:
    found = events("alertmanager", with_src(value))
    assert [e.entities.ips for e in found] == [("91.240.118.50",), ()]
    assert skipped(found[1]) == []


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("--", "is not an IP address"),
        ("unknown", "is not an IP address"),
        ("91.240.118.50 ", "contains whitespace"),
        ("45.13.0.0/16", "broader than /24"),
        ("45.13.104.1/24", "host bits set"),
        ("91.240.118.050:22", "leading zero"),
        ("91.240.118.50:", "is not a valid IP address"),
        ("[2a0d:5600:24::10]:", "is not"),
        ("[91.240.118.50]x", "is not"),
    ],
)
def test_anything_else_is_skipped_naming_where_it_was_and_why(value: object, why: str) -> None:
    found = events("alertmanager", with_src(value))
    assert [e.entities.ips for e in found] == [("91.240.118.50",), ()]
    (reason,) = skipped(found[1])
    assert reason.startswith("alerts[1].labels.src_ip: ")
    assert why in reason
    assert skipped(found[0]) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("45.13.104.10:51234", "45.13.104.10"),
        ("45.13.104.10:1", "45.13.104.10"),
        ("[2a0d:5600:24::10]:443", "2a0d:5600:24::10"),
        ("[2a0d:5600:24::10]", "2a0d:5600:24::10"),
        ("45.13.104.10", None),  # no port: a plain literal, parsed as such
        ("2a0d:5600:24::10", None),
        ("45.13.104.10:", None),
        ("45.13.104.10:123456", None),
        ("45.13.104.10:22:22", None),
        ("host:22", None),
        ("[2a0d:5600:24::10]:443x", None),
    ],
)
def test_the_port_is_cut_only_from_the_two_peer_spellings(text: str, address: str | None) -> None:
    assert without_port(text) == address


def test_a_sumo_row_without_an_address_keeps_the_other_rows() -> None:
    (event_a, event_b, event_c) = events("sumologic", "sumologic_dash_row.json")
    assert [e.entities.ips for e in (event_a, event_b, event_c)] == [
        ("45.13.105.20",),
        ("91.240.118.50",),
        ("2a0d:5600:24::10",),
    ]
    data = payload("sumologic_dash_row.json")
    data["aggregate_results"][3]["src_ip"] = "not-an-ip"
    found = events("sumologic", data)
    assert len(found) == 3
    assert skipped(found[0]) == [
        "aggregate_results[3].src_ip: 'not-an-ip' is not an IP address or CIDR (only digits, "
        "hex letters, '.', ':' and '/' may appear)"
    ]


def test_datadog_tags_and_scope_skip_a_bad_value_too() -> None:
    data = payload("datadog_multialert_tags.json") | {"alert_scope": "src_ip:unknown"}
    (event,) = events("datadog", data)
    assert event.entities.ips == ("45.13.105.20",)
    assert skipped(event) == [
        "alert_scope.src_ip: 'unknown' is not an IP address or CIDR (only digits, hex "
        "letters, '.', ':' and '/' may appear)"
    ]


def test_a_value_that_is_not_text_is_skipped_too() -> None:
    (event,) = events("datadog", payload("datadog_multialert_tags.json") | {"src_ip": 3232235777})
    assert event.entities.ips == ("45.13.105.20",)
    assert skipped(event) == ["src_ip: an address must be a string, got int"]


def test_the_event_shows_a_few_skipped_values_and_counts_the_rest() -> None:
    base = payload("datadog_multialert_tags.json")
    (event,) = events("datadog", base | {"src_ip": ["nope"] * (MAX_SKIPPED_SHOWN + 2)})
    shown = skipped(event)
    assert len(shown) == MAX_SKIPPED_SHOWN + 1
    assert shown[-1] == "and 2 more"
    (exactly,) = events("datadog", base | {"src_ip": ["nope"] * MAX_SKIPPED_SHOWN})
    assert len(skipped(exactly)) == MAX_SKIPPED_SHOWN
    assert "more" not in skipped(exactly)[-1]


def test_the_generic_tool_still_refuses_a_bad_address_its_sender_states_as_one() -> None:
    with pytest.raises(WebhookError, match=r"ip\[1\]: '-' is not an IP address") as caught:
        events("generic", {"ip": ["193.32.162.7", "-"], "reason": "r", "severity": "high"})
    assert caught.value.status == 400


def door() -> FrontDoor:
    return FrontDoor(
        setup.check(Config()),
        credentials=lambda tool: ToolSecret(TOKEN, None),
        sns_verifier=SnsVerifier(FakeHttp({})),
        clock=lambda: 1_778_577_315.0,
    )


def test_the_front_door_accepts_the_group_and_lists_what_it_skipped() -> None:
    request = Request("alertmanager", {"Authorization": f"Bearer {TOKEN}"}, body("alertmanager_mixed_addresses.json"))
    reply = door().receive(request)
    assert (reply.status, reply.metric) == (202, "Accepted")
    assert len(reply.events) == 6
    assert reply.body["skipped"] == [
        {"where": "alerts[4].labels.src_ip", "reason": "'185.156.073.54' has a leading zero"}
    ]
    assert reply.skipped_addresses == 1
    clean = door().receive(Request("alertmanager", request.headers, body("alertmanager_firing.json")))
    assert (clean.body["skipped"], clean.skipped_addresses) == ([], 0)


@pytest.mark.parametrize("count", [100, 101])
def test_addresses_read_from_ip_port_still_count_towards_the_request_limit(count: int) -> None:
    peers = [f"45.13.{104 + n // 250}.{n % 250 + 1}:22" for n in range(count)]
    data = payload("datadog_multialert_tags.json") | {"tags": "", "alert_scope": "", "title": "x", "src_ip": peers}
    got = events("datadog", data)
    assert len(got) == min(count, 100)  # the 101st is left out of the alert, which goes on with the first 100
    assert {ip for e in got for ip in e.entities.ips} == {p.rsplit(":", 1)[0] for p in peers[:100]}
    left_out = [v for e in got for k, v in e.evidence if k == "Skipped address"]
    assert {v.split(": ")[1] for v in left_out} == ({"45.13.104.101"} if count > 100 else set())
