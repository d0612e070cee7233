"""Wafv2IpSets against moto must behave like MemoryWaf, the reference the core's tests run on: add and remove
one address, one spelling per network, the family of the set, the 10,000-address budget; and against moto, a
real lost race (WAFOptimisticLockException on a stale LockToken) retried without losing anyone's address."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from riposte.actions import ActionContext
from riposte.actions.block_waf import BlockWaf
from riposte.adapters.aws import waf as waf_module
from riposte.adapters.aws.waf import Wafv2IpSets, from_config
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.adapters.waf_memory import MemoryWaf
from riposte.core import config as cfg
from riposte.core.config import IpSet, WafScope
from riposte.core.model import Status
from riposte.core.ports import WAF_SET_CAPACITY, IpSetFullError, WafPort
from riposte.engine import pipeline, setup
from tests.conftest import load_event


@dataclass
class Sets:
    waf: WafPort
    v4: str
    v6: str
    # Put addresses in a set as a person would (outside the port).
    seed: Any


@dataclass(frozen=True)
class WafPorts:
    """The action's ports with a WAF port (what ``Ports`` carries once the runtime wires it)."""

    nacl: Any
    state: Any
    waf: Any


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waf_module, "pause", lambda _: None)


def memory_sets(capacity: int) -> Sets:
    waf = MemoryWaf({"waf:REGIONAL:v4:a": (4, []), "waf:REGIONAL:v6:b": (6, [])}, capacity=capacity)
    return Sets(waf, "waf:REGIONAL:v4:a", "waf:REGIONAL:v6:b", lambda c, a: waf.ip_sets[c][1].extend(a))


def moto_sets(client: Any, capacity: int) -> Sets:
    made = {}
    for version, name in (("IPV4", "riposte-v4"), ("IPV6", "riposte-v6")):
        summary = client.create_ip_set(Name=name, Scope="REGIONAL", IPAddressVersion=version, Addresses=[])["Summary"]
        made[version] = IpSet(name=name, id=summary["Id"])

    def seed(container: str, addresses: list[str]) -> None:
        ip_set = next(s for s in made.values() if s.container == container)
        current = client.get_ip_set(Name=ip_set.name, Scope="REGIONAL", Id=ip_set.id)
        client.update_ip_set(
            Name=ip_set.name,
            Scope="REGIONAL",
            Id=ip_set.id,
            Addresses=current["IPSet"]["Addresses"] + addresses,
            LockToken=current["LockToken"],
        )

    waf = Wafv2IpSets({"REGIONAL": client}, (made["IPV4"], made["IPV6"]), capacity=capacity)
    return Sets(waf, made["IPV4"].container, made["IPV6"].container, seed)


@pytest.fixture(params=["memory", "moto"])
def make_sets(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield memory_sets
        return
    with mock_aws():
        client = boto3.client("wafv2")
        yield lambda capacity=WAF_SET_CAPACITY: moto_sets(client, capacity)


def test_add_and_remove_one_address_leaving_the_others(make_sets: Any) -> None:
    sets: Sets = make_sets(WAF_SET_CAPACITY)
    sets.seed(sets.v4, ["193.32.162.5/32"])
    assert sets.waf.family(sets.v4) == 4
    assert sets.waf.family(sets.v6) == 6
    assert sets.waf.add(sets.v4, "45.13.104.17/32") is True
    assert sets.waf.add(sets.v4, "45.13.104.17/32") is False  # already there: nothing written
    assert sorted(sets.waf.addresses(sets.v4)) == ["193.32.162.5/32", "45.13.104.17/32"]
    assert sets.waf.remove(sets.v4, "45.13.104.17/32") is True
    assert sets.waf.remove(sets.v4, "45.13.104.17/32") is False
    assert sets.waf.addresses(sets.v4) == ("193.32.162.5/32",)


def test_one_spelling_per_network_whoever_wrote_it(make_sets: Any) -> None:
    sets: Sets = make_sets(WAF_SET_CAPACITY)
    sets.seed(sets.v6, ["2A0D:5600:0024:0:0:0:0:10/128"])
    assert sets.waf.addresses(sets.v6) == ("2a0d:5600:24::10/128",)
    assert sets.waf.add(sets.v6, "2a0d:5600:24::10/128") is False
    assert sets.waf.remove(sets.v6, "2a0d:5600:24::10/128") is True
    assert sets.waf.addresses(sets.v6) == ()


def test_an_address_of_the_other_family_is_refused(make_sets: Any) -> None:
    sets: Sets = make_sets(WAF_SET_CAPACITY)
    with pytest.raises(ValueError, match="holds IPv4 addresses only"):
        sets.waf.add(sets.v4, "2a0d:5600:24::10/128")
    with pytest.raises(ValueError, match="holds IPv6 addresses only"):
        sets.waf.add(sets.v6, "45.13.104.17/32")


def test_the_budget_of_ten_thousand_addresses_per_set(make_sets: Any) -> None:
    sets: Sets = make_sets(WAF_SET_CAPACITY)
    sets.seed(sets.v4, [f"45.{10 + n // 65536}.{n // 256 % 256}.{n % 256}/32" for n in range(WAF_SET_CAPACITY - 1)])
    assert sets.waf.add(sets.v4, "91.240.118.77/32") is True  # the 10,000th
    with pytest.raises(IpSetFullError, match="holds 10000 addresses, its budget of 10000"):
        sets.waf.add(sets.v4, "193.32.162.5/32")
    assert sets.waf.add(sets.v4, "91.240.118.77/32") is False  # present: not a budget question
    assert sets.waf.remove(sets.v4, "91.240.118.77/32") is True  # removal always works
    assert len(sets.waf.addresses(sets.v4)) == WAF_SET_CAPACITY - 1


class Contended:
    """A wafv2 client through which someone else updates the set right after each of our reads, ``times``
    times: our LockToken is then stale and WAF refuses our write."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.times = times
        self.others = 0

    def get_ip_set(self, **kwargs: Any) -> Any:
        response = self._client.get_ip_set(**kwargs)
        if self.times > 0:
            self.times -= 1
            self.others += 1
            self._client.update_ip_set(
                **kwargs,
                Addresses=[*response["IPSet"]["Addresses"], f"185.156.72.{self.others}/32"],
                LockToken=response["LockToken"],
            )
        return response

    def update_ip_set(self, **kwargs: Any) -> Any:
        return self._client.update_ip_set(**kwargs)


def test_a_lost_race_in_moto_is_retried_and_keeps_the_other_writers_addresses() -> None:
    with mock_aws():
        client = boto3.client("wafv2")
        summary = client.create_ip_set(Name="riposte-v4", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[])
        ip_set = IpSet(name="riposte-v4", id=summary["Summary"]["Id"])
        contended = Contended(client, times=2)
        waf = Wafv2IpSets({"REGIONAL": contended}, (ip_set,))
        assert waf.add(ip_set.container, "45.13.104.17/32") is True
        assert sorted(waf.addresses(ip_set.container)) == ["185.156.72.1/32", "185.156.72.2/32", "45.13.104.17/32"]


def test_cloudfront_sets_are_reached_in_us_east_1_from_any_region() -> None:
    with mock_aws():
        east = boto3.client("wafv2", region_name="us-east-1")
        summary = east.create_ip_set(Name="riposte-cf", Scope="CLOUDFRONT", IPAddressVersion="IPV4", Addresses=[])
        config = cfg.parse(
            {"waf": {"ip_sets": [{"name": "riposte-cf", "id": summary["Summary"]["Id"], "scope": "CLOUDFRONT"}]}}
        )
        assert config.waf.ip_sets[0].scope is WafScope.CLOUDFRONT
        waf = from_config(boto3.session.Session(region_name="eu-west-1"), config.waf)
        assert waf is not None
        (container,) = waf.sets()
        assert waf.add(container, "45.13.104.17/32") is True
        stored = east.get_ip_set(Name="riposte-cf", Scope="CLOUDFRONT", Id=summary["Summary"]["Id"])
        assert stored["IPSet"]["Addresses"] == ["45.13.104.17/32"]


def test_block_waf_in_dry_run_makes_no_mutating_call_on_the_wire() -> None:
    with mock_aws():
        client = boto3.client("wafv2")
        summary = client.create_ip_set(Name="riposte-v4", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[])
        config = setup.parse(
            {
                "mode": "dry_run",
                "actions": ["block_waf"],
                "waf": {"ip_sets": [{"name": "riposte-v4", "id": summary["Summary"]["Id"]}]},
            }
        )
        calls: list[str] = []
        client.meta.events.register("before-call.wafv2.*", lambda model, **_: calls.append(model.name))
        waf = Wafv2IpSets({"REGIONAL": client}, config.waf.ip_sets)
        event = pipeline.plan(load_event("ec2_ssh_bruteforce_inbound.json"), config).event
        ports = WafPorts(MemoryNacls({}), MemoryState(), waf)
        ctx = ActionContext(event=event, config=config, ports=ports, now=datetime.now(UTC))  # type: ignore[arg-type]
        outcome = BlockWaf().execute("45.13.104.17", ctx)
        assert outcome.status is Status.DRY_RUN
        assert calls  # it did read the set
        assert set(calls) == {"GetIPSet"}
        assert not set(calls) & set(BlockWaf.mutating_calls)
        assert ports.state.blocks == {}
