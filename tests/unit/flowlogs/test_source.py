"""The flowlogs source: offenders mapped to security events that the pipeline decides on the way the issue asks,
and the ``[flowlogs]`` configuration checked with errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from riposte import sources
from riposte.core import config as cfg
from riposte.core.model import EventKind, Party, Role, Status
from riposte.engine import pipeline, setup
from riposte.flowlogs import DEFAULT_FORMAT, MemoryFlowState, Networks, Offender, analyze, parse_format
from riposte.sources import InputError
from riposte.sources import flowlogs as source
from tests.unit.flowlogs import scenario

NETWORKS = Networks(own=[scenario.VPC_V6])


def offenders(story: scenario.Scenario) -> dict[str, Offender]:
    state = MemoryFlowState()
    found: dict[str, Offender] = {}
    for batches in story.invocations(1):
        for o in analyze(batches, state, fmt=story.fmt, now=story.onset + 90, networks=NETWORKS).offenders:
            found[o.ip] = o
    return found


@pytest.fixture(scope="module")
def found() -> dict[str, Offender]:
    return offenders(scenario.build())


def test_an_offender_becomes_one_event_keyed_by_source_and_window(found: dict[str, Offender]) -> None:
    scanner = found[scenario.SCANNER]
    event = source.to_event(scanner, account=scenario.ACCOUNT, region="us-east-1")
    assert event.source == "flowlogs"
    assert event.id == f"flowlogs:{scenario.SCANNER}:{scanner.window_start}" == scanner.key
    assert event.subject == f"flowlogs:{scenario.SCANNER}:2025-11-29"  # one incident a day per attacker
    assert (event.type, event.kind) == ("FlowLogs:PortScan", EventKind.NETWORK_TRAFFIC)
    assert event.title == f"Port scan from {scenario.SCANNER}"
    assert event.native_severity == scanner.severity
    assert event.severity_note.startswith("flow-log port_scan (")
    assert f"of {scanner.flows:,} flows rejected" in event.severity_note
    # 600 ports on 2 hosts: the port set stopped growing at its cap, so "31+", the hosts exactly.
    assert "to 31+ ports on 2 hosts" in event.severity_note
    assert event.time == "2025-11-29T08:05:00Z"
    assert event.count == 1  # one offence, not one per flow: no "seen N times" points
    assert event.description.startswith(f"{scenario.SCANNER} in the minute from 2025-11-29 08:05 UTC: port scan")
    labels = dict(event.evidence)
    assert labels["window"] == "2025-11-29 08:05-08:06 UTC"
    assert (labels["flows"], labels["rejected_flows"]) == (str(scanner.flows), str(scanner.rejects))
    assert {"packets", "bytes", "dst_ports", "dst_hosts", "baseline", "population"} <= set(labels)
    assert "internal source" not in labels
    assert event.entities.parties[0] == Party("ip", scenario.SCANNER, Role.ACTOR, network=True)
    assert set(event.entities.interfaces) == set(scanner.interface_ids)
    assert event.entities.having("interface", Role.AFFECTED) == event.entities.interfaces
    assert event.entities.accounts == (scenario.ACCOUNT,)


def test_several_detectors_are_named_together(found: dict[str, Offender]) -> None:
    both = Offender(
        **{**vars_of(found[scenario.SCANNER]), "detectors": ("brute_force", "port_scan"), "admin_short": 40}
    )
    event = source.to_event(both)
    assert event.type == "FlowLogs:BruteForce+PortScan"
    assert event.title == f"Brute force and port scan from {scenario.SCANNER}"
    assert "40 short flows to admin ports" in event.severity_note


def vars_of(o: Offender) -> dict[str, Any]:
    return {name: getattr(o, name) for name in o.__slots__}


def test_an_internal_source_stays_the_actor_is_refused_and_flagged(found: dict[str, Offender]) -> None:
    event = source.to_event(found[scenario.INTERNAL_SCANNER])
    assert event.entities.parties[0] == Party("ip", scenario.INTERNAL_SCANNER, Role.ACTOR, network=True)
    assert event.title.endswith("(internal source)")
    assert dict(event.evidence)["internal source"].startswith("notify only")
    plan = pipeline.plan_event(event, setup.check(cfg.Config()))
    (action,) = plan.actions
    assert action.status is Status.REFUSED
    assert "private" in action.detail
    assert plan.notify  # a person hears about it


def test_under_the_default_thresholds_the_attackers_are_acted_on_and_the_slow_prober_never_reported(
    found: dict[str, Offender],
) -> None:
    config = setup.check(cfg.Config())
    for ip in (scenario.SCANNER, scenario.FLOOD, scenario.BRUTE):
        plan = pipeline.plan_event(source.to_event(found[ip]), config)
        assert plan.score.value >= config.thresholds.act, (ip, plan.score)
        assert [(a.name, a.target, a.status) for a in plan.actions] == [("block_ip", ip, Status.PLANNED)]
    assert scenario.SLOW not in found
    assert set(found) == {*scenario.build().offenders, *scenario.build().internal}  # no flash-crowd client


def test_the_allowlisted_partner_is_detected_and_refused() -> None:
    story = scenario.build()
    partner = offenders(story)[scenario.PARTNER]
    plan = pipeline.plan_event(source.to_event(partner), setup.parse({"allowlist": ["34.120.0.0/16"]}))
    (action,) = plan.actions
    assert (action.status, action.detail) == (
        Status.REFUSED,
        "protected address: 34.120.15.7 is allowlisted (34.120.0.0/16)",
    )


def test_subnets_become_parties_when_the_format_carries_them() -> None:
    fmt = parse_format(DEFAULT_FORMAT + " ${subnet-id} ${flow-direction}")
    flood = offenders(scenario.build(fmt=fmt))[scenario.FLOOD]
    assert flood.subnet_ids == ("subnet-0123456789abcdef0",)
    event = source.to_event(flood)
    assert event.entities.subnets == ("subnet-0123456789abcdef0",)
    assert event.entities.having("subnet", Role.AFFECTED) == ("subnet-0123456789abcdef0",)
    assert offenders(scenario.build())[scenario.FLOOD].subnet_ids == ()  # the default format has none


def test_payloads_are_recognized_and_sent_elsewhere() -> None:
    event = scenario.subscription_event(["x"])
    assert sources.detect(event).name == "flowlogs"
    assert sources.detect(scenario.subscription_payload(["x"])).name == "flowlogs"
    with pytest.raises(InputError, match=r"riposte\.commands\.flowlogs"):
        sources.normalize(event)
    assert not source.is_payload({"awslogs": "nope"})
    assert not source.is_payload({"messageType": "DATA_MESSAGE"})


# --- configuration ---------------------------------------------------------------------------------------


def problems(flowlogs: dict[str, Any]) -> str:
    with pytest.raises(cfg.ConfigError) as error:
        setup.parse({"flowlogs": flowlogs}, "riposte.toml")
    return str(error.value)


def test_flowlogs_are_off_until_something_is_named() -> None:
    assert not setup.check(cfg.Config()).flowlogs.enabled
    for key, value in (("vpc_ids", "vpc-0123456789abcdef0"), ("subnet_ids", "subnet-0123456789abcdef0")):
        assert setup.parse({"flowlogs": {key: [value]}}).flowlogs.enabled
    assert setup.parse({"flowlogs": {"interface_ids": ["eni-0123456789abcdef0"]}}).flowlogs.enabled


@pytest.mark.parametrize(
    ("flowlogs", "message"),
    [
        ({"log_format": "${srcaddr} ${nonsense}"}, "riposte.toml: flowlogs.log_format: unknown field 'nonsense'"),
        (
            {"log_format": "${version} ${srcaddr} ${dstaddr}"},
            "flowlogs.log_format: flow log format lacks fields the detectors need: dstport, packets, bytes, start",
        ),
        ({"detection": {"volume_packet": 5}}, "flowlogs.detection.volume_packet: unknown threshold"),
        ({"detection": {"scan_ports": 2.5}}, "flowlogs.detection.scan_ports: must be a whole number, got 2.5"),
        ({"detection": {"brute_flows": -1}}, "flowlogs.detection.brute_flows: must be positive, got -1"),
        ({"detection": {"scan_reject_ratio": 1.5}}, "flowlogs.detection.scan_reject_ratio: must be at most 1"),
        ({"log_retention_days": 31}, "flowlogs.log_retention_days: must be one of CloudWatch Logs' retention"),
        ({"delivery": "firehose"}, "flowlogs.delivery"),
        ({"vpc_ids": ["vpc-nope"]}, "flowlogs.vpc_ids.0"),
        ({"kinesis_parallelization_factor": 11}, "flowlogs.kinesis_parallelization_factor"),
        ({"service_ports": [1023]}, "flowlogs.service_ports.0"),  # below 1024 they are services already
        ({"service_ports": [65536]}, "flowlogs.service_ports.0"),
        ({"ipv6_source_prefix": 47}, "flowlogs.ipv6_source_prefix"),
        ({"ipv6_source_prefix": 129}, "flowlogs.ipv6_source_prefix"),
    ],
)
def test_bad_settings_name_the_field(flowlogs: dict[str, Any], message: str) -> None:
    assert message in problems(flowlogs)


def test_detection_overrides_reach_the_detectors() -> None:
    config = setup.parse({"flowlogs": {"detection": {"scan_ports": 10, "scan_reject_ratio": 0.5}}})
    thresholds = source.thresholds(config)
    assert (thresholds.scan_ports, thresholds.scan_reject_ratio) == (10, 0.5)
    assert isinstance(thresholds.scan_ports, int)
    assert thresholds.caps.ports == 11


def test_service_ports_of_our_own_make_their_answers_replies() -> None:
    # Redis Cloud answering through a NAT gateway, whose port is below the ephemeral range.
    line = "2 123456789012 eni-1 52.32.10.11 10.0.1.25 12345 15000 6 9000 12000000 1764403200 1764403260 ACCEPT OK"
    for ports, replies in (((), 0), ((12345,), 1), ((1024, 65535), 0)):
        config = setup.parse({"flowlogs": {"service_ports": list(ports)}})
        result = analyze([[line]], MemoryFlowState(), networks=source.networks(config))
        assert result.counters.replies == replies, ports


def test_the_ipv6_source_prefix_reaches_the_analysis() -> None:
    for prefix, key in ((64, "2a0d:5600:24:7::/64"), (128, "2a0d:5600:24:7::1")):
        config = setup.parse({"flowlogs": {"ipv6_source_prefix": prefix}})
        assert source.networks(config).source_key("2a0d:5600:24:7::1") == key
