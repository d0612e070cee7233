"""What makes the registry's dry-run sweep (test_action_registry) meaningful: it checks that no declared mutating
call is made, which proves nothing for an action that declares none, or forgets one. So every action declares at
least one, and when it enforces, on the very setup the sweep uses, it makes calls and only declared ones."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from riposte import sources
from riposte.actions import ACTIONS, Ports
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core.model import Outcome, Plan, Score, Status
from riposte.engine import runner, setup
from tests.conftest import GUARDDUTY, load_event

ACL = "acl-0123456789abcdef0"
SAMPLES = [sources.normalize(load_event(p.name)) for p in sorted(GUARDDUTY.glob("*.json"))]


@pytest.mark.parametrize("name", ACTIONS.names())
def test_every_action_declares_the_calls_it_makes_when_it_enforces(name: str) -> None:
    action = ACTIONS.get(name)()
    assert action.mutating_calls, f"{name} declares no mutating call: its dry-run check would pass trivially"
    config = setup.parse({"mode": "enforce", "actions": [name], "nacl": {"network_acl_ids": [ACL]}})
    event = next(e for e in SAMPLES if action.targets(e, config))
    target = action.targets(event, config)[0]
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    plan = Plan(event=dataclasses.replace(event), score=Score(99, ()), actions=(Outcome(name, target, Status.PLANNED),))
    result = runner.execute(plan, config, Ports(nacl=nacls, state=state), {}, datetime.now(UTC))
    assert result.actions[0].status is Status.DONE
    made = {call for call, *_ in nacls.calls}
    assert made, f"{name} changed nothing when enforcing"
    assert made <= set(action.mutating_calls), (
        f"{name} made undeclared calls: {sorted(made - set(action.mutating_calls))}"
    )
