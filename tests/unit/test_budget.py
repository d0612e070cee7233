"""The NACL budget: when the managed range or the quota is full, aggregate neighbours, evict the least valuable
block Riposte owns, or spill over to WAF, each said in the outcome, never touching an entry Riposte did not
make. Also the TTL ladder, the subnet scope and egress entries."""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from riposte.actions import ActionContext, Ports
from riposte.actions import block_ip as block_ip_module
from riposte.actions.block_ip import BlockIp, ttl_hours
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.adapters.waf_memory import MemoryWaf
from riposte.core import guard
from riposte.core.model import Outcome, Status
from riposte.core.nacl import RoomVerdict, block_value, make_room
from riposte.core.ports import BlockRecord, BlockStatus, NaclEntry
from riposte.engine import pipeline, setup
from tests.conftest import load_event

ACL = "acl-0123456789abcdef0"
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
EVENT = pipeline.plan(load_event("c2_activity_outbound.json"), setup.parse({})).event


def config(**nacl: Any) -> Any:
    return setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 3], **nacl}})


def record(number: int, cidr: str, score: int = 80, offences: int = 1, created: str = "2026-11-01") -> BlockRecord:
    return BlockRecord(
        ACL, cidr, number, False, f"e{number}", created, "2026-12-01", BlockStatus.ACTIVE, score, offences
    )


def deny(number: int, cidr: str) -> NaclEntry:
    return NaclEntry(number, False, "deny", cidr)


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(block_ip_module, "pause", lambda seconds: None)


def block(target: str, nacls: MemoryNacls, state: MemoryState, cfg: Any, score: int = 90, **ports: Any) -> Outcome:
    event = dataclasses.replace(EVENT, id=f"event-{target}", subject=f"subject-{target}")
    ctx = ActionContext(event=event, config=cfg, ports=Ports(nacl=nacls, state=state, **ports), now=NOW, score=score)
    return BlockIp().execute(target, ctx)


def full_acl(state: MemoryState, scores: tuple[int, ...] = (70, 60, 80)) -> MemoryNacls:
    """Rule range 1-3 full of Riposte's own blocks, worth ``scores``."""
    cidrs = ["45.13.104.10/32", "45.13.104.20/32", "91.240.118.30/32"]
    for number, (cidr, score) in enumerate(zip(cidrs, scores, strict=True), 1):
        state.record_block(record(number, cidr, score))
    return MemoryNacls({ACL: [deny(n, c) for n, c in enumerate(cidrs, 1)]})


# --- the pure planner -------------------------------------------------------------------------------------------


def no_refusal(network: Any) -> None:
    return None


def test_eviction_picks_the_least_valuable_owned_block_older_first() -> None:
    records = [
        record(1, "45.13.104.1/32", 70, created="2026-11-02"),
        record(2, "45.13.104.2/32", 70, created="2026-11-01"),
    ]
    entries = [deny(1, "45.13.104.1/32"), deny(2, "45.13.104.2/32"), deny(3, "192.0.2.3/32")]  # 3: not ours
    room = make_room(
        entries,
        records,
        "91.240.118.9/32",
        value=90,
        egress=False,
        strategies=["evict"],
        max_prefix={},
        refuse=no_refusal,
    )
    assert (room.verdict, room.evict) == (RoomVerdict.EVICT, records[1])
    assert "evicting 45.13.104.2/32 (rule 2, worth 70 < 90" in room.detail


def test_no_eviction_when_every_block_is_worth_at_least_as_much() -> None:
    records = [record(1, "45.13.104.1/32", 90)]
    room = make_room(
        [deny(1, "45.13.104.1/32")],
        records,
        "91.240.118.9/32",
        value=90,
        egress=False,
        strategies=["evict"],
        max_prefix={},
        refuse=no_refusal,
    )
    assert room.verdict is RoomVerdict.NONE
    assert room.detail == "every block here is worth at least as much (lowest 90 >= 90)"


def test_repeat_offences_make_a_block_worth_more() -> None:
    assert block_value(70, 1) == 70
    assert block_value(70, 2) == 75
    assert block_value(70, 5) == 90
    assert block_value(70, 50) == 90  # capped: four repeats at most


def test_records_whose_entry_is_gone_changed_or_pending_are_never_evicted() -> None:
    records = [
        record(1, "45.13.104.1/32", 10),  # entry now holds another address
        record(2, "45.13.104.2/32", 10),  # entry gone
        dataclasses.replace(record(3, "45.13.104.3/32", 10), status=BlockStatus.PENDING),
    ]
    entries = [deny(1, "45.13.104.99/32"), deny(3, "45.13.104.3/32")]
    room = make_room(
        entries,
        records,
        "91.240.118.9/32",
        value=90,
        egress=False,
        strategies=["evict"],
        max_prefix={},
        refuse=no_refusal,
    )
    assert room.verdict is RoomVerdict.NONE
    assert room.detail == "no block of Riposte's to evict"


def test_aggregation_takes_the_smallest_covering_network_with_a_blocked_neighbour() -> None:
    records = [record(1, "45.13.104.10/32"), record(2, "45.13.104.200/32"), record(3, "91.240.118.1/32")]
    entries = [deny(1, "45.13.104.10/32"), deny(2, "45.13.104.200/32"), deny(3, "91.240.118.1/32")]
    room = make_room(
        entries,
        records,
        "45.13.104.11/32",
        value=90,
        egress=False,
        strategies=["aggregate"],
        max_prefix={4: 24},
        refuse=no_refusal,
    )
    assert (room.verdict, room.aggregate, room.members) == (RoomVerdict.AGGREGATE, "45.13.104.10/31", (records[0],))
    wide = make_room(
        entries,
        records,
        "45.13.104.77/32",
        value=90,
        egress=False,
        strategies=["aggregate"],
        max_prefix={4: 24},
        refuse=no_refusal,
    )
    assert (wide.aggregate, wide.members) == ("45.13.104.0/25", (records[0],))
    both = make_room(
        entries,
        records,
        "45.13.104.150/32",
        value=90,
        egress=False,
        strategies=["aggregate"],
        max_prefix={4: 24},
        refuse=no_refusal,
    )
    assert (both.aggregate, both.members) == ("45.13.104.128/25", (records[1],))
    none = make_room(
        entries,
        records,
        "45.13.105.77/32",
        value=90,
        egress=False,
        strategies=["aggregate"],
        max_prefix={4: 24},
        refuse=no_refusal,
    )
    assert (none.verdict, none.detail) == (RoomVerdict.NONE, "no blocked neighbour within /24")


def test_an_aggregate_never_covers_a_protected_or_own_address() -> None:
    own = ((ipaddress.ip_network("45.13.104.128/32"), "NAT gateway nat-1"),)
    records = [record(1, "45.13.104.200/32")]
    room = make_room(
        [deny(1, "45.13.104.200/32")],
        records,
        "45.13.104.129/32",
        value=90,
        egress=False,
        strategies=["aggregate", "evict"],
        max_prefix={4: 24},
        refuse=lambda network: guard.network_refusal(network, (), own),
    )
    assert room.verdict is RoomVerdict.EVICT  # aggregation refused, eviction next
    assert "45.13.104.128/25 overlaps 45.13.104.128/32, this account's own address (NAT gateway nat-1)" in str(
        make_room(
            [deny(1, "45.13.104.200/32")],
            records,
            "45.13.104.129/32",
            value=90,
            egress=False,
            strategies=["aggregate"],
            max_prefix={4: 24},
            refuse=lambda n: guard.network_refusal(n, (), own),
        ).detail
    )


# --- block_ip with a full range ---------------------------------------------------------------------------------


def test_a_full_range_evicts_the_least_valuable_block_in_place() -> None:
    state = MemoryState()
    nacls = full_acl(state)
    outcome = block("193.32.162.5", nacls, state, config(when_full=["evict"]))
    assert outcome.status is Status.DONE
    assert "managed range 1-3 is full: added 193.32.162.5/32 as rule 2, evicting 45.13.104.20/32" in outcome.detail
    assert nacls.calls == [("ReplaceNetworkAclEntry", ACL, 2)]  # one call: never a moment without a block
    assert deny(2, "193.32.162.5/32") in nacls.acls[ACL]
    assert (ACL, False, "45.13.104.20/32") not in state.blocks
    assert state.blocks[(ACL, False, "193.32.162.5/32")].status == BlockStatus.ACTIVE


def test_a_full_range_aggregates_neighbours_when_allowed() -> None:
    state = MemoryState()
    nacls = full_acl(state)
    outcome = block("45.13.104.21", nacls, state, config(when_full=["aggregate"], aggregate_prefix_v4=24))
    assert outcome.status is Status.DONE
    assert "45.13.104.21/32 blocked by 45.13.104.20/31 replaces 45.13.104.20/32 as rule 2" in outcome.detail
    assert nacls.acls[ACL] == [deny(1, "45.13.104.10/32"), deny(2, "45.13.104.20/31"), deny(3, "91.240.118.30/32")]
    assert state.blocks[(ACL, False, "45.13.104.20/31")].score == 90
    assert (ACL, False, "45.13.104.20/32") not in state.blocks


def test_an_aggregate_over_two_blocks_widens_the_first_in_place_and_frees_the_other() -> None:
    state = MemoryState()
    cidrs = ["45.13.104.4/32", "45.13.104.6/32", "91.240.118.30/32"]
    for number, cidr in enumerate(cidrs, 1):
        state.record_block(record(number, cidr))
    nacls = MemoryNacls({ACL: [deny(n, c) for n, c in enumerate(cidrs, 1)]})
    outcome = block("45.13.104.0", nacls, state, config(when_full=["aggregate"], aggregate_prefix_v4=24))
    assert "45.13.104.0/29 replaces 45.13.104.4/32, 45.13.104.6/32 as rule 1" in outcome.detail
    assert nacls.calls == [("ReplaceNetworkAclEntry", ACL, 1), ("DeleteNetworkAclEntry", ACL, 2)]
    assert nacls.acls[ACL] == [deny(1, "45.13.104.0/29"), deny(3, "91.240.118.30/32")]
    assert set(state.blocks) == {(ACL, False, "45.13.104.0/29"), (ACL, False, "91.240.118.30/32")}


SET = "waf:REGIONAL:riposte:11111111-2222-3333-4444-555555555555"


def waf(capacity: int = 10_000) -> MemoryWaf:
    return MemoryWaf({SET: (4, [])}, capacity=capacity)


def test_a_full_range_spills_over_to_waf_when_nothing_is_worth_less() -> None:
    state = MemoryState()
    nacls = full_acl(state, scores=(95, 95, 95))
    sets = waf()
    outcome = block("193.32.162.5", nacls, state, config(), waf=sets)
    assert outcome.status is Status.DONE
    assert f"NACL full: spilled to WAF IP set {SET}: added 193.32.162.5/32" in outcome.detail
    assert sets.addresses(SET) == ("193.32.162.5/32",)
    assert nacls.calls == []
    spilled = state.blocks[(SET, False, "193.32.162.5/32")]
    assert (spilled.rule_number, spilled.status, spilled.score) == (0, BlockStatus.ACTIVE, 90)
    v6 = block("2a0d:5600:24::10", nacls, state, config(), waf=sets)  # no IPv6 set: refused, said so
    assert (v6.status, v6.detail) == (Status.REFUSED, f"{ACL}: NACL full and no WAF IP set holds IPv6 addresses")


def test_with_no_room_anywhere_the_block_is_refused_with_every_reason() -> None:
    state = MemoryState()
    nacls = full_acl(state, scores=(95, 95, 95))
    outcome = block("193.32.162.5", nacls, state, config(), waf=waf(capacity=0))
    assert outcome.status is Status.REFUSED
    assert outcome.detail.startswith(f"{ACL}: NACL full and WAF cannot take it: {SET}: ")
    assert "budget of 0" in outcome.detail
    without_waf = block("193.32.162.6", nacls, state, config())
    assert without_waf.status is Status.REFUSED
    assert "every block here is worth at least as much (lowest 95 >= 90)" in without_waf.detail


def test_dry_run_says_how_it_would_make_room_and_changes_nothing() -> None:
    state = MemoryState()
    nacls = full_acl(state)
    before = (list(nacls.acls[ACL]), dict(state.blocks))
    dry = setup.parse({"mode": "dry_run", "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 3]}})
    outcome = block("193.32.162.5", nacls, state, dry)
    assert outcome.status is Status.DRY_RUN
    assert "would make room, evicting 45.13.104.20/32" in outcome.detail
    assert (nacls.calls, (list(nacls.acls[ACL]), dict(state.blocks))) == ([], before)


def test_fifty_concurrent_blocks_on_a_quota_of_twenty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(block_ip_module, "pause", lambda seconds: time.sleep(seconds / 10))
    unmanaged = [NaclEntry(100, False, "allow", "0.0.0.0/0"), NaclEntry(5, False, "deny", "34.120.0.0/16")]
    peak = [0]

    class Watched(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            super().add_deny(acl_id, rule_number, cidr, egress=egress)
            peak[0] = max(peak[0], len([e for e in self.acls[acl_id] if not e.egress]))

    nacls, state, sets = Watched({ACL: list(unmanaged)}), MemoryState(), waf()
    cfg = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 99], "rule_quota": 20}})
    outcomes: list[Outcome] = []
    barrier = threading.Barrier(50)

    def contend(n: int) -> None:
        barrier.wait()
        outcomes.append(block(f"45.13.{104 + n // 200}.{n % 200 + 1}", nacls, state, cfg, score=70 + n % 30, waf=sets))

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 50
    assert peak[0] <= 20  # the quota was never exceeded, at any moment
    numbers = [e.rule_number for e in nacls.acls[ACL] if not e.egress]
    assert len(numbers) == len(set(numbers))
    assert all(u in nacls.acls[ACL] for u in unmanaged)  # the user's rules are untouched
    for outcome in outcomes:
        assert outcome.status in (Status.DONE, Status.REFUSED), outcome.detail
        assert any(word in outcome.detail for word in ("added", "evicting", "spilled", "worth at least")), (
            outcome.detail
        )
    # Every record names a live entry it owns, or a WAF set; no pending claim is left behind.
    for rec in state.blocks.values():
        assert rec.status == BlockStatus.ACTIVE
        assert rec.acl_id.startswith("waf:") or deny(rec.rule_number, rec.cidr) in nacls.acls[ACL]


# --- TTL ladder, subnet scope, egress -------------------------------------------------------------------------------


def test_repeat_offenders_climb_the_ttl_ladder_once_per_distinct_event() -> None:
    cfg = setup.parse({"blocks": {"ttl_hours": 1, "repeat_ttl_hours": [6, 24, 168]}})
    assert [ttl_hours(cfg, n) for n in (0, 1, 2, 3, 4, 5, 99)] == [1, 1, 6, 24, 168, 168, 168]
    state = MemoryState()
    details = []
    for subject in ("a", "a", "b", "c"):  # "a" twice: a redelivery does not climb
        nacls = MemoryNacls({ACL: []})
        event = dataclasses.replace(EVENT, id=subject, subject=subject)
        ctx = ActionContext(
            event=event,
            config=setup.parse(
                {
                    "mode": "enforce",
                    "nacl": {"network_acl_ids": [ACL]},
                    "blocks": {"ttl_hours": 1, "repeat_ttl_hours": [6, 24]},
                }
            ),
            ports=Ports(nacl=nacls, state=state),
            now=NOW,
        )
        details.append(BlockIp().execute("91.240.118.77", ctx).detail)
    assert [d.rsplit(" ", 1)[-1] for d in details] == ["1h", "1h", "6h", "24h"]


def test_subnet_scope_blocks_only_where_the_traffic_lands_and_falls_back_to_all() -> None:
    other = "acl-0fedcba9876543210"
    subnet = EVENT.entities.subnets[0]
    nacls = MemoryNacls({ACL: [], other: []}, subnets={subnet: other})
    cfg = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL, other], "scope": "subnet"}})
    outcome = block("91.240.118.77", nacls, MemoryState(), cfg)
    assert outcome.detail.startswith(f"{other}: added")
    assert nacls.acls[ACL] == []
    lost = MemoryNacls({ACL: [], other: []}, subnets={})
    fallback = block("91.240.118.77", lost, MemoryState(), cfg)
    assert fallback.detail.startswith(f"no modifiable ACL serves {subnet}: all of them; {ACL}: added")
    assert lost.acls[ACL]
    assert lost.acls[other]


def test_egress_entries_are_added_by_config() -> None:
    nacls = MemoryNacls({ACL: []})
    cfg = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL], "egress": True}})
    outcome = block("91.240.118.77", nacls, MemoryState(), cfg)
    assert outcome.status is Status.DONE
    assert {(e.egress, e.cidr) for e in nacls.acls[ACL]} == {(False, "91.240.118.77/32"), (True, "91.240.118.77/32")}
    assert f"{ACL} egress: added 91.240.118.77/32" in outcome.detail
