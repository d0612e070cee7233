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
from riposte.adapters.waf_memory import MemoryWaf
from riposte.core.model import Outcome, Plan, Score, Status
from riposte.engine import runner, setup
from tests.conftest import GUARDDUTY, load_event

ACL = "acl-0123456789abcdef0"
WAF_ID = "11111111-2222-3333-4444-555555555555"
WAF_SET = f"waf:REGIONAL:riposte:{WAF_ID}"
WAF_SET_V6 = "waf:REGIONAL:riposte-v6:21111111-2222-3333-4444-555555555555"
SAMPLES = [sources.normalize(load_event(p.name)) for p in sorted(GUARDDUTY.glob("*.json"))]


@pytest.mark.parametrize("name", ACTIONS.names())
def test_every_action_declares_a_mutating_call(name: str) -> None:
    assert ACTIONS.get(name).mutating_calls, f"{name} declares no mutating call: its dry-run check would pass trivially"


# The network blocks, on the in-memory NACL and WAF fakes; the account-level actions (isolate_instance,
# disable_access_key, heal) are checked call by call against their fakes and moto in tests/*/test_actions_*.py.
SETUPS = {
    "block_ip": {"nacl": {"network_acl_ids": [ACL]}},
    "block_waf": {"waf": {"ip_sets": [{"name": "riposte", "id": WAF_ID, "scope": "REGIONAL"}]}},
}


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_the_network_blocks_make_only_declared_calls_when_they_enforce(name: str) -> None:
    action = ACTIONS.get(name)()
    config = setup.parse({"mode": "enforce", "actions": [name], **SETUPS[name]})
    event = next(e for e in SAMPLES if action.targets(e, config))
    target = action.targets(event, config)[0]
    nacls, state = MemoryNacls({ACL: []}), MemoryState()
    waf = MemoryWaf({WAF_SET: (4, []), WAF_SET_V6: (6, [])})
    plan = Plan(event=dataclasses.replace(event), score=Score(99, ()), actions=(Outcome(name, target, Status.PLANNED),))
    result = runner.execute(plan, config, Ports(nacl=nacls, state=state, waf=waf), {}, datetime.now(UTC))
    assert result.actions[0].status is Status.DONE, result.actions[0].detail
    made = {call for call, *_ in nacls.calls} | {call for call, *_ in waf.calls}
    assert made, f"{name} changed nothing when enforcing"
    assert made <= set(action.mutating_calls), (
        f"{name} made undeclared calls: {sorted(made - set(action.mutating_calls))}"
    )
