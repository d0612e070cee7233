from __future__ import annotations

import dataclasses

import pytest

from riposte.actions import ACTIONS
from riposte.core import config as cfg
from riposte.core.model import (
    NO_ACTION_SIGNALS,
    SIGNAL_ARCHIVED,
    SIGNAL_SAMPLE,
    Entities,
    Outcome,
    Party,
    Plan,
    Role,
    Score,
    Status,
)
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


# --- exact boundaries and exact words --------------------------------------------------------------------------

C2 = pipeline.plan(load_event("c2_activity_outbound.json"), cfg.Config()).event  # one attacker: 91.240.118.77
PROBE = pipeline.plan(load_event("port_probe_multi.json"), cfg.Config()).event  # 45.13.104.50, then 10.0.0.9
THRESHOLDS = {"notify": 40, "page": 85, "act": 70}


def config(**changes: object) -> cfg.Config:
    return setup.parse({"thresholds": THRESHOLDS, **changes})


def test_the_default_thresholds() -> None:
    t = cfg.Config().thresholds
    assert (t.notify, t.page, t.act) == (40, 85, 70)


@pytest.mark.parametrize(("value", "acts"), [(69, False), (70, True), (71, True)])
def test_actions_are_planned_from_exactly_the_act_threshold(value: int, acts: bool) -> None:
    actions = policy.plan_actions(C2, Score(value, ()), config())
    assert actions == ((Outcome("block_ip", "91.240.118.77", Status.PLANNED),) if acts else ())


@pytest.mark.parametrize("signal", sorted(NO_ACTION_SIGNALS))
def test_events_that_are_not_live_plan_nothing_even_at_the_top_score(signal: str) -> None:
    event = dataclasses.replace(C2, signals=C2.signals | {signal})
    assert policy.plan_actions(event, Score(100, ()), config()) == ()


@pytest.mark.parametrize(("allowed", "planned"), [(1, 1), (2, 2), (3, 2)])
def test_the_per_event_quota_is_spent_only_on_targets_the_guard_permits(allowed: int, planned: int) -> None:
    targets = ["45.13.104.1", "10.0.0.9", "45.13.104.2"]
    event = dataclasses.replace(
        PROBE,
        entities=Entities.of(Party("ip", t, Role.ACTOR, network=True) for t in targets),
    )
    actions = policy.plan_actions(event, Score(90, ()), config(blocks={"max_per_event": allowed}))
    assert [a.target for a in actions] == targets  # every target stays in the plan, refused or not
    assert actions[1] == Outcome(
        "block_ip", "10.0.0.9", Status.REFUSED, "protected address: 10.0.0.9 is private (RFC 1918) (10.0.0.0/8)"
    )
    public = [a for a in actions if a.target != "10.0.0.9"]
    assert [a.status for a in public].count(Status.PLANNED) == planned
    for refused in public[planned:]:
        assert refused == Outcome(
            "block_ip", refused.target, Status.REFUSED, f"quota: at most {allowed} actions per event"
        )


PLANNED = (Outcome("block_ip", "91.240.118.77", Status.PLANNED),)
REFUSED = (Outcome("block_ip", "10.0.0.9", Status.REFUSED, "protected address: ..."),)


@pytest.mark.parametrize(
    ("value", "actions", "chosen"),
    [
        (39, (), ()),
        (40, (), ("slack",)),
        (39, PLANNED, ("slack",)),  # anything Riposte would do is announced
        (39, REFUSED, ()),  # a refusal alone is not
        (39, PLANNED + REFUSED, ("slack",)),
        (84, (), ("slack",)),
        (85, (), ("slack", "pagerduty")),
    ],
)
def test_notify_and_page_from_exactly_their_thresholds(
    value: int, actions: tuple[Outcome, ...], chosen: tuple[str, ...]
) -> None:
    assert policy.channels(Score(value, ()), actions, config()) == chosen


def test_decide_carries_the_event_score_actions_and_channels() -> None:
    score = Score(85, ("why",))
    plan = policy.decide(C2, score, config())
    assert plan == Plan(event=C2, score=score, actions=PLANNED, notify=("slack", "pagerduty"))


def test_the_summary_says_what_was_planned_and_who_is_told() -> None:
    plan = policy.decide(C2, Score(90, ()), config())
    assert policy.summary(plan, config()) == (
        "score 90 (critical); block_ip 91.240.118.77: planned; "
        "notify: slack, pagerduty (notify >= 40, page >= 85); mode dry_run"
    )
    enforce = config(mode="enforce", nacl={"network_acl_ids": ["acl-0123456789abcdef0"]})
    assert policy.summary(plan, enforce).endswith("; mode enforce")


def test_the_summary_lists_every_action_with_its_status() -> None:
    plan = pipeline.plan(load_event("port_probe_multi.json"), setup.parse(LOW_ACT))
    assert policy.summary(plan, setup.parse(LOW_ACT)).split("; ")[1] == (
        "block_ip 45.13.104.50: planned, block_ip 10.0.0.9: refused"
    )


def test_the_summary_below_the_act_threshold_and_below_notify() -> None:
    plan = policy.decide(C2, Score(39, ()), config())
    assert policy.summary(plan, config()) == (
        "score 39 (low); below act threshold 70: no action; notify: nobody (notify >= 40, page >= 85); mode dry_run"
    )
    at = policy.decide(C2, Score(70, ()), config(actions=[]))
    assert policy.summary(at, config()).split("; ")[1] == "no action applies to this event"


def test_the_summary_names_every_reason_an_event_is_not_live() -> None:
    event = dataclasses.replace(C2, signals=frozenset({SIGNAL_SAMPLE, SIGNAL_ARCHIVED}))
    plan = policy.decide(event, Score(30, ()), config())
    assert policy.summary(plan, config()).split("; ")[1] == "archived and sample: never acted on"
