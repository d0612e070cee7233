"""Detectors over merged per-window tallies, and ``analyze``: lines in, offenders out.

Three detectors read one source's merged traffic in one 60-second window:

- **volume**: packets, bytes or flows over an absolute floor, far above the window's population (robust z on
  a log scale: median and MAD of all external sources), and, when the source has a baseline of a few windows,
  far above its own usual. A source with no history is judged on the floor and the population alone. Small
  sources never trigger (the floors); a crowd of new, modest sources neither (the floors again).
- **port_scan**: mostly rejected flows, to many distinct destination ports or hosts.
- **brute_force**: many short flows to admin ports (SSH, RDP, databases, ...).

One ``Offender`` per source and window, with the reasons of every detector that fired. Internal sources
(private, or our own networks) are reported with ``internal=True``: for a person to look at, never for a
block. Allowlists are not applied here: the central guard refuses protected targets for every source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import chain, islice
from typing import NamedTuple

from riposte.flowlogs.parse import ADMIN_PORTS, DEFAULT, Counters, FlowFormat, RawTally, TallyPlan, tally_lines
from riposte.flowlogs.state import Baseline, FlowState, next_baseline
from riposte.flowlogs.window import Caps, Minimum, Networks, Population, SourceTally, WindowTally

# Lines per call of the tally loop: its transient memory is at most this many sources.
CHUNK_LINES = 32768

_MAD_TO_SIGMA = 1.4826  # MAD x this estimates a normal distribution's standard deviation


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Detection thresholds, per source and per 60-second window, with the reasoning for each default."""

    # Volume. Floors: no single address moves this much into a VPC in a minute without being a service you
    # know (500 packets/s, ~6.7 Mbit/s, 50 new flows/s); below them nothing is a volume spike.
    volume_packets: int = 30_000
    volume_bytes: int = 50_000_000
    volume_flows: int = 3_000
    # A transfer is not a flood: traffic that is accepted, in at most ``transfer_flows`` flows, with full-size
    # packets (on average at least this many bytes: a backup, an upload, a VPN peer) is held to floors this many
    # times higher (so 500 MB a minute, ~67 Mbit/s, before it is reported, and twice that before it is blocked).
    # Floods are small packets (SYN, HTTP requests), many flows, or rejected.
    transfer_packet_bytes: int = 1_000
    transfer_factor: float = 10.0
    transfer_flows: int = 100
    # Over the population: robust z >= 3.5 (the usual cut for modified z-scores) on log2 values, with the MAD
    # taken as at least one octave, so at least 2**(3.5 * 1.48) ~ 36x the window's median source. The test
    # needs enough sources to say what is usual; with fewer it is not applied.
    population_z: float = 3.5
    population_mad_floor: float = 1.0
    population_min_sources: int = 20
    # Over its own baseline (EWMA of its windows, alpha 0.2: about the last 5 minutes): 10x, once the baseline
    # has 3 windows. A source that is always big is not a spike.
    baseline_ratio: float = 10.0
    baseline_min_windows: int = 3
    baseline_alpha: float = 0.2
    # Port scan: 30 distinct ports or 20 distinct hosts in a minute, 60% of the flows rejected.
    scan_ports: int = 30
    scan_hosts: int = 20
    scan_reject_ratio: float = 0.6
    # Brute force: 20 flows of at most 30 packets (one direction: handshake, key exchange, a few password
    # attempts) to an admin port in a minute. An interactive session is one long flow.
    brute_flows: int = 20
    short_flow_packets: int = 30
    # Bounds: heavy hitters kept per window and ranking (flows, packets, suspect flows: see window.py, at
    # most 3 x capacity sources per window and invocation); a kept source is written to the
    # shared state once it reaches 1/8 of some threshold in the invocation (packets, bytes, flows, rejected
    # flows for a scan, short admin flows). The price: an offence spread over more than 8 invocations so
    # evenly that no part reaches 1/8 goes unmerged. Small sources are then never written at all.
    capacity: int = 1000
    candidate_share: float = 0.125
    # Windows further than this from `now` are not acted on (delivery lags minutes; replays and clock skew).
    max_lag: int = 3600
    max_skew: int = 300

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value <= 0:
                raise ValueError(f"thresholds.{f.name}: must be positive, got {value}")
        for name in ("scan_reject_ratio", "baseline_alpha", "candidate_share"):
            if getattr(self, name) > 1:
                raise ValueError(f"thresholds.{name}: must be at most 1, got {getattr(self, name)}")

    @property
    def candidate_minimum(self) -> Minimum:
        share = self.candidate_share
        return Minimum(
            flows=math.ceil(share * self.volume_flows),
            packets=math.ceil(share * self.volume_packets),
            bytes=math.ceil(share * self.volume_bytes),
            rejects=max(2, math.ceil(share * min(self.scan_ports, self.scan_hosts))),
            admin_short=max(2, math.ceil(share * self.brute_flows)),
        )

    @property
    def caps(self) -> Caps:
        """Set sizes just past the thresholds that read them: enough to know "over", no more."""
        return Caps(ports=self.scan_ports + 1, hosts=self.scan_hosts + 1)


@dataclass(frozen=True, slots=True)
class Offender:
    """One source that misbehaved in one window: what fired, why, and the evidence."""

    ip: str
    window_start: int  # unix seconds, a multiple of 60
    detectors: tuple[str, ...]  # sorted: brute_force, port_scan, volume
    severity: float  # 0-10
    reasons: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]
    internal: bool  # private or ours: notify, never block
    interface_ids: tuple[str, ...]
    subnet_ids: tuple[str, ...]  # when the format has subnet-id
    dst_ports: tuple[int, ...]
    dst_hosts: tuple[str, ...]
    flows: int
    packets: int
    bytes: int
    rejects: int
    admin_short: int = 0  # short flows to admin ports
    # The sets stop growing just past the thresholds that read them: at these sizes there were more.
    ports_cap: int = 0
    hosts_cap: int = 0

    @property
    def key(self) -> str:
        """Stable per source and window: concurrent invocations reporting the same offence share it."""
        return f"flowlogs:{self.ip}:{self.window_start}"


class Analysis(NamedTuple):
    offenders: tuple[Offender, ...]
    counters: Counters


class _Finding(NamedTuple):
    detector: str
    severity: float
    reason: str


def _minute(window: int) -> str:
    return datetime.fromtimestamp(window, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _volume(
    tally: SourceTally, population: Population, before: tuple[int, float, float, float] | None, t: Thresholds
) -> list[_Finding]:
    found = []
    mature = before is not None and before[0] >= t.baseline_min_windows
    if tally.internal and not mature:
        return []  # a new internal service is not an anomaly worth a page
    # A stray rejected packet or two (a late FIN after the security group forgot the connection) does not make a
    # transfer a flood; a hundred connections are no longer one upload.
    transfer = (
        tally.rejects <= max(2, tally.flows // 100)
        and tally.flows <= t.transfer_flows
        and tally.bytes >= t.transfer_packet_bytes * max(tally.packets, 1)
    )
    factor = t.transfer_factor if transfer else 1
    for i, metric, value, floor in (
        (2, "packets", tally.packets, math.ceil(t.volume_packets * factor)),
        (3, "bytes", tally.bytes, math.ceil(t.volume_bytes * factor)),
        (1, "flows", tally.flows, t.volume_flows),
    ):
        if value < floor:
            continue
        words = [f"{value:,} {metric} in the minute (floor {floor:,})"]
        if transfer:
            words.append(
                f"all accepted, {tally.bytes // max(tally.packets, 1):,} bytes a packet in {tally.flows:,} flows: "
                f"a transfer's floor, {t.transfer_factor:g}x"
            )
        if mature and before is not None:
            usual = before[i]
            if value < t.baseline_ratio * max(usual, 1.0):
                continue
            words.append(f"{value / max(usual, 1.0):,.0f}x its usual {usual:,.0f} over {before[0]} windows")
        else:
            words.append("no history for this source")
        if not tally.internal:
            if population.sources >= t.population_min_sources:
                median, mad = population.median_mad(metric)
                z = (math.log2(value) - median) / (_MAD_TO_SIGMA * max(mad, t.population_mad_floor))
                if z < t.population_z:
                    continue
                words.append(f"{value / 2**median:,.0f}x the median of {population.sources} sources (z {z:.1f})")
            else:
                words.append(f"too few sources ({population.sources}) to compare with")
        severity = 6 + math.log2(value / floor)
        found.append(_Finding("volume", severity, "volume spike: " + ", ".join(words)))
    return found


def _port_scan(tally: SourceTally, t: Thresholds) -> list[_Finding]:
    wide = len(tally.ports) >= t.scan_ports or len(tally.hosts) >= t.scan_hosts
    if not wide or tally.rejects < t.scan_reject_ratio * tally.flows:
        return []

    def count(n: int, cap: int) -> str:
        return f"{n}+" if n >= cap else str(n)

    reason = (
        f"port scan: {tally.rejects:,} of {tally.flows:,} flows rejected, to "
        f"{count(len(tally.ports), t.scan_ports + 1)} distinct ports on {count(len(tally.hosts), t.scan_hosts + 1)}"
        f" hosts (thresholds {t.scan_ports} ports or {t.scan_hosts} hosts)"
    )
    return [_Finding("port_scan", 5 + math.log2(max(1.0, tally.rejects / t.scan_ports)), reason)]


def _brute_force(tally: SourceTally, t: Thresholds) -> list[_Finding]:
    if tally.admin_short < t.brute_flows:
        return []
    # The port set may have filled up with a scan's ports before the admin ones showed.
    admin = ", ".join(map(str, sorted(ADMIN_PORTS.intersection(tally.ports)))) or "several"
    reason = (
        f"brute force: {tally.admin_short:,} short flows (at most {t.short_flow_packets} packets) to admin ports "
        f"({admin}) in the minute (threshold {t.brute_flows})"
    )
    return [_Finding("brute_force", 6 + math.log2(tally.admin_short / t.brute_flows), reason)]


def detect(
    ip: str,
    window: int,
    tally: SourceTally,
    *,
    population: Population,
    baseline: Baseline | None,
    thresholds: Thresholds,
) -> Offender | None:
    """All detectors on one source's merged tally in one window: one Offender, or None."""
    before = baseline.before(window) if baseline is not None else None
    findings = (
        _volume(tally, population, before, thresholds) + _port_scan(tally, thresholds) + _brute_force(tally, thresholds)
    )
    if not findings:
        return None
    detectors = tuple(sorted({f.detector for f in findings}))
    severity = min(10.0, max(f.severity for f in findings) + 0.5 * (len(detectors) - 1))
    reasons = [f"{ip} in the minute from {_minute(window)}: " + findings[0].reason]
    reasons += [f.reason for f in findings[1:]]
    if tally.internal:
        reasons.append("internal source (private or one of our networks): flagged for a person, never blocked")
    if "/" in ip:
        reasons.append(
            f"IPv6 sources are counted per /{ip.rpartition('/')[2]}: one host's addresses rotate within it, "
            "each too small to see alone; it is reported, and blocked, whole"
        )
    evidence = [
        ("flows", f"{tally.flows}"),
        ("packets", f"{tally.packets}"),
        ("bytes", f"{tally.bytes}"),
        ("rejected_flows", f"{tally.rejects}"),
        ("short_admin_flows", f"{tally.admin_short}"),
        ("dst_ports", " ".join(map(str, sorted(tally.ports)))),
        ("dst_hosts", " ".join(sorted(tally.hosts))),
        ("interfaces", " ".join(sorted(tally.interfaces))),
        *([("subnets", " ".join(sorted(tally.subnets)))] if tally.subnets else []),
    ]
    if before is not None:
        evidence.append(
            (
                "baseline",
                f"flows {before[1]:.0f}, packets {before[2]:.0f}, bytes {before[3]:.0f} over {before[0]} windows",
            )
        )
    else:
        evidence.append(("baseline", "none"))
    median_packets = 2 ** population.median_mad("packets")[0] if population.sources else 0.0
    evidence.append(("population", f"{population.sources} sources, median {median_packets:.0f} packets"))
    return Offender(
        ip=ip,
        window_start=window,
        detectors=detectors,
        severity=round(severity, 1),
        reasons=tuple(reasons),
        evidence=tuple(evidence),
        internal=tally.internal,
        interface_ids=tuple(sorted(tally.interfaces)),
        subnet_ids=tuple(sorted(tally.subnets)),
        dst_ports=tuple(sorted(tally.ports)),
        dst_hosts=tuple(sorted(tally.hosts)),
        flows=tally.flows,
        packets=tally.packets,
        bytes=tally.bytes,
        rejects=tally.rejects,
        admin_short=tally.admin_short,
        ports_cap=thresholds.caps.ports,
        hosts_cap=thresholds.caps.hosts,
    )


def analyze(
    batches: Iterable[Iterable[str]],
    state: FlowState,
    *,
    fmt: FlowFormat = DEFAULT,
    thresholds: Thresholds | None = None,
    now: int | None = None,
    networks: Networks | None = None,
    part: str = "",
) -> Analysis:
    """Parse, tally, merge into the state and detect: the whole flow-log core, pure but for ``state``.

    ``batches`` are the message strings of each delivered payload (CloudWatch Logs ``logEvents[].message``
    or the same from Kinesis), in order. ``now`` (unix seconds) keeps windows far from it out of the state.
    ``networks`` says which addresses are ours (default: the non-global ranges only). ``part`` names the
    delivery (a payload) so that merging it again, on a retry, adds nothing (see ``state.FlowState``).
    """
    t = thresholds or Thresholds()
    caps, minimum = t.caps, t.candidate_minimum
    plan = TallyPlan(fmt, t.short_flow_packets, caps.ports, caps.hosts, caps.interfaces)
    nets = networks or Networks()
    counters = Counters()
    windows: dict[int, WindowTally] = {}
    # Batches are read as one stream cut in chunks: a source spread over several interfaces' streams is then
    # one part of the population, not one per stream.
    lines = chain.from_iterable(batches)
    while chunk := list(islice(lines, CHUNK_LINES)):
        for window, sources in _tally(chunk, plan, nets, counters).items():
            if now is not None and not now - t.max_lag <= window <= now + t.max_skew:
                stale = sum(raw[0] for raw in sources.values())
                counters.tallied -= stale
                counters.stale += stale
                continue
            held = windows.get(window)
            if held is None:
                held = windows[window] = WindowTally(window, capacity=t.capacity, caps=caps, networks=nets)
            counters.sources_seen += len(sources)
            held.fold(sources)

    offenders = []
    for window in sorted(windows):  # in time order: each window's baselines feed the next
        held = windows[window]
        counters.windows += 1
        counters.sources_dropped += held.dropped
        counters.tallied -= held.invalid_flows + held.missing_flows
        counters.malformed += held.invalid_flows
        counters.missing += held.missing_flows
        population = state.merge_population(window, held.population())
        candidates = held.tallies(minimum)
        merged = state.merge_window(window, candidates, part=part) if candidates else {}
        counters.candidates += len(candidates)
        counters.writes += 1 + len(candidates)
        baselines = state.baselines(merged) if merged else {}
        learned: dict[str, SourceTally] = {}
        for ip in sorted(merged):
            tally = merged[ip]
            offender = detect(ip, window, tally, population=population, baseline=baselines.get(ip), thresholds=t)
            if offender is not None:
                offenders.append(offender)
            else:  # a window in which a source misbehaved does not teach its baseline
                learned[ip] = tally
        counters.writes += _update_baselines(state, window, learned, baselines, alpha=t.baseline_alpha)
    return Analysis(offenders=tuple(offenders), counters=counters)


def _tally(chunk: list[str], plan: TallyPlan, nets: Networks, counters: Counters) -> dict[int, dict[str, RawTally]]:
    def count(lines: list[str]) -> dict[int, dict[str, RawTally]]:
        return tally_lines(
            lines, plan, nets.classify, counters, nets.known, source_key=nets.source_key, services=nets.services
        )

    try:
        return count(chunk)
    except TypeError:
        # A line that is not a string (a log event whose message is a number, say): the loop's str.split refuses
        # it before any count is made. Checking each line's type beforehand would cost a pass over all of them.
        lines = [line for line in chunk if isinstance(line, str)]
        if len(lines) == len(chunk):
            raise  # not a line's fault
        counters.malformed += len(chunk) - len(lines)
        return count(lines)


def _update_baselines(
    state: FlowState,
    window: int,
    tallies: Mapping[str, SourceTally],
    baselines: Mapping[str, Baseline],
    *,
    alpha: float,
) -> int:
    """Fold the window into each source's baseline, re-reading once those where a concurrent invocation won
    the race. Returns the number of writes."""
    writes = 0
    current: Mapping[str, Baseline] = baselines
    pending = dict(tallies)
    for _ in range(2):
        changes = {}
        for ip, tally in pending.items():
            value = next_baseline(current.get(ip), window, tally, alpha)
            if value is not None:
                changes[ip] = (value, current.get(ip))
        if not changes:
            break
        writes += len(changes)
        lost = state.update_baselines(changes)
        if not lost:
            break
        pending = {ip: pending[ip] for ip in lost}
        current = state.baselines(lost)
    return writes


def by_key(offenders: Iterable[Offender]) -> Mapping[str, Offender]:
    """The last report of each offence (source, window): what concurrent invocations' reports collapse to."""
    return {o.key: o for o in offenders}
