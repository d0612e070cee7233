"""One sweep over every registered action: declared permissions, dry-run safety, an audit entry each."""

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

SAMPLES = [sources.normalize(load_event(p.name)) for p in sorted(GUARDDUTY.glob("*.json"))]


@pytest.mark.parametrize("name", ACTIONS.names())
def test_every_action_declares_iam_permissions(name: str) -> None:
    action = ACTIONS.get(name)
    assert action.permissions
    for permission in action.permissions:
        assert permission.actions
        assert all(":" in a and "*" not in a for a in permission.actions), "no wildcard IAM actions"
        assert permission.scope
    declared = {a.split(":", 1)[1] for p in action.permissions for a in p.actions}
    assert set(action.mutating_calls) <= declared


@pytest.mark.parametrize("name", ACTIONS.names())
def test_every_action_in_dry_run_mutates_nothing_and_is_audited(name: str) -> None:
    action = ACTIONS.get(name)()
    assert action.mutating_calls, "with no mutating call declared, this sweep would prove nothing"
    config = setup.parse({"mode": "dry_run", "actions": [name]})
    event = next((e for e in SAMPLES if action.targets(e, config)), None)
    assert event is not None, f"no sample event under tests/events offers {name} a target"
    target = action.targets(event, config)[0]
    nacls = MemoryNacls({"acl-0123456789abcdef0": []})
    state = MemoryState()
    config = setup.parse({"mode": "dry_run", "actions": [name]})
    plan = Plan(
        event=dataclasses.replace(event),
        score=Score(99, ()),
        actions=(Outcome(name, target, Status.PLANNED),),
    )
    result = runner.execute(plan, config, Ports(nacl=nacls, state=state), {}, datetime.now(UTC))
    assert result.actions[0].status is Status.DRY_RUN
    assert [c for c in nacls.calls if c[0] in action.mutating_calls] == []
    assert any(r.kind == "action" and r.name == name for r in state.audit)
