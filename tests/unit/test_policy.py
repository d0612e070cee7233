from __future__ import annotations

import dataclasses

from riposte.actions import ACTIONS
from riposte.core import config as cfg
from riposte.core.model import SIGNAL_SAMPLE, Status
from riposte.engine import pipeline, policy, setup
from tests.conftest import load_event

LOW_ACT = {"thresholds": {"notify": 10, "page": 90, "act": 10}}


def test_high_score_network_finding_plans_a_block_and_notifications() -> None:
    plan = pipeline.plan(load_event("c2_activity_outbound.json"), cfg.Config())
    assert plan.score.value == 90
    assert [(a.name, a.target, a.status) for a in plan.actions] == [("block_ip", "91.240.118.77", Status.PLANNED)]
    assert plan.notify == ("slack", "pagerduty")


def test_below_the_act_threshold_nothing_is_planned_and_below_notify_nobody_is_told() -> None:
    plan = pipeline.plan(load_event("ssh_bruteforce_inbound.json"), cfg.Config())
    assert plan.score.value == 25
    assert plan.actions == ()
    assert plan.notify == ()


def test_private_addresses_are_refused_centrally_with_the_reason() -> None:
    plan = pipeline.plan(load_event("port_probe_multi.json"), setup.parse(LOW_ACT))
    by_target = {a.target: a for a in plan.actions}
    assert by_target["45.13.104.50"].status is Status.PLANNED
    assert by_target["10.0.0.9"].status is Status.REFUSED
    assert "private (RFC 1918)" in by_target["10.0.0.9"].detail


def test_allowlisted_addresses_are_refused() -> None:
    plan = pipeline.plan(load_event("tor_client_partner.json"), setup.parse({"allowlist": ["34.120.0.0/16"]}))
    (action,) = plan.actions
    assert action.status is Status.REFUSED
    assert action.detail == "protected address: 34.120.5.44 is allowlisted (34.120.0.0/16)"


def test_api_call_findings_do_not_block_in_network_acls() -> None:
    plan = pipeline.plan(load_event("api_call_malicious_ip.json"), setup.parse(LOW_ACT))
    assert plan.actions == ()
    assert plan.notify == ("slack",)


def test_per_event_quota_refuses_the_excess_and_says_why() -> None:
    raw = load_event("port_probe_multi.json")
    details = raw["detail"]["service"]["action"]["portProbeAction"]["portProbeDetails"]
    template = details[0]
    details[:] = [
        {**template, "remoteIpDetails": {**template["remoteIpDetails"], "ipAddressV4": f"45.13.104.{n}"}}
        for n in range(1, 6)
    ]
    plan = pipeline.plan(raw, setup.parse({**LOW_ACT, "blocks": {"max_per_event": 3}}))
    statuses = [a.status for a in plan.actions]
    assert statuses == [Status.PLANNED] * 3 + [Status.REFUSED] * 2
    assert plan.actions[-1].detail == "quota: at most 3 actions per event"


def test_any_planned_action_is_announced_even_below_the_notify_threshold() -> None:
    config = setup.parse({"thresholds": {"notify": 95, "page": 99, "act": 70}})
    plan = pipeline.plan(load_event("bitcoin_outbound.json"), config)
    assert plan.actions
    assert plan.notify == ("slack",)


def test_a_sample_finding_is_never_acted_on_whatever_the_thresholds() -> None:
    raw = load_event("c2_activity_outbound.json")
    raw["detail"]["service"]["additionalInfo"] = {"sample": True}
    event = dataclasses.replace(pipeline.plan(raw, setup.parse({})).event, signals=frozenset({SIGNAL_SAMPLE}))
    config = setup.parse({"thresholds": {"notify": 0, "page": 0, "act": 0}})
    plan = pipeline.plan_event(event, config)
    assert plan.actions == ()
    assert "sample: never acted on" in policy.summary(plan, config)


def test_block_ip_targets_attackers_on_network_paths_and_peers_only_by_config() -> None:
    peer = pipeline.plan(load_event("c2_activity_outbound.json"), setup.parse({})).event
    action = ACTIONS.get("block_ip")()
    assert action.targets(peer, setup.parse({})) == ("91.240.118.77",)
    assert action.targets(peer, setup.parse({"blocks": {"outbound_peers": False}})) == ()
    api_caller = pipeline.plan(load_event("api_call_malicious_ip.json"), setup.parse({})).event
    assert api_caller.entities.ips == ("193.32.162.200",)
    assert action.targets(api_caller, setup.parse({})) == ()  # it called AWS's API: no NACL stands in its way
