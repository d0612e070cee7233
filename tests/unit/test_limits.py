"""The blast radius: hourly caps per action, a circuit breaker that holds every action in dry-run and pages, and
Riposte's own calls never raising anything against it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, ClassVar

from riposte.actions import Ports
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import scoring
from riposte.core.model import SIGNAL_OWN_ACTIVITY, Outcome, Party, Result, Role, Status
from riposte.engine import pipeline, runner, setup
from riposte.notifiers import Notifier, Route, SecretSpec
from tests.conftest import load_event

ACL = "acl-0123456789abcdef0"
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


class Recorder(Notifier):
    name: ClassVar[str] = "pagerduty"
    route: ClassVar[Route] = Route.PAGE
    secret: ClassVar[SecretSpec] = SecretSpec("pagerduty_routing_key", "riposte/pagerduty-routing-key", "test")

    def __init__(self) -> None:
        super().__init__(transport=None, destination=lambda: None)  # type: ignore[arg-type]
        self.sent: list[Result] = []

    def render(self, result: Result) -> dict[str, Any]:
        return {}

    def send(self, result: Result) -> Outcome:
        self.sent.append(result)
        return Outcome(self.name, "", Status.DONE)


def attack(n: int, config: Any) -> Any:
    raw = load_event("c2_activity_outbound.json")
    raw["detail"]["id"] = f"{n:032x}"
    raw["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = f"45.13.104.{n}"
    return pipeline.plan(raw, config)


def test_an_action_past_its_hourly_cap_is_refused_and_says_which_limit() -> None:
    config = setup.parse(
        {"mode": "enforce", "nacl": {"network_acl_ids": [ACL]}, "limits": {"max_per_hour": {"block_ip": 2}}}
    )
    ports = Ports(nacl=MemoryNacls({ACL: []}), state=MemoryState())
    order = [1, 1, 2, 3]  # the second 1 is a redelivery: it does not spend the cap again
    statuses = [runner.execute(attack(n, config), config, ports, {}, NOW).actions[0].status for n in order]
    assert statuses == [Status.DONE, Status.DONE, Status.DONE, Status.REFUSED]
    refused = runner.execute(attack(9, config), config, ports, {}, NOW).actions[0]
    assert refused.detail == "cap: at most 2 block_ip per hour, spent (limits.max_per_hour)"


def test_the_breaker_trips_past_its_threshold_holds_every_action_and_pages() -> None:
    config = setup.parse(
        {
            "mode": "enforce",
            "nacl": {"network_acl_ids": [ACL]},
            "limits": {"breaker_per_hour": 3},
            "thresholds": {"page": 100},  # nothing pages on its score: only the breaker does
        }
    )
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    ports, pager = Ports(nacl=nacls, state=state), Recorder()
    results = [runner.execute(attack(n, config), config, ports, {"pagerduty": pager}, NOW) for n in range(1, 6)]
    assert [r.actions[-1].status for r in results] == [Status.DONE] * 3 + [Status.DRY_RUN] * 2
    tripping = results[3]
    assert tripping.actions[0].name == "circuit_breaker"
    assert "4 actions within an hour, more than limits.breaker_per_hour = 3" in tripping.actions[0].detail
    assert len(nacls.acls[ACL]) == 3  # nothing more was changed
    assert [r.plan.event.id for r in pager.sent] == [tripping.plan.event.id]  # paged when it tripped, only then
    assert [r.mode for r in state.audit if r.kind == "action"][-2:] == ["held (circuit breaker)"] * 2
    state.reset_breaker()
    after = runner.execute(
        attack(50, setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL]}})), config, ports, {}, NOW
    )
    assert after.actions[-1].status in (Status.DONE, Status.DRY_RUN)


def test_unknown_actions_in_the_caps_are_configuration_errors() -> None:
    import pytest

    from riposte.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"limits\.max_per_hour\.nuke: unknown action"):
        setup.parse({"limits": {"max_per_hour": {"nuke": 1}}})


def test_calls_made_by_ripostes_own_roles_raise_nothing() -> None:
    config = setup.with_own_principals(setup.parse({}), ["arn:aws:iam::123456789012:role/Riposte-ResponderRole-ABC"])
    assert "arn:*:iam::*:role/riposte-member" in config.cloudtrail.ignore_principals
    event = attack(1, config).event
    ours = dataclasses.replace(
        event,
        entities=dataclasses.replace(
            event.entities,
            parties=(
                *event.entities.parties,
                Party("principal", "arn:aws:iam::111111111111:role/riposte-member", Role.ACTOR),
            ),
        ),
    )
    plan = pipeline.plan_event(ours, config)
    assert SIGNAL_OWN_ACTIVITY in plan.event.signals
    assert (plan.score.value, plan.actions, plan.notify) == (0, (), ())
    assert plan.score.reasons[-1] == "made by Riposte's own role: its remediation, not a detection"
    someone_else = pipeline.plan_event(event, config)
    assert SIGNAL_OWN_ACTIVITY not in someone_else.event.signals
    assert someone_else.score.value == scoring.score(event).value
