"""Each tool's payload -> security events: who is the attacker, who is ours, what resolves, what is stable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from riposte.core.config import Config
from riposte.core.model import EventKind, Role, SecurityEvent, Status
from riposte.engine import pipeline, setup
from riposte.sources import SOURCES, InputError
from riposte.sources.webhooks import ADAPTERS, SIGNAL_RESOLVED, WebhookError, map_body
from riposte.sources.webhooks.base import MAX_TITLE, clip, iso_time
from riposte.sources.webhooks.body import MAX_BODY_BYTES, MAX_DEPTH
from tests.webhooks_samples import body, payload


def cfg(**webhooks: Any) -> Config:
    return setup.parse({"webhooks": webhooks}) if webhooks else setup.check(Config())


def events(tool: str, data: dict[str, Any] | str, config: Config | None = None) -> list[SecurityEvent]:
    raw = body(data) if isinstance(data, str) else json.dumps(data).encode()
    return map_body(tool, raw, config or cfg())


def ips(found: list[SecurityEvent]) -> list[tuple[str, ...]]:
    return [e.entities.ips for e in found]


# sample -> (tool, attacker addresses per event, resolved, native severity)
EXPECTED = {
    "alertmanager_firing.json": ("alertmanager", [("91.240.118.50",), ("185.156.73.54",)], False, 9.5),
    "alertmanager_resolved.json": ("alertmanager", [("91.240.118.50",), ("185.156.73.54",)], True, 0.0),
    "grafana_firing.json": ("grafana", [("45.13.105.20",), ("2a0d:5600:24::10",)], False, 9.5),
    "grafana_resolved.json": ("grafana", [("45.13.105.20",), ("2a0d:5600:24::10",)], True, 0.0),
    "datadog_default.json": ("datadog", [()], False, 8.0),
    "datadog_recovered.json": ("datadog", [()], True, 0.0),
    "datadog_multialert_tags.json": ("datadog", [("45.13.105.20",)], False, 8.0),
    "datadog_multialert_recovered.json": ("datadog", [("45.13.105.20",)], True, 0.0),
    "datadog_default_triggered.json": ("datadog", [("45.13.104.10",)], False, 5.0),
    "datadog_default_recovered.json": ("datadog", [("45.13.104.10",)], True, 0.0),
    "datadog_default_p2_triggered.json": ("datadog", [("45.13.104.10",)], False, 8.0),
    "datadog_default_p2_recovered.json": ("datadog", [("45.13.104.10",)], True, 0.0),
    "datadog_nested_recovered.json": ("datadog", [("45.13.104.10",)], True, 0.0),
    "datadog_network_client_ip.json": ("datadog", [("45.13.104.10",)], False, 8.0),
    "sumologic_monitor.json": ("sumologic", [("185.156.73.54",)], False, 9.5),
    "sumologic_monitor_resolved.json": ("sumologic", [()], True, 0.0),
    "sumologic_scheduled_search_aggregate.json": (
        "sumologic",
        [("45.13.105.20",), ("91.240.118.50",), ("2a0d:5600:24::10",)],
        False,
        5.0,
    ),
    "sns_notification_cloudwatch_alarm.json": ("sns", [("45.13.105.20",)], False, 5.0),
    "sns_notification_cloudwatch_ok.json": ("sns", [("45.13.105.20",)], True, 0.0),
    "sns_notification_plain.json": ("sns", [()], False, 5.0),
    "generic_single.json": ("generic", [("193.32.162.7",)], False, 8.0),
    "generic_list.json": (
        "generic",
        [("45.13.104.0/24",), ("2a0d:5600:24::/48",), ("91.240.118.77",), ("10.0.3.17",)],
        False,
        9.5,
    ),
}


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_every_sample_maps_to_one_event_per_attacker_with_its_state(sample: str) -> None:
    tool, addresses, resolved, severity = EXPECTED[sample]
    found = events(tool, sample)
    assert ips(found) == addresses
    for event in found:
        assert event.source == f"webhooks:{tool}"
        assert event.kind is EventKind.ALERT
        assert (SIGNAL_RESOLVED in event.signals) is resolved
        assert event.native_severity == severity
        assert event.id.startswith(event.subject + (":resolved" if resolved else ":firing"))
        for party in event.entities.parties:
            if party.kind == "ip":
                assert party.role is Role.ACTOR
                assert party.network is True
    assert len({e.id for e in found}) == len(found)


@pytest.mark.parametrize(
    ("firing", "resolved"),
    [
        ("alertmanager_firing.json", "alertmanager_resolved.json"),
        ("alertmanager_ha_firing_am0.json", "alertmanager_ha_resolved_am1.json"),
        ("grafana_firing.json", "grafana_resolved.json"),
        ("datadog_default.json", "datadog_recovered.json"),
        ("datadog_multialert_tags.json", "datadog_multialert_recovered.json"),
        ("datadog_default_triggered.json", "datadog_default_recovered.json"),
        ("datadog_default_p2_triggered.json", "datadog_default_p2_recovered.json"),
        ("sns_notification_cloudwatch_alarm.json", "sns_notification_cloudwatch_ok.json"),
    ],
)
def test_a_resolution_shares_the_subject_of_what_fired_but_not_its_id(firing: str, resolved: str) -> None:
    tool = firing.split("_", maxsplit=1)[0]
    fired, ended = events(tool, firing), events(tool, resolved)
    assert [e.subject for e in fired] == [e.subject for e in ended]
    assert not {e.id for e in fired} & {e.id for e in ended}


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_the_same_delivery_maps_to_the_same_ids(sample: str) -> None:
    tool = EXPECTED[sample][0]
    assert [e.id for e in events(tool, sample)] == [e.id for e in events(tool, sample)]


def test_alertmanager_resending_a_firing_alert_keeps_its_ids_and_a_new_episode_gets_new_ones() -> None:
    first = payload("alertmanager_firing.json")
    resent = json.loads(json.dumps(first))
    resent["alerts"][0]["annotations"]["summary"] = "still going (412 -> 900 failures)"  # a repeat_interval re-send
    again = json.loads(json.dumps(first))
    again["alerts"][0]["startsAt"] = "2026-05-12T15:00:00.000Z"  # fired again after resolving
    ids = [e.id for e in events("alertmanager", first)]
    assert [e.id for e in events("alertmanager", resent)] == ids
    assert events("alertmanager", again)[0].id != ids[0]


def test_resolved_alerts_never_act_and_firing_ones_do() -> None:
    config = cfg()
    for sample, acts in (("alertmanager_firing.json", True), ("alertmanager_resolved.json", False)):
        for event in events("alertmanager", sample):
            plan = pipeline.plan_event(event, config)
            assert [a.name for a in plan.actions if a.status is Status.PLANNED] == (["block_ip"] if acts else [])


def test_our_hosts_are_never_attackers_even_when_an_address_field_repeats_them() -> None:
    data = payload("alertmanager_firing.json")
    data["alerts"][0]["labels"].update({"src_ip": "34.120.5.44", "instance": "34.120.5.44:9100"})
    found = events("alertmanager", data)
    assert found[0].entities.ips == ()
    assert ("Host", "34.120.5.44:9100") in found[0].evidence
    assert found[1].entities.ips == ("185.156.73.54",)


def test_host_columns_and_raw_text_are_never_read_as_attackers() -> None:
    found = events("sumologic", "sumologic_string_results.json")
    everything = {ip for e in found for ip in e.entities.ips}
    assert everything == {"45.13.105.20", "91.240.118.50", "2a0d:5600:24::10"}  # not dest_ip 10.0.3.x
    assert ("Host", "10.0.3.17, 10.0.3.21, ip-10-0-3-17") in found[0].evidence


def test_address_fields_are_configurable() -> None:
    data = payload("alertmanager_firing.json")
    for alert in data["alerts"]:
        alert["labels"]["attacker"] = alert["labels"].pop("src_ip")
    assert ips(events("alertmanager", data)) == [(), ()]
    custom = cfg(address_fields=["attacker"])
    assert ips(events("alertmanager", data, custom)) == [("91.240.118.50",), ("185.156.73.54",)]


def test_sumologic_results_as_text_or_as_an_array_map_the_same() -> None:
    as_text = events("sumologic", "sumologic_string_results.json")
    as_array = events("sumologic", "sumologic_scheduled_search_aggregate.json")
    assert [(e.id, e.entities.ips, e.count) for e in as_text] == [(e.id, e.entities.ips, e.count) for e in as_array]
    assert [e.count for e in as_array] == [412, 268, 131]


def test_sumologic_counts_an_address_over_its_rows_and_skips_unresolved_variables() -> None:
    data = payload("sumologic_scheduled_search_aggregate.json")
    data["aggregate_results"].append({"src_ip": "45.13.105.20", "dest_ip": "10.0.3.40", "_count": "9"})
    data["raw_results_json"] = ""  # the template's variable did not resolve
    found = events("sumologic", data)
    assert (found[0].entities.ips, found[0].count) == (("45.13.105.20",), 421)


@pytest.mark.parametrize("results", [{"src_ip": "45.13.105.20"}, "[1, 2]", 7, '{"src_ip": "45.13.105.20"}'])
def test_sumologic_results_that_are_not_rows_are_refused(results: Any) -> None:
    data = payload("sumologic_monitor.json") | {"ResultsJson": results}
    with pytest.raises(WebhookError, match="ResultsJson must be a list of objects") as caught:
        events("sumologic", data)
    assert caught.value.status == 400


def test_sumologic_monitor_severity_follows_the_trigger_and_a_stated_severity_wins() -> None:
    data = payload("sumologic_monitor.json")
    assert events("sumologic", data | {"TriggerType": "Warning"})[0].native_severity == 5.0
    assert events("sumologic", data | {"severity": "low"})[0].native_severity == 3.0
    resolved = events("sumologic", "sumologic_monitor_resolved.json")[0]
    assert resolved.severity_note == "Sumo Logic trigger ResolvedCritical (9.5), now resolved"


def test_datadog_reads_tags_scope_and_title_group_splitting_on_the_first_colon() -> None:
    data = payload("datadog_multialert_tags.json")
    data["tags"] = "env:prod,src_ip:2a0d:5600:24::10,host:ip-10-0-3-17"
    data["alert_scope"] = "source_ip:91.240.118.50"
    data["title"] = "[Triggered on {client_ip:185.156.73.54,service:sshd}] SSH brute force"
    found = events("datadog", data)
    assert ips(found) == [("2a0d:5600:24::10",), ("91.240.118.50",), ("185.156.73.54",)]
    assert len({e.subject for e in found}) == 3
    assert ips(events("datadog", data | {"tags": ["src_ip:2a0d:5600:24::10"]})) == ips(found)


def test_datadog_recovery_is_read_from_the_transition_the_type_or_the_title() -> None:
    base = payload("datadog_multialert_tags.json")
    for change in (
        {"alert_transition": "recovered"},
        {"alert_type": "success"},
        {"title": "[Recovered] x", "alert_transition": ""},
    ):
        assert SIGNAL_RESOLVED in events("datadog", base | change)[0].signals
    assert SIGNAL_RESOLVED not in events("datadog", base | {"alert_transition": "Re-Triggered"})[0].signals


def test_datadog_severity_from_priority_then_alert_type_then_the_default() -> None:
    base = payload("datadog_default.json")
    assert events("datadog", base | {"alert_priority": "P1"})[0].native_severity == 9.5
    assert events("datadog", base | {"alert_priority": "", "alert_type": "warning"})[0].native_severity == 5.0
    config = cfg(default_severity="high")
    assert events("datadog", base | {"alert_priority": "", "alert_type": ""}, config)[0].native_severity == 8.0


def test_cloudwatch_dimensions_give_the_attacker_and_our_instance_and_insufficient_data_yields_nothing() -> None:
    (event,) = events("sns", "sns_notification_cloudwatch_alarm.json")
    assert event.entities.ips == ("45.13.105.20",)
    assert event.entities.having("instance", Role.AFFECTED) == ("i-0a1b2c3d4e5f60718",)
    assert (event.account, event.region) == ("123456789012", "us-east-1")
    assert event.time == "2026-05-12T09:15:04.488000Z"
    data = payload("sns_notification_cloudwatch_alarm.json")
    alarm = json.loads(data["Message"]) | {"NewStateValue": "INSUFFICIENT_DATA"}
    assert events("sns", data | {"Message": json.dumps(alarm)}) == []


def test_an_sns_json_message_is_read_by_field_and_plain_text_is_never_mined() -> None:
    data = payload("sns_notification_plain.json")
    (text_event,) = events("sns", data)
    assert text_event.entities.ips == ()
    assert "185.156.73.54" in text_event.description
    (json_event,) = events("sns", data | {"Message": json.dumps({"src_ip": "185.156.73.54", "dst": "x"})})
    assert json_event.entities.ips == ("185.156.73.54",)


def test_an_sns_subscription_confirmation_is_not_an_alert_offline() -> None:
    with pytest.raises(WebhookError, match="carries no alert"):
        events("sns", "sns_subscription_confirmation.json")


def test_generic_reports_validate_strictly() -> None:
    good = {"ip": "193.32.162.7", "reason": "r", "severity": "high"}
    assert ips(events("generic", good)) == [("193.32.162.7",)]
    for bad, why in (
        (good | {"extra": 1}, "extra: Extra inputs"),
        (good | {"severity": "urgent"}, "severity"),
        ({k: v for k, v in good.items() if k != "reason"}, "reason"),
        (good | {"ip": []}, "ip"),
        (good | {"ip": 3232235777}, "ip"),
        (good | {"ttl_minutes": 0}, "ttl_minutes"),
        (good | {"ttl_minutes": 525601}, "ttl_minutes"),
        (good | {"ttl_minutes": "60"}, "ttl_minutes"),
        (good | {"id": "has space"}, "id"),
    ):
        with pytest.raises(WebhookError, match=why) as caught:
            events("generic", bad)
        assert caught.value.status == 400
    assert events("generic", good | {"ttl_minutes": 1})
    assert ("Requested block", "525600 minutes") in events("generic", good | {"ttl_minutes": 525600})[0].evidence


def test_a_generic_id_keys_the_report_otherwise_its_content_does() -> None:
    good = {"ip": "193.32.162.7", "reason": "r", "severity": "high"}
    assert events("generic", good)[0].id == events("generic", dict(reversed(good.items())))[0].id
    assert events("generic", good)[0].id != events("generic", good | {"reason": "other"})[0].id
    assert events("generic", good | {"id": "a"})[0].id == events("generic", good | {"id": "a", "reason": "x"})[0].id


def test_bad_addresses_are_skipped_naming_where_they_were() -> None:
    # It was a 400 for the whole body; see test_webhooks_skipped.py for why and for the rest of the behaviour.
    data = payload("alertmanager_firing.json")
    data["alerts"][1]["labels"]["src_ip"] = "185.156.073.54"
    found = events("alertmanager", data)
    assert ips(found) == [("91.240.118.50",), ()]
    assert ("Skipped address", "alerts[1].labels.src_ip: '185.156.073.54' has a leading zero") in found[1].evidence


def test_an_empty_address_value_is_an_unresolved_template_variable_and_skipped() -> None:
    data = payload("datadog_multialert_tags.json") | {"src_ip": ""}
    assert ips(events("datadog", data)) == [("45.13.105.20",)]


@pytest.mark.parametrize("count", [100, 101])
def test_at_most_100_addresses_per_request(count: int) -> None:
    report = {"ip": [f"45.13.{104 + n // 250}.{n % 250 + 1}" for n in range(count)], "reason": "r", "severity": "low"}
    if count <= 100:
        assert len(events("generic", report)) == count
    else:
        with pytest.raises(WebhookError, match="more than 100 addresses") as caught:
            events("generic", report)
        assert caught.value.status == 400


def test_the_address_limit_counts_across_all_alerts_of_a_request() -> None:
    data = payload("alertmanager_firing.json")
    template = data["alerts"][0]
    data["alerts"] = [json.loads(json.dumps(template)) | {"fingerprint": f"{n:016x}"} for n in range(101)]
    for n, alert in enumerate(data["alerts"]):
        alert["labels"]["src_ip"] = f"45.13.105.{n + 1}"
    # The 101st is left out of its alert, which still tells a person (an event without an address).
    got = events("alertmanager", data)
    assert len(got) == 101
    assert [e.entities.ips for e in got[:100]] == [(f"45.13.105.{n + 1}",) for n in range(100)]
    assert got[100].entities.ips == ()
    left_out = dict(got[100].evidence)["Skipped address"]
    assert "alerts[100]: 45.13.105.101: more than 100 addresses in one request" in left_out
    assert all("Skipped address" not in dict(e.evidence) for e in got[:100])
    assert len([e for e in events("alertmanager", data, cfg(max_addresses=101)) if e.entities.ips]) == 101


def test_past_the_limit_an_alert_s_own_extra_addresses_are_left_out_and_an_address_seen_before_is_not() -> None:
    data = payload("alertmanager_firing.json")
    first, second = data["alerts"][0], json.loads(json.dumps(data["alerts"][0]))
    second["fingerprint"] = "00000000000000ff"
    first["labels"] |= {"src_ip": "45.13.105.1", "client_ip": "45.13.105.2", "remote_ip": "45.13.105.3"}
    second["labels"] |= {"src_ip": "45.13.105.2", "client_ip": "45.13.105.4"}
    data["alerts"] = [first, second]
    got = events("alertmanager", data, cfg(max_addresses=2))
    assert [e.entities.ips for e in got] == [("45.13.105.1",), ("45.13.105.2",), ("45.13.105.2",)]
    skipped = [v for e in got for k, v in e.evidence if k == "Skipped address"]
    assert any("45.13.105.3" in v for v in skipped)
    assert any("45.13.105.4" in v for v in skipped)


def nested(levels: int) -> bytes:
    return (
        '{"ip": "193.32.162.7", "reason": "r", "severity": "low", "x": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"
    ).encode()


def test_nesting_up_to_32_levels_is_read_and_deeper_is_refused() -> None:
    config = cfg()
    with pytest.raises(WebhookError, match="Extra inputs"):  # 32 levels: parsed, then refused for its extra field
        map_body("generic", nested(MAX_DEPTH), config)
    for levels in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(WebhookError, match="nests deeper than 32") as caught:
            map_body("generic", nested(levels), config)
        assert caught.value.status == 400


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "empty"),
        (b"not json", "bad_json"),
        (b'{"ip": "193.32.162.7"', "bad_json"),
        (b'{"reason": "\xff\xfe"}', "bad_encoding"),
        (b'["193.32.162.7"]', "not_an_object"),
        (b'"193.32.162.7"', "not_an_object"),
        (b"null", "not_an_object"),
    ],
)
def test_bodies_that_are_not_one_json_object_are_refused(raw: bytes, code: str) -> None:
    with pytest.raises(WebhookError) as caught:
        map_body("generic", raw, cfg())
    assert (caught.value.status, caught.value.code) == (400, code)


def test_a_body_over_one_mebibyte_is_refused_and_one_at_the_limit_is_read() -> None:
    report = json.dumps({"ip": "193.32.162.7", "reason": "r", "severity": "low"})
    at_limit = report.encode() + b" " * (MAX_BODY_BYTES - len(report))
    assert len(map_body("generic", at_limit, cfg())) == 1
    with pytest.raises(WebhookError) as caught:
        map_body("generic", at_limit + b" ", cfg())
    assert caught.value.status == 413


def test_unknown_and_disabled_tools_are_404_naming_the_valid_ones() -> None:
    with pytest.raises(WebhookError, match="valid: alertmanager, datadog, generic, grafana, sns, sumologic") as caught:
        map_body("splunk", b"{}", cfg())
    assert caught.value.status == 404
    with pytest.raises(WebhookError, match=r"valid: generic$"):
        map_body("datadog", b"{}", cfg(tools=["generic"]))


def test_every_adapter_is_registered_under_its_own_name_and_the_source_never_claims_a_body() -> None:
    assert ADAPTERS.names() == ("alertmanager", "datadog", "generic", "grafana", "sns", "sumologic")
    assert all(cls.name == name for name, cls in ADAPTERS)
    webhooks = SOURCES.get("webhooks")()
    assert not webhooks.matches(payload("alertmanager_firing.json"))
    with pytest.raises(InputError, match="--source one of alertmanager"):
        webhooks.normalize(payload("alertmanager_firing.json"))


def test_long_text_is_cut_at_a_word_boundary() -> None:
    data = payload("alertmanager_firing.json")
    data["alerts"][0]["annotations"]["summary"] = "word " * 200
    title = events("alertmanager", data)[0].title
    assert len(title) <= MAX_TITLE
    assert title.endswith("word…")
    assert clip("short", 10) == "short"


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2026-05-12T09:14:30Z", "2026-05-12T09:14:30Z"),
        ("2026-05-12T09:15:04.488+0000", "2026-05-12T09:15:04.488000Z"),
        ("1778577315000", "2026-05-12T09:15:15Z"),
        ("05/12/2026 09:20:11 AM UTC", "2026-05-12T09:20:11Z"),
        ("0001-01-01T00:00:00Z", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_times_are_normalized_to_utc_iso(value: str | None, iso: str | None) -> None:
    assert iso_time(value) == iso


def test_an_ipv4_mapped_attacker_is_its_ipv4_address_and_blocked_as_one() -> None:
    (event,) = events("alertmanager", "alertmanager_v4mapped.json")
    assert event.entities.ips == ("91.240.118.50",)
    assert event.subject.endswith(":91.240.118.50")
    plan = pipeline.plan_event(event, cfg())
    (block,) = [a for a in plan.actions if a.name == "block_ip"]
    assert block.status is Status.PLANNED
    assert block.target == "91.240.118.50"


def test_the_mapped_and_plain_spellings_of_one_attacker_are_one_offender_and_our_mapped_host_is_ours() -> None:
    data = payload("datadog_multialert_tags.json") | {"src_ip": "::ffff:45.13.105.20"}
    (event,) = events("datadog", data)  # the tags and the scope spell it plainly
    assert event.entities.ips == ("45.13.105.20",)
    data = payload("alertmanager_v4mapped.json")
    data["alerts"][0]["labels"] |= {"src_ip": "91.240.118.50", "instance": "[::ffff:91.240.118.50]:9100"}
    assert ips(events("alertmanager", data)) == [()]


@pytest.mark.parametrize("priority", ["", "[P1] ", "[p2] ", "[P5] "])
@pytest.mark.parametrize(
    ("transition", "resolved"),
    [
        ("Recovered", True),
        ("OK", True),
        ("Warn Recovered", True),  # a warning's recovery
        ("Triggered", False),
        ("Re-Triggered", False),
        ("Warn", False),
        ("No Data", False),
        ("Renotify", False),
    ],
)
def test_datadog_reads_the_state_from_a_title_with_or_without_a_priority(
    priority: str, transition: str, resolved: bool
) -> None:
    data = payload("datadog_default_triggered.json")
    data["title"] = f"{priority}[{transition} on {{src_ip:45.13.104.10}}] SSH brute force from a single source"
    (event,) = events("datadog", data)
    assert (SIGNAL_RESOLVED in event.signals) is resolved
    assert event.entities.ips == ("45.13.104.10",)
    assert event.title == "SSH brute force from a single source"
    if resolved:  # never a block, whatever the priority
        assert event.native_severity == 0.0
        assert not [a.name for a in pipeline.plan_event(event, cfg()).actions if a.status is Status.PLANNED]


def test_datadog_takes_the_priority_from_the_title_when_no_field_states_it() -> None:
    data = payload("datadog_default_triggered.json")
    for prefix, severity in (("[P1] ", 9.5), ("[P4] ", 3.0), ("", 5.0), ("[P9] ", 5.0)):
        data["title"] = f"{prefix}[Triggered on {{src_ip:45.13.104.10}}] SSH brute force"
        assert events("datadog", data)[0].native_severity == severity
    stated = payload("datadog_multialert_tags.json") | {"title": "[P4] [Triggered] x", "alert_priority": "P1"}
    assert events("datadog", stated)[0].native_severity == 9.5


def test_datadog_reads_the_alert_fields_nested_in_an_alert_object_and_top_level_ones_win() -> None:
    recovered = payload("datadog_nested_recovered.json")
    triggered = json.loads(json.dumps(recovered))
    triggered["title"] = "[P2] [Triggered on {src_ip:45.13.104.10}] SSH brute force from a single source"
    triggered["alert"] |= {"alert_transition": "Triggered", "alert_type": "error"}
    (fired,) = events("datadog", triggered)
    (ended,) = events("datadog", recovered)
    assert SIGNAL_RESOLVED not in fired.signals
    assert SIGNAL_RESOLVED in ended.signals
    assert fired.subject == ended.subject
    assert ("Monitor", "98765499") in ended.evidence
    # the short names some templates use inside the object
    short = json.loads(json.dumps(triggered))
    short["alert"] = {"id": "98765499", "scope": "src_ip:45.13.104.10", "transition": "Recovered"}
    short["title"] = "SSH brute force from a single source"
    (event,) = events("datadog", short)
    assert (SIGNAL_RESOLVED in event.signals, event.subject) == (True, ended.subject)
    top = short | {"alert_transition": "Triggered"}
    assert SIGNAL_RESOLVED not in events("datadog", top)[0].signals


def test_datadog_never_keys_an_alert_by_the_notification_id() -> None:
    data = payload("datadog_default_triggered.json")
    again = data | {"id": "7861999999999999999"}  # the next notification of the same alert
    assert events("datadog", data)[0].subject == events("datadog", again)[0].subject
    other_group = data | {"title": "[Triggered on {src_ip:45.13.104.11}] SSH brute force from a single source"}
    other_monitor = data | {"title": "[Triggered on {src_ip:45.13.104.10}] Port scan"}
    subjects = {events("datadog", d)[0].subject.rsplit(":", 1)[0] for d in (data, other_group, other_monitor)}
    assert len(subjects) == 3
    monitor = payload("datadog_multialert_tags.json") | {"alert_cycle_key": "", "aggreg_key": ""}
    moved = monitor | {"id": "1", "alert_scope": "src_ip:45.13.105.21"}
    assert events("datadog", monitor)[0].subject != events("datadog", moved)[0].subject
    assert events("datadog", monitor)[0].subject == events("datadog", monitor | {"id": "1"})[0].subject


def test_datadog_reads_the_standard_client_address_attribute_unless_it_is_a_host_field() -> None:
    (event,) = events("datadog", "datadog_network_client_ip.json")
    assert event.entities.ips == ("45.13.104.10",)
    data = payload("datadog_network_client_ip.json") | {"network.client.ip": "91.240.118.50"}
    assert set(ips(events("datadog", data))) == {("45.13.104.10",), ("91.240.118.50",)}
    near_miss = data | {"@network.client.ips": "91.240.118.51", "network.client": "91.240.118.52"}
    assert set(ips(events("datadog", near_miss))) == {("45.13.104.10",), ("91.240.118.50",)}
    ours = cfg(host_fields=["instance", "host", "hostname", "network.client.ip"])
    assert ips(events("datadog", "datadog_network_client_ip.json", ours)) == [()]


def test_alertmanager_keys_an_alert_by_receiver_and_fingerprint_else_its_labels_never_the_external_url() -> None:
    first = payload("alertmanager_firing.json")
    subjects = [e.subject for e in events("alertmanager", first)]
    replica = first | {"externalURL": "http://alertmanager-1.example.internal:9093"}
    assert [e.subject for e in events("alertmanager", replica)] == subjects
    elsewhere = first | {"receiver": "riposte-eu"}
    assert not {e.subject for e in events("alertmanager", elsewhere)} & set(subjects)
    refingered = json.loads(json.dumps(first))
    refingered["alerts"][0]["fingerprint"] = "0000000000000001"
    assert events("alertmanager", refingered)[0].subject != subjects[0]
    assert events("alertmanager", refingered)[1].subject == subjects[1]
    unprinted = json.loads(json.dumps(first))
    for alert in unprinted["alerts"]:
        del alert["fingerprint"]
    by_labels = [e.subject for e in events("alertmanager", unprinted)]
    assert len(set(by_labels)) == 2
    assert [e.subject for e in events("alertmanager", unprinted | {"externalURL": "http://other:9093"})] == by_labels
    unprinted["alerts"][0]["labels"]["env"] = "staging"
    assert events("alertmanager", unprinted)[0].subject != by_labels[0]


def test_grafana_keys_an_alert_by_org_and_fingerprint_never_the_external_url() -> None:
    firing = payload("grafana_firing.json")
    subjects = [e.subject for e in events("grafana", firing)]
    other_instance = firing | {"externalURL": "https://grafana-2.example.internal/"}
    assert [e.subject for e in events("grafana", other_instance)] == subjects
    other_org = firing | {"orgId": int(firing.get("orgId", 1)) + 1}
    assert not {e.subject for e in events("grafana", other_org)} & set(subjects)
