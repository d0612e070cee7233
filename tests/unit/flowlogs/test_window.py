from __future__ import annotations

import ipaddress
import math
import statistics
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riposte.core import guard
from riposte.flowlogs import parse
from riposte.flowlogs.parse import EXTERNAL, INTERNAL, INVALID
from riposte.flowlogs.window import Caps, Minimum, Networks, Population, SourceTally, WindowTally

NETS = Networks()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("45.13.105.20", EXTERNAL),
        ("34.120.15.7", EXTERNAL),
        ("2a02:1234::1", EXTERNAL),
        ("10.0.5.23", INTERNAL),
        ("172.31.255.255", INTERNAL),
        ("172.32.0.1", EXTERNAL),
        ("100.64.0.1", INTERNAL),
        ("169.254.169.254", INTERNAL),
        ("fd00::1", INTERNAL),
        ("::ffff:10.0.0.1", INTERNAL),
        ("::ffff:45.13.105.20", EXTERNAL),
        ("192.0.2.1", INTERNAL),  # documentation: the guard refuses it, so it is never a block candidate
        ("192.0.0.9", EXTERNAL),  # globally reachable inside a refused block, as the guard says
        ("64:ff9b::a00:1", INTERNAL),  # NAT64 of 10.0.0.1
        ("64:ff9b::2d0d:6914", EXTERNAL),  # NAT64 of 45.13.105.20
        ("2002:a00:1::1", INTERNAL),  # 6to4 of 10.0.0.1
        ("2002:2d0d:6914::1", EXTERNAL),  # 6to4 of 45.13.105.20
        ("3fff::1", INTERNAL),  # IPv6 documentation
        ("fe80::1%eth0", INVALID),  # a zone id
        ("10.0.0.300", INVALID),
        ("-", INVALID),
        ("example.com", INVALID),
        ("10.0.1.10\x00", INVALID),  # inet_pton raises ValueError (not OSError) for these two
        ("2a02:1234::1\x00", INVALID),
        ("10.0.1.\ud800", INVALID),
    ],
)
def test_addresses_are_classified(address: str, kind: int) -> None:
    assert NETS.classify(address) == kind


def test_own_networks_are_internal() -> None:
    nets = Networks(own=["2600:1f18:4a3:6b00::/56", "52.1.2.0/24"])
    assert nets.classify("2600:1f18:4a3:6b01::10") == INTERNAL
    assert nets.classify("2600:1f18:4a3:6c00::10") == EXTERNAL
    assert nets.classify("52.1.2.200") == INTERNAL
    assert nets.classify("52.1.3.1") == EXTERNAL


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_internal_is_exactly_what_the_guard_protects(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    # Whatever we call external, the guard lets through (and so could be blocked); what we call internal it
    # refuses. The two lists must not drift apart.
    assert (NETS.classify(str(ip)) == INTERNAL) == (guard.refusal(str(ip)) is not None)


def test_the_classification_cache_stays_bounded() -> None:
    nets = Networks(cache_size=100)
    for i in range(1000):
        nets.classify(f"81.2.{i // 256}.{i % 256}")
    assert len(nets.known) <= 100


def test_merging_tallies_adds_counters_and_unites_sets_up_to_the_caps() -> None:
    caps = Caps(ports=5, hosts=3, interfaces=2)
    a = SourceTally(flows=2, packets=20, bytes=2000, rejects=1, admin_short=1, ports=frozenset({1, 2}))
    b = SourceTally(flows=3, packets=30, bytes=3000, rejects=2, admin_short=0, ports=frozenset({2, 3, 4, 5, 6}))
    m = a.merged(b, caps)
    assert (m.flows, m.packets, m.bytes, m.rejects, m.admin_short) == (5, 50, 5000, 3, 1)
    assert m.ports == {1, 2, 3, 4, 5}  # capped, and the same whichever side merges first
    assert b.merged(a, caps).ports == m.ports
    full = SourceTally(ports=frozenset(range(10, 15)), hosts=frozenset({"10.0.0.1", "10.0.0.2", "10.0.0.3"}))
    wider = full.merged(a, caps).merged(b, caps).merged(SourceTally(hosts=frozenset({"10.0.0.4"})), caps)
    assert len(wider.ports) == 5  # once over, stop growing
    assert len(wider.hosts) == 3
    assert SourceTally(internal=True).merged(SourceTally(), caps).internal


def test_population_median_and_mad_match_the_exact_ones_within_an_octave() -> None:
    values = [3, 5, 8, 9, 12, 20, 31, 40, 41, 60, 64, 100, 150, 300, 1000, 5000, 70_000]
    population = Population(sources=len(values), packets=Counter(v.bit_length() for v in values))
    median, mad = population.median_mad("packets")
    logs = [math.log2(v) for v in values]
    exact_median = statistics.median(logs)
    exact_mad = statistics.median(abs(x - exact_median) for x in logs)
    assert abs(median - exact_median) <= 1.0
    assert abs(mad - exact_mad) <= 1.0


def test_population_merges_by_adding() -> None:
    a = Population(sources=2, flows={1: 1, 3: 1}, packets={4: 2}, bytes={10: 2})
    b = Population(sources=1, flows={3: 1}, packets={5: 1}, bytes={12: 1})
    m = a.merged(b)
    assert m == Population(sources=3, flows={1: 1, 3: 2}, packets={4: 2, 5: 1}, bytes={10: 2, 12: 1})
    assert Population().median_mad("flows") == (0.0, 0.0)


def raw(flows: int, packets: int) -> list[object]:
    """A tally as the hot loop makes it (see parse.RawTally)."""
    return [flows, packets, packets * 100, 0, None, None, 0, None, "10.0.1.10", "eni-1", 0, 0, 0, 0]


def test_a_million_distinct_sources_stay_within_the_capacity() -> None:
    window = WindowTally(0, capacity=1000, caps=Caps(), networks=Networks(cache_size=4096))
    held_max = 0
    for chunk_start in range(0, 1_000_000, 32768):  # chunks made one at a time, as analyze does
        chunk = {
            f"{81 + i // 65536 % 100}.{i // 256 % 256}.{i % 256}.1": raw(1 + i % 3, 5 + i % 7)
            for i in range(chunk_start, min(chunk_start + 32768, 1_000_000))
        }
        window.fold(chunk)
        held_max = max(held_max, len(window))
    assert held_max <= 3 * 1000
    assert window.dropped >= 1_000_000 - 3000
    assert window.population().sources == 1_000_000


@settings(max_examples=40, deadline=None)
@given(
    noise=st.lists(
        st.tuples(st.integers(0, 5000), st.integers(1, 20), st.integers(1, 2000)), min_size=1, max_size=3000
    ),
    heavy_flows=st.integers(1, 50),
    at=st.lists(st.integers(0, 2999), min_size=1, max_size=40),
    chunk=st.integers(1, 500),
    capacity=st.integers(1, 50),
)
def test_a_heavy_hitter_among_many_is_kept_and_never_overstated(
    noise: list[tuple[int, int, int]], heavy_flows: int, at: list[int], chunk: int, capacity: int
) -> None:
    """Misra-Gries guarantee: a source with more than N/(k+1) of the flows is kept, short by at most N/(k+1)."""
    stream = [(f"81.2.{n // 256 % 256}.{n % 256}", flows, packets) for n, flows, packets in noise]
    for position in sorted(at):
        stream.insert(min(position, len(stream)), ("45.13.105.20", heavy_flows, 1))
    window = WindowTally(0, capacity=capacity, caps=Caps(), networks=Networks())
    truth: Counter[str] = Counter()
    for start in range(0, len(stream), chunk):
        part: dict[str, list[object]] = {}
        for source, flows, packets in stream[start : start + chunk]:
            truth[source] += flows
            held = part.setdefault(source, raw(0, 0))
            held[parse.FLOWS] += flows  # type: ignore[operator]
            held[parse.PACKETS] += packets  # type: ignore[operator]
        window.fold(part)
        assert len(window) <= 3 * capacity
    total = sum(truth.values())
    kept = window.tallies()
    for source, tally in kept.items():
        assert tally.flows <= truth[source]  # never invented
        assert tally.flows >= truth[source] - total / (capacity + 1)
    heavy = truth["45.13.105.20"]
    if heavy > total / (capacity + 1):
        assert "45.13.105.20" in kept
        assert kept["45.13.105.20"].flows >= heavy - total / (capacity + 1)


def test_early_big_sources_give_way_to_a_later_heavier_one() -> None:
    """Each prune lowers every count: early sources cannot squat the table (k=2)."""
    window = WindowTally(0, capacity=2, caps=Caps(), networks=Networks())
    window.fold({"81.2.0.1": raw(100, 1), "81.2.0.2": raw(100, 1)} | {f"81.2.1.{i}": raw(1, 1) for i in range(3)})
    for chunk in range(10):
        window.fold({"45.13.105.20": raw(60, 1)} | {f"81.2.{chunk + 2}.{i}": raw(1, 1) for i in range(3)})
    # N = 200 + 10 x 63 = 830 flows; 600 of them are its, far over N/(k+1) = 277.
    kept = window.tallies()
    assert "45.13.105.20" in kept
    assert kept["45.13.105.20"].flows >= 600 - 830 / 3


def test_a_flood_of_few_flows_is_kept_by_the_packets_ranking() -> None:
    window = WindowTally(0, capacity=10, caps=Caps(), networks=Networks())
    window.fold({"91.240.118.50": raw(2, 400_000)})
    for chunk in range(20):  # busier sources by flows, each with few packets
        window.fold({f"81.2.{chunk}.{i}": raw(50, 60) for i in range(100)})
    assert "91.240.118.50" in window.tallies()
    assert len(window) <= 30


def test_a_small_scanner_is_kept_by_the_suspect_ranking_among_busier_clients() -> None:
    window = WindowTally(0, capacity=10, caps=Caps(), networks=Networks())
    scanner = raw(40, 40)
    scanner[parse.REJECTS] = 40
    window.fold({"45.13.105.20": scanner})
    for chunk in range(20):  # 2,000 clients, each with more flows and packets than the scanner, none rejected
        window.fold({f"81.2.{chunk}.{i}": raw(50, 600) for i in range(100)})
    assert window.tallies()["45.13.105.20"].rejects == 40
    assert window.ranking("45.13.105.20") == (0, 0, 40)


def test_internal_sources_are_kept_but_not_in_the_population() -> None:
    window = WindowTally(0, capacity=10, caps=Caps(), networks=Networks())
    window.fold({"10.0.5.23": raw(400, 400), "81.2.69.160": raw(5, 50)})
    tallies = window.tallies()
    assert tallies["10.0.5.23"].internal
    assert not tallies["81.2.69.160"].internal
    assert window.population().sources == 1


def test_only_sources_over_the_minimum_are_candidates() -> None:
    window = WindowTally(0, capacity=10, caps=Caps(), networks=Networks())
    window.fold({"81.2.69.1": raw(3, 900), "81.2.69.2": raw(4, 10), "81.2.69.3": raw(1, 1000)})
    rejected, guessing = raw(2, 2), raw(3, 40)
    rejected[parse.REJECTS] = 2
    rejected[parse.HOSTS] = {"10.0.1.11"}
    guessing[parse.ADMIN_SHORT] = 3
    window.fold({"81.2.69.4": rejected, "81.2.69.5": guessing})
    minimum = Minimum(flows=4, packets=1000, bytes=10**9, rejects=2, admin_short=3)
    tallies = window.tallies(minimum)
    assert set(tallies) == {"81.2.69.2", "81.2.69.3", "81.2.69.4", "81.2.69.5"}
    assert len(window.tallies()) == 5
    assert tallies["81.2.69.4"].hosts == {"10.0.1.11"}  # the rejected flows' destinations
    assert tallies["81.2.69.5"].hosts == {"10.0.1.10"}  # none rejected: where its first flow went
    assert tallies["81.2.69.5"].interfaces == {"eni-1"}


def test_a_source_over_several_chunks_keeps_its_sets_capped() -> None:
    window = WindowTally(0, capacity=10, caps=Caps(ports=5, hosts=3, interfaces=2), networks=Networks())
    for chunk in range(4):
        part = raw(3, 3)
        part[parse.REJECTS] = 3
        part[parse.PORTS] = {str(chunk * 3 + i) for i in range(3)}
        part[parse.HOSTS] = {f"10.0.0.{chunk * 3 + i}" for i in range(3)}
        part[parse.ENIS] = {f"eni-{chunk}"}
        window.fold({"45.13.105.20": part})
    tally = window.tallies()["45.13.105.20"]
    assert (tally.flows, tally.rejects) == (12, 12)
    assert (len(tally.ports), len(tally.hosts), len(tally.interfaces)) == (5, 3, 2)


def test_invalid_sources_are_counted_not_kept() -> None:
    window = WindowTally(0, capacity=10, caps=Caps(), networks=Networks())
    window.fold({"not-an-ip": raw(2, 2), "-": raw(3, 3)})
    assert window.tallies() == {}
    assert (window.invalid_flows, window.missing_flows) == (2, 3)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("2a0d:5600:24:7::1", "2a0d:5600:24:7::/64"),
        ("2a0d:5600:24:7:aaaa:bbbb:cccc:dddd", "2a0d:5600:24:7::/64"),  # a rotated address: the same source
        ("2a0d:5600:24:8::1", "2a0d:5600:24:8::/64"),  # the next /64: another
        ("45.13.104.1", "45.13.104.1"),
        ("2600:1f18:4a3:6b01::10", "2600:1f18:4a3:6b01::10"),  # ours: a /64 of ours is a subnet of hosts
        ("::ffff:45.13.104.1", "::ffff:45.13.104.1"),  # an IPv4 host
        ("64:ff9b::2d0d:6801", "64:ff9b::2d0d:6801"),  # NAT64: IPv4 hosts behind one prefix
        ("2002:2d0d:6801::1", "2002:2d0d:6801::1"),  # 6to4 likewise
        ("2001:db8::1", "2001:db8::1"),  # documentation: never a source to block
        ("fe80::1", "fe80::1"),
        ("-", "-"),
        ("garbage", "garbage"),
    ],
)
def test_ipv6_sources_are_counted_per_slash_64_where_that_is_one_host(address: str, key: str) -> None:
    nets = Networks(own=["2600:1f18:4a3:6b00::/56"])
    assert nets.source_key(address) == key
    assert nets.source_key(address) == key  # memoized alike
    if key.endswith("/64"):
        assert nets.classify(key) == EXTERNAL


def test_the_ipv6_source_prefix_is_configurable_and_128_counts_each_address() -> None:
    assert Networks(ipv6_prefix=48).source_key("2a0d:5600:24:7::1") == "2a0d:5600:24::/48"
    assert Networks(ipv6_prefix=56).source_key("2a0d:5600:24:7ff::1") == "2a0d:5600:24:700::/56"
    assert Networks(ipv6_prefix=128).source_key("2a0d:5600:24:7::1") == "2a0d:5600:24:7::1"
    for bad in (0, 129):
        with pytest.raises(ValueError, match="ipv6_prefix"):
            Networks(ipv6_prefix=bad)
