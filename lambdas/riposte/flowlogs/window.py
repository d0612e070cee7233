"""Per-minute, per-source traffic in bounded memory, whatever the number of distinct source addresses.

A window is the minute (60 s bucket of the record's ``start``) in which flows began. For each window, one
invocation keeps:

- ``SourceTally`` for the heavy hitters (see the bound below): flows, packets, bytes, rejected flows, the
  distinct destination ports and hosts of the rejected flows (small sets that stop growing once past the
  detection thresholds), and short flows to admin ports;
- a ``Population`` summary over *all* external sources of the window: how many, and octave histograms of
  their flows, packets and bytes, from which the detectors read a median and a MAD.

The bound. Sources are kept by three Misra-Gries summaries of capacity k, ranking them by flows, by packets
and by suspect flows (rejected, or short to an admin port), in their mergeable form (Agarwal et al.,
"Mergeable summaries", 2012): each chunk of lines is counted exactly and added in, and when more than 3k
sources are held, each ranking's counts drop by its (k+1)-th largest and sources left at zero in all three
are dropped. Misra-Gries is Space-Saving seen from below (a Space-Saving count is the Misra-Gries count plus
the minimum), and the same guarantee holds for each ranking: with N the window's total flows (resp. packets,
suspect flows) seen by this invocation,

- every source with more than N/(k+1) of them is kept; at most 3k sources are held between chunks;
- a kept source's ranking count is low by at most N/(k+1), and its tally misses at most that much: what it
  sent before it was last admitted. Tallies never overstate, so a verdict never rests on invented traffic.

With k = 1000, a busy minute of 500,000 flows keeps every source over 500 flows (the volume floor is 3,000),
and if 20,000 of those flows were rejected or short admin-port ones, every source with over 20 of them is
kept: a scanner or a password guesser cannot hide in the crowd by being smaller than the busy clients.
Population histograms are exact counts of (chunk, source) parts: a source whose traffic is split across
chunks or invocations is counted once per part, which the robust statistics tolerate.

Direction. Only inbound traffic reaches a tally (see ``parse.tally_lines``): to an address of ours, ingress
when the format says, from ``pkt-srcaddr`` when the format has it. A source the central guard refuses (private,
shared, loopback, link-local, multicast, documentation, reserved...: ``riposte.core.guard``, whose table is
read here) or in our own networks is ``internal``: tracked and flagged, never a block candidate. Our hosts'
replies go to outside addresses, so they are not inbound and never counted.
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from riposte.core import guard
from riposte.flowlogs.parse import (
    ADMIN_SHORT,
    BYTES,
    ENIS,
    EXTERNAL,
    FIRST_ENI,
    FIRST_HOST,
    FLOWS,
    HOSTS,
    INTERNAL,
    INVALID,
    KIND,
    PACKETS,
    PORTS,
    RANK_FLOWS,
    RANK_PACKETS,
    RANK_SUSPECT,
    REJECTS,
    SERVICE_PORTS,
    RawTally,
)

_V4_MAPPED = bytes(10) + b"\xff\xff"

# The heavy-hitter rankings: by flows (floods of connections), packets (floods of few flows) and suspect flows,
# rejected or short to an admin port (scans and password guessing are made of those, and they are few).
_RANKINGS = (RANK_FLOWS, RANK_PACKETS, RANK_SUSPECT)

# An address whose verdict the guard takes from the IPv4 address it carries (NAT64, 6to4): asked of the guard.
_EMBEDDED = 2


def _segments(version: int) -> tuple[list[int], list[int]]:
    """The guard's address table for one family, flattened: (starts, kinds), each kind holding from its start
    to the next. Built from ``guard.PROTECTED`` (INTERNAL), ``guard.GLOBAL`` (EXTERNAL, or _EMBEDDED for the
    prefixes that carry an IPv4 address) and the most specific block deciding, as in the guard itself."""
    embedded = {e.prefix for e in guard.EMBEDDINGS}
    blocks = [(net, INTERNAL) for net, _ in guard.PROTECTED if net.version == version]
    blocks += [(net, _EMBEDDED if net in embedded else EXTERNAL) for net, _ in guard.GLOBAL if net.version == version]
    edges = {0}
    for net, _ in blocks:
        edges.update((int(net.network_address), int(net.broadcast_address) + 1))
    starts: list[int] = []
    kinds: list[int] = []
    for edge in sorted(edges):
        holding = [
            (n.prefixlen, kind) for n, kind in blocks if int(n.network_address) <= edge <= int(n.broadcast_address)
        ]
        kind = max(holding)[1] if holding else EXTERNAL
        if not kinds or kinds[-1] != kind:
            starts.append(edge)
            kinds.append(kind)
    return starts, kinds


# IPv6 sources are counted per /64 by default (see Networks.source_key; flowlogs.ipv6_source_prefix).
SOURCE_PREFIX_V6 = 64


class Networks:
    """Classifies addresses as INTERNAL (one the central guard refuses, or in our own networks), EXTERNAL or
    INVALID.

    Internal is exactly what ``riposte.core.guard`` refuses before any action (a test checks the two agree),
    so a source called external is one the guard lets a block through for, unless allowlisted. Our own
    networks are the VPC's CIDRs that are globally routable (an IPv6 block, public IPv4): traffic to them is
    inbound, traffic from them is ours. Lookups are cached (bounded), since the same addresses recur.
    """

    def __init__(
        self,
        own: Iterable[str] = (),
        *,
        services: Iterable[int] = (),
        ipv6_prefix: int = SOURCE_PREFIX_V6,
        cache_size: int = 65536,
    ) -> None:
        if not 0 < ipv6_prefix <= 128:
            raise ValueError(f"ipv6_prefix: must be 1-128, got {ipv6_prefix}")
        self._v6_prefix = ipv6_prefix
        self._v6_mask = ((1 << ipv6_prefix) - 1) << (128 - ipv6_prefix)
        # The remote servers' ports whose answers are replies (``parse.is_reply``): the registered ones and ours.
        self.services = SERVICE_PORTS | frozenset(services)
        self._guard = {version: _segments(version) for version in (4, 6)}
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for cidr in own:
            net = ipaddress.ip_network(cidr, strict=False)
            spans[net.version].append((int(net.network_address), int(net.broadcast_address)))
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        for version, ranges in spans.items():
            merged: list[tuple[int, int]] = []
            for lo, hi in sorted(ranges):
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
                else:
                    merged.append((lo, hi))
            self._starts[version] = [lo for lo, _ in merged]
            self._ends[version] = [hi for _, hi in merged]
        self.known: dict[str, int] = {}  # memo of classify(); callers may read it directly
        self._sources: dict[str, str] = {}  # memo of source_key()
        self._cache_size = cache_size

    def classify(self, address: str) -> int:
        found = self.known.get(address)
        if found is not None:
            return found
        kind = self._classify(address)
        if len(self.known) >= self._cache_size:
            self.known.clear()
        self.known[address] = kind
        return kind

    def source_key(self, address: str) -> str:
        """The name a source is counted under: the /64 of a global IPv6 address (``2a0d:5600:24:7::/64``), since
        one host's addresses rotate within its /64 (privacy addresses, or a scanner taking a new address per
        probe, each too small to see); any other address as it is. Our own and special-purpose IPv6 addresses
        stay per address (a /64 of ours is a whole subnet), and so do NAT64, 6to4 and the other forms that
        carry an IPv4 address (a /64 of those is many IPv4 hosts)."""
        found = self._sources.get(address)
        if found is None:
            found = self._source_key(address)
            if len(self._sources) >= self._cache_size:
                self._sources.clear()
            self._sources[address] = found
        return found

    def _source_key(self, address: str) -> str:
        try:
            packed = socket.inet_pton(socket.AF_INET6, address)
        except (OSError, ValueError):
            return address
        if packed[:12] == _V4_MAPPED or self.classify(address) != EXTERNAL:
            return address
        value = int.from_bytes(packed, "big")
        starts, kinds = self._guard[6]
        if self._v6_prefix == 128 or kinds[bisect.bisect_right(starts, value) - 1] == _EMBEDDED:
            return address
        network = (value & self._v6_mask).to_bytes(16, "big")
        return f"{socket.inet_ntop(socket.AF_INET6, network)}/{self._v6_prefix}"

    def _classify(self, address: str) -> int:
        if "/" in address:  # a source counted per /64 (``source_key``): judged by its first address
            address = address.partition("/")[0]
        # inet_pton is as strict as ipaddress (dotted quads, no leading zeros) and ten times faster, which
        # matters when a minute brings a million new addresses. It raises ValueError, not OSError, for a NUL
        # or a lone surrogate in the text: garbage like any other, never a reason to fail the whole payload.
        try:
            packed, version = socket.inet_pton(socket.AF_INET, address), 4
        except (OSError, ValueError):
            try:
                packed, version = socket.inet_pton(socket.AF_INET6, address), 6
            except (OSError, ValueError):
                return INVALID
            if packed[:12] == _V4_MAPPED:  # ::ffff:10.0.0.1 is 10.0.0.1, as the guard sees it
                packed, version = packed[12:], 4
        value = int.from_bytes(packed, "big")
        starts = self._starts[version]
        at = bisect.bisect_right(starts, value) - 1
        if at >= 0 and value <= self._ends[version][at]:
            return INTERNAL
        starts, kinds = self._guard[version]
        kind = kinds[bisect.bisect_right(starts, value) - 1]
        if kind == _EMBEDDED:  # rare: NAT64 and 6to4 addresses, judged by the IPv4 address they carry
            return INTERNAL if guard.refusal(address) is not None else EXTERNAL
        return kind


@dataclass(frozen=True, slots=True)
class Caps:
    """How far a tally's sets grow: just past the thresholds that read them, so "over" is still exact."""

    ports: int = 31
    hosts: int = 21
    interfaces: int = 4


_T = TypeVar("_T", str, int)


@dataclass(frozen=True, slots=True)
class Minimum:
    """A source is worth writing to the shared state once it reaches any of these in one invocation."""

    flows: int = 0
    packets: int = 0
    bytes: int = 0
    rejects: int = 0
    admin_short: int = 0

    def reached(self, raw: RawTally) -> bool:
        return bool(
            raw[FLOWS] >= self.flows
            or raw[PACKETS] >= self.packets
            or raw[BYTES] >= self.bytes
            or raw[REJECTS] >= self.rejects
            or raw[ADMIN_SHORT] >= self.admin_short
        )


def _capped(a: frozenset[_T], b: Iterable[_T], cap: int) -> frozenset[_T]:
    union = a.union(b)
    # Past the cap keep the smallest: the same set whichever invocation merges first.
    return union if len(union) <= cap else frozenset(sorted(union)[:cap])


@dataclass(frozen=True, slots=True)
class SourceTally:
    """One source's inbound traffic in one window (as far as counted: see the module docstring)."""

    flows: int = 0
    packets: int = 0
    bytes: int = 0
    rejects: int = 0
    admin_short: int = 0  # flows to ADMIN_PORTS of at most Thresholds.short_flow_packets packets
    ports: frozenset[int] = frozenset()  # distinct ports of rejected flows and short admin-port flows, capped
    hosts: frozenset[str] = frozenset()  # distinct destinations (ours) of rejected flows and the first, capped
    interfaces: frozenset[str] = frozenset()  # interfaces those arrived on, capped
    subnets: frozenset[str] = frozenset()  # their subnets, when the format has subnet-id, capped
    internal: bool = False

    def merged(self, other: SourceTally, caps: Caps) -> SourceTally:
        """Counters add, sets unite up to their caps: the merge of two invocations' views of one source."""
        return SourceTally(
            flows=self.flows + other.flows,
            packets=self.packets + other.packets,
            bytes=self.bytes + other.bytes,
            rejects=self.rejects + other.rejects,
            admin_short=self.admin_short + other.admin_short,
            ports=_capped(self.ports, other.ports, caps.ports),
            hosts=_capped(self.hosts, other.hosts, caps.hosts),
            interfaces=_capped(self.interfaces, other.interfaces, caps.interfaces),
            subnets=_capped(self.subnets, other.subnets, caps.interfaces),
            internal=self.internal or other.internal,
        )


@dataclass(frozen=True, slots=True)
class Population:
    """All external sources of a window, summarized: count and octave histograms, mergeable by addition."""

    sources: int = 0
    flows: Mapping[int, int] = field(default_factory=dict)
    packets: Mapping[int, int] = field(default_factory=dict)
    bytes: Mapping[int, int] = field(default_factory=dict)

    def merged(self, other: Population) -> Population:
        def add(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + v
            return out

        return Population(
            sources=self.sources + other.sources,
            flows=add(self.flows, other.flows),
            packets=add(self.packets, other.packets),
            bytes=add(self.bytes, other.bytes),
        )

    def histogram(self, metric: str) -> Mapping[int, int]:
        hist: Mapping[int, int] = getattr(self, metric)
        return hist

    def median_mad(self, metric: str) -> tuple[float, float]:
        """Median and median absolute deviation of log2(metric) over the sources, in octaves.

        Each bucket's mass is spread evenly over its octave for the median; the MAD takes bucket centres. The
        resolution is an octave, finer than any threshold applied to it.
        """
        hist = sorted(self.histogram(metric).items())
        total = sum(count for _, count in hist)
        if total == 0:
            return 0.0, 0.0
        half, seen, median = total / 2, 0, 0.0
        for bucket, count in hist:
            if seen + count >= half:
                median = (bucket - 1) + (half - seen) / count  # log2 of the bucket's lower bound is bucket-1
                break
            seen += count
        deviations = sorted((abs(bucket - 0.5 - median), count) for bucket, count in hist)
        seen, mad = 0, 0.0
        for deviation, count in deviations:
            seen += count
            if seen >= half:
                mad = deviation
                break
        return median, mad


class WindowTally:
    """One window as seen by one invocation: heavy-hitter tallies plus the population, in bounded memory."""

    def __init__(self, start: int, *, capacity: int, caps: Caps, networks: Networks) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.start = start
        self.capacity = capacity
        self.caps = caps
        self._networks = networks
        # source -> [RawTally..., ranking count by flows, ranking count by packets, classification]
        self._kept: dict[str, RawTally] = {}
        self._population: list[Counter[int]] = [Counter(), Counter(), Counter()]
        self.external_sources = 0
        self.flows = 0  # N for the bound, by flows and by packets
        self.packets = 0
        self.dropped = 0  # sources evicted so far
        self.invalid_flows = 0  # flows from a source that is not an address
        self.missing_flows = 0  # flows whose source was "-"

    def __len__(self) -> int:
        return len(self._kept)

    def fold(self, chunk: Mapping[str, RawTally]) -> None:
        """Add one chunk's exact tallies for this window (from ``parse.tally_lines``)."""
        classify, known, kept, caps = self._networks.classify, self._networks.known, self._kept, self.caps
        ext_flows, ext_packets, ext_bytes = [], [], []
        flows_total = packets_total = 0
        for source, raw in chunk.items():
            flows, packets = raw[FLOWS], raw[PACKETS]
            kind = known.get(source)
            if kind is None:
                kind = classify(source)
            if kind == INVALID:
                if source == "-":  # an OK record without its source address
                    self.missing_flows += flows
                else:
                    self.invalid_flows += flows
                continue
            flows_total += flows
            packets_total += packets
            if kind != INTERNAL:
                ext_flows.append(flows)
                ext_packets.append(packets)
                ext_bytes.append(raw[BYTES])
            held = kept.get(source)
            if held is None:
                raw[RANK_FLOWS], raw[RANK_PACKETS], raw[KIND] = flows, packets, kind
                raw[RANK_SUSPECT] = raw[REJECTS] + raw[ADMIN_SHORT]
                kept[source] = raw
            else:
                _add(held, raw, caps)
        self.flows += flows_total
        self.packets += packets_total
        # Population: exact counts of every external (chunk, source) part, bucketed in C.
        self.external_sources += len(ext_flows)
        for hist, values in zip(self._population, (ext_flows, ext_packets, ext_bytes), strict=True):
            hist.update(map(int.bit_length, values))  # bucket b holds [2**(b-1), 2**b)
        if len(kept) > len(_RANKINGS) * self.capacity:
            self._prune()

    def _prune(self) -> None:
        """Misra-Gries step for each ranking: subtract its (k+1)-th largest count; drop sources at zero in all."""
        kept, k = self._kept, self.capacity
        cuts = [(i, _kth_largest([raw[i] for raw in kept.values()], k + 1)) for i in _RANKINGS]
        survivors = {s: raw for s, raw in kept.items() if any(raw[i] > cut for i, cut in cuts)}
        for raw in survivors.values():
            for i, cut in cuts:
                raw[i] = max(0, raw[i] - cut)
        self.dropped += len(kept) - len(survivors)
        self._kept = survivors

    def population(self) -> Population:
        flows, packets, nbytes = self._population
        return Population(sources=self.external_sources, flows=dict(flows), packets=dict(packets), bytes=dict(nbytes))

    def tallies(self, minimum: Minimum | None = None) -> dict[str, SourceTally]:
        """The kept sources (that reach ``minimum``, when given), as frozen tallies."""
        out = {}
        reached = None if minimum is None else minimum.reached
        for source, raw in self._kept.items():
            if reached is not None and not reached(raw):
                continue
            places = raw[ENIS] or (raw[FIRST_ENI],)  # "<eni>" or "<eni> <subnet>" (see parse.tally_lines)
            out[source] = SourceTally(
                flows=raw[FLOWS],
                packets=raw[PACKETS],
                bytes=raw[BYTES],
                rejects=raw[REJECTS],
                admin_short=raw[ADMIN_SHORT],
                ports=frozenset(int(p) for p in raw[PORTS] or () if p.isascii() and p.isdigit() and len(p) <= 5),
                # The rejected flows' destinations, or (a source with none) where its first flow went.
                hosts=frozenset(raw[HOSTS] or (raw[FIRST_HOST],)),
                interfaces=frozenset(token.partition(" ")[0] for token in places) - {"-"},
                subnets=frozenset(token.partition(" ")[2] for token in places) - {"-", ""},
                internal=raw[KIND] == INTERNAL,
            )
        return out

    def ranking(self, source: str) -> tuple[int, ...] | None:
        """The source's Misra-Gries counts (flows, packets, suspect flows), or None when it is not kept."""
        raw = self._kept.get(source)
        return None if raw is None else tuple(raw[i] for i in _RANKINGS)


def _add(held: RawTally, raw: RawTally, caps: Caps) -> None:
    for i in (FLOWS, PACKETS, BYTES, REJECTS, ADMIN_SHORT):
        held[i] += raw[i]
    held[RANK_FLOWS] += raw[FLOWS]
    held[RANK_PACKETS] += raw[PACKETS]
    held[RANK_SUSPECT] += raw[REJECTS] + raw[ADMIN_SHORT]
    for i, cap in ((PORTS, caps.ports), (HOSTS, caps.hosts), (ENIS, caps.interfaces)):
        more = raw[i]
        if more:
            mine = held[i]
            if mine is None:
                held[i] = mine = set()
            if len(mine) < cap:
                mine.update(sorted(more)[: cap - len(mine)])


def _kth_largest(values: list[int], k: int) -> int:
    if len(values) < k:
        return 0
    values.sort(reverse=True)  # in C: faster here than heapq.nlargest's Python loop
    return values[k - 1]


__all__ = [
    "Caps",
    "Minimum",
    "Networks",
    "Population",
    "SourceTally",
    "WindowTally",
]
