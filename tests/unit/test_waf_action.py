"""block_waf: which parties it blocks, where each address goes (the set of its family), truthful records
(pending -> active, never for an address someone else put there), the set's budget, conflicts, dry-run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from riposte import sources
from riposte.actions import ACTIONS, ActionContext
from riposte.actions import block_waf as block_waf_module
from riposte.actions.block_ip import BlockIp
from riposte.actions.block_waf import BlockWaf
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.adapters.waf_memory import MemoryWaf
from riposte.core import config as cfg
from riposte.core.model import Outcome, Status
from riposte.core.ports import WAF_SET_CAPACITY, BlockRecord, BlockStatus, IpSetConflictError, WafPort
from riposte.engine import pipeline, setup
from tests.conftest import GUARDDUTY, load_event

V4 = {"name": "riposte-v4", "id": "3c9248bb-52cc-47e0-a27b-08ec2b70786e"}
V6 = {"name": "riposte-v6", "id": "2d9ea024-cbaf-46a2-913f-030ae2c15c23"}
CF4 = {"name": "riposte-cf-v4", "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "scope": "CLOUDFRONT"}
CONFIG = setup.parse({"mode": "enforce", "actions": ["block_waf"], "waf": {"ip_sets": [V4, V6, CF4]}})
V4_SET, V6_SET, CF4_SET = (s.container for s in CONFIG.waf.ip_sets)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EVENT = pipeline.plan(load_event("ec2_ssh_bruteforce_inbound.json"), CONFIG).event


@dataclass(frozen=True)
class WafPorts:
    """The action's ports with a WAF port (what ``Ports`` carries once the runtime wires it)."""

    nacl: Any
    state: Any
    waf: WafPort | None


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(block_waf_module, "pause", lambda _: None)


class History(MemoryState):
    """Remembers every record write, to prove pending came before active."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[BlockRecord] = []

    def record_block(self, block: BlockRecord) -> None:
        self.writes.append(block)
        super().record_block(block)


def sets(**extra: list[str]) -> MemoryWaf:
    return MemoryWaf({V4_SET: (4, list(extra.get("v4", []))), V6_SET: (6, []), CF4_SET: (4, [])})


def block(
    target: str, waf: WafPort | None, state: MemoryState | None = None, config: cfg.Config = CONFIG
) -> tuple[Outcome, MemoryState]:
    state = state if state is not None else MemoryState()
    ports = WafPorts(nacl=MemoryNacls({}), state=state, waf=waf)
    ctx = ActionContext(event=EVENT, config=config, ports=ports, now=NOW)  # type: ignore[arg-type]
    return BlockWaf().execute(target, ctx), state


def test_block_waf_is_registered_and_declares_its_iam_on_the_configured_sets() -> None:
    assert ACTIONS.get("block_waf") is BlockWaf
    (permission,) = BlockWaf.permissions
    assert (permission.actions, permission.scope) == (("wafv2:GetIPSet", "wafv2:UpdateIPSet"), "waf_ip_set")
    assert BlockWaf.mutating_calls == ("UpdateIPSet",)


def test_enforce_needs_ip_sets() -> None:
    with pytest.raises(cfg.ConfigError, match=r"waf: mode 'enforce' with action 'block_waf' needs waf.ip_sets"):
        setup.parse({"mode": "enforce", "actions": ["block_waf"]})
    assert setup.parse({"mode": "dry_run", "actions": ["block_waf"]}).waf.ip_sets == ()


@pytest.mark.parametrize("outbound_peers", [True, False])
def test_it_targets_the_same_parties_as_block_ip(outbound_peers: bool) -> None:
    config = setup.parse({"blocks": {"outbound_peers": outbound_peers}})
    events = [sources.normalize(load_event(p.name)) for p in sorted(GUARDDUTY.glob("*.json"))]
    offered = 0
    for event in events:
        assert BlockWaf().targets(event, config) == BlockIp().targets(event, config), event.type
        offered += bool(BlockWaf().targets(event, config))
    assert offered >= 3


def test_an_address_goes_to_every_set_of_its_family_recorded_pending_then_active() -> None:
    waf, state = sets(), History()
    outcome, _ = block("45.13.104.17", waf, state)
    assert outcome.status is Status.DONE
    assert waf.ip_sets[V4_SET][1] == ["45.13.104.17/32"]
    assert waf.ip_sets[CF4_SET][1] == ["45.13.104.17/32"]  # the CloudFront set of the same family too
    assert waf.ip_sets[V6_SET][1] == []
    assert [(w.acl_id, w.status) for w in state.writes] == [
        (V4_SET, BlockStatus.PENDING),
        (V4_SET, BlockStatus.ACTIVE),
        (CF4_SET, BlockStatus.PENDING),
        (CF4_SET, BlockStatus.ACTIVE),
    ]
    record = state.blocks[(V4_SET, False, "45.13.104.17/32")]
    assert (record.rule_number, record.event_id, record.created_at, record.expires_at) == (
        0,
        EVENT.id,
        "2026-12-01T12:00:00+00:00",
        "2026-12-02T12:00:00+00:00",
    )
    assert record.reason == EVENT.title
    assert state.locks == {}


def test_ipv6_and_ipv4_mapped_addresses_go_to_the_set_of_the_family_they_travel_in() -> None:
    waf = sets()
    block("2A0D:5600:24::10", waf)
    block("::ffff:91.240.118.77", waf)
    assert waf.ip_sets[V6_SET][1] == ["2a0d:5600:24::10/128"]
    assert waf.ip_sets[V4_SET][1] == ["91.240.118.77/32"]


def test_no_set_of_the_family_is_a_failure_naming_it() -> None:
    waf = MemoryWaf({V4_SET: (4, [])})
    outcome, state = block("2a0d:5600:24::10", waf)
    assert (outcome.status, outcome.detail) == (Status.FAILED, "no IPv6 WAF IP set is configured (waf.ip_sets)")
    assert state.blocks == {}


def test_an_address_someone_else_put_in_the_set_is_left_alone_and_not_recorded() -> None:
    waf = sets(v4=["45.13.104.17/32"])
    outcome, state = block("45.13.104.17", waf)
    assert outcome.status is Status.DONE
    assert "put there by someone else" in outcome.detail
    assert (V4_SET, False, "45.13.104.17/32") not in state.blocks  # so expiry will never remove it
    assert (CF4_SET, False, "45.13.104.17/32") in state.blocks
    again, _ = block("45.13.104.17", waf, state)  # a redelivery
    assert again.status is Status.DONE
    assert "blocked by Riposte earlier" in again.detail
    assert waf.calls == [("UpdateIPSet", CF4_SET, "45.13.104.17/32")]


class AddedMeanwhile(MemoryWaf):
    """Someone adds the address between our read and our write."""

    def add(self, container: str, cidr: str) -> bool:
        self.ip_sets[container][1].append(cidr)
        return super().add(container, cidr)


def test_an_address_present_after_our_write_though_absent_before_is_ours_and_recorded() -> None:
    # Under the set's lock the address was absent; after our (retried) write it is there: our first try landed
    # with its reply lost. Unrecorded, it would be blocked forever; recorded, it expires.
    waf = AddedMeanwhile({V4_SET: (4, [])})
    outcome, state = block("45.13.104.17", waf)
    assert outcome.status is Status.DONE
    assert "its write was retried" in outcome.detail
    assert [r.status for r in state.blocks.values()] == [BlockStatus.ACTIVE]


def filled(count: int) -> list[str]:
    return [f"45.{10 + n // 65536}.{n // 256 % 256}.{n % 256}/32" for n in range(count)]


def test_the_budget_of_ten_thousand_addresses_per_set() -> None:
    assert WAF_SET_CAPACITY == 10_000
    assert cfg.Config().waf.max_addresses == 10_000
    waf = MemoryWaf({V4_SET: (4, filled(9_999))})
    outcome, state = block("91.240.118.77", waf)  # the 10,000th fits
    assert outcome.status is Status.DONE
    assert len(waf.ip_sets[V4_SET][1]) == 10_000
    outcome, state = block("193.32.162.5", waf, state)  # the 10,001st is refused, clearly
    assert (outcome.status, outcome.retryable) == (Status.FAILED, False)
    assert "holds 10000 addresses, its budget of 10000" in outcome.detail
    assert (V4_SET, False, "193.32.162.5/32") not in state.blocks  # its pending claim was taken back
    assert len(waf.ip_sets[V4_SET][1]) == 10_000


def test_a_smaller_configured_budget_is_what_dry_run_checks() -> None:
    config = setup.parse({"mode": "dry_run", "waf": {"ip_sets": [V4], "max_addresses": 2}})
    outcome, _ = block("91.240.118.77", MemoryWaf({V4_SET: (4, filled(1))}), config=config)
    assert outcome.status is Status.DRY_RUN
    outcome, _ = block("91.240.118.77", MemoryWaf({V4_SET: (4, filled(2))}), config=config)
    assert outcome.status is Status.FAILED
    assert "set is full: 2 of 2 addresses" in outcome.detail


class AlwaysConflicting(MemoryWaf):
    def add(self, container: str, cidr: str) -> bool:
        raise IpSetConflictError(f"{container} kept changing under us (6 attempts)")


def test_a_set_that_keeps_changing_is_a_retryable_failure_that_takes_back_its_claim() -> None:
    outcome, state = block("45.13.104.17", AlwaysConflicting({V4_SET: (4, [])}))
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert state.blocks == {}


def test_a_set_whose_lock_stays_taken_is_a_retryable_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 1000, 7))
    monkeypatch.setattr(block_waf_module, "monotonic", lambda: float(next(clock)))
    state = MemoryState()
    state.acquire_lock(f"waf#{V4_SET}", "someone", now=4e9, lease_seconds=30)
    outcome, _ = block("45.13.104.17", MemoryWaf({V4_SET: (4, [])}), state)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert "busy" in outcome.detail


def test_dry_run_reads_but_makes_no_mutating_call_and_records_nothing() -> None:
    config = setup.parse({"mode": "dry_run", "actions": ["block_waf"], "waf": {"ip_sets": [V4, V6]}})
    waf = MemoryWaf({V4_SET: (4, ["193.32.162.5/32"]), V6_SET: (6, [])})
    outcome, state = block("45.13.104.17", waf, config=config)
    assert (outcome.status, outcome.detail) == (Status.DRY_RUN, f"{V4_SET}: would add 45.13.104.17/32 (dry run)")
    assert (waf.calls, state.blocks, state.locks) == ([], {}, {})
    assert waf.ip_sets[V4_SET][1] == ["193.32.162.5/32"]


def test_without_any_set_dry_run_says_what_is_missing_and_enforce_fails() -> None:
    dry = setup.parse({"mode": "dry_run", "actions": ["block_waf"]})
    outcome, _ = block("45.13.104.17", None, config=dry)
    assert outcome.status is Status.DRY_RUN
    assert "none is configured (waf.ip_sets)" in outcome.detail
    outcome, _ = block("45.13.104.17", None)
    assert (outcome.status, outcome.detail) == (Status.FAILED, "no WAF IP set to add to: set waf.ip_sets")
