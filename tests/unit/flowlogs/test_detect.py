from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

import pytest

from riposte.flowlogs import (
    DEFAULT_FORMAT,
    Analysis,
    Baseline,
    Caps,
    MemoryFlowState,
    Networks,
    Offender,
    Population,
    SourceTally,
    Thresholds,
    analyze,
    by_key,
    detect,
    parse_format,
)
from tests.unit.flowlogs import scenario

W = scenario.T0
T = Thresholds()
NETWORKS = Networks(own=[scenario.VPC_V6])
# 500 sources, median ~250 packets, ~6 flows, ~150 kB, spread over an octave or two.
POPULATION = Population(
    sources=500,
    flows={2: 100, 3: 250, 4: 150},
    packets={7: 100, 8: 150, 9: 150, 10: 100},
    bytes={16: 100, 17: 150, 18: 150, 19: 100},
)


def verdicts(offenders: tuple[Offender, ...] | list[Offender]) -> dict[tuple[str, int], tuple[tuple[str, ...], bool]]:
    """(ip, window) -> (detectors, internal), the detectors of all reports of one offence united."""
    found: dict[tuple[str, int], tuple[set[str], bool]] = {}
    for o in offenders:
        detectors, internal = found.setdefault((o.ip, o.window_start), (set(), o.internal))
        detectors.update(o.detectors)
        assert internal == o.internal
    return {key: (tuple(sorted(d)), internal) for key, (d, internal) in found.items()}


def expected(s: scenario.Scenario) -> dict[tuple[str, int], tuple[tuple[str, ...], bool]]:
    out = {(ip, s.onset): (detectors, False) for ip, detectors in s.offenders.items()}
    out.update({(ip, s.onset): (detectors, True) for ip, detectors in s.internal.items()})
    return out


def run(
    s: scenario.Scenario, state: MemoryFlowState | None = None, batches: list[tuple[str, ...]] | None = None
) -> Analysis:
    return analyze(
        batches if batches is not None else [b.lines for b in s.batches],
        state or MemoryFlowState(),
        fmt=s.fmt,
        now=s.onset + 120,
        networks=NETWORKS,
    )


# --- thresholds -------------------------------------------------------------------------------------------


def test_threshold_defaults() -> None:
    assert (T.volume_packets, T.volume_bytes, T.volume_flows) == (30_000, 50_000_000, 3_000)
    assert (T.population_z, T.population_mad_floor, T.population_min_sources) == (3.5, 1.0, 20)
    assert (T.baseline_ratio, T.baseline_min_windows, T.baseline_alpha) == (10.0, 3, 0.2)
    assert (T.scan_ports, T.scan_hosts, T.scan_reject_ratio) == (30, 20, 0.6)
    assert (T.brute_flows, T.short_flow_packets) == (20, 30)
    assert (T.capacity, T.candidate_share, T.max_lag, T.max_skew) == (1000, 0.125, 3600, 300)


def test_sets_are_capped_just_past_the_thresholds_that_read_them() -> None:
    caps = Thresholds(scan_ports=50, scan_hosts=10).caps
    assert (caps.ports, caps.hosts) == (51, 11)
    assert Thresholds().caps == Caps() == MemoryFlowState().caps  # the defaults agree


def test_a_source_is_a_candidate_at_an_eighth_of_a_threshold() -> None:
    m = T.candidate_minimum
    assert (m.flows, m.packets, m.bytes, m.rejects, m.admin_short) == (375, 3750, 6_250_000, 3, 3)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("volume_packets", 0, "thresholds.volume_packets: must be positive, got 0"),
        ("scan_reject_ratio", 1.5, "thresholds.scan_reject_ratio: must be at most 1, got 1.5"),
        ("baseline_alpha", -0.1, "thresholds.baseline_alpha: must be positive"),
        ("capacity", 0, "thresholds.capacity: must be positive"),
    ],
)
def test_bad_thresholds_name_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match="thresholds") as raised:
        Thresholds(**{field: value})  # type: ignore[arg-type]
    assert message in str(raised.value)


# --- detectors on one tally -------------------------------------------------------------------------------


def judge(
    tally: SourceTally, *, population: Population = POPULATION, baseline: Baseline | None = None
) -> Offender | None:
    return detect("91.240.118.50", W, tally, population=population, baseline=baseline, thresholds=T)


def steady(packets: float, windows: int = 5) -> Baseline:
    """A baseline whose windows before W averaged ``packets`` packets (and 10 flows, 100 bytes per packet)."""
    return Baseline(W - 60, windows, 10.0, packets, packets * 100)


def test_a_new_source_far_over_the_floor_and_the_population_is_a_volume_spike() -> None:
    found = judge(SourceTally(flows=40, packets=400_000, bytes=24_000_000))
    assert found is not None
    assert found.detectors == ("volume",)
    assert not found.internal
    assert "400,000 packets" in found.reasons[0]
    assert "no history" in found.reasons[0]
    assert "the median of 500 sources" in found.reasons[0]
    assert dict(found.evidence)["packets"] == "400000"
    assert found.key == f"flowlogs:91.240.118.50:{W}"
    assert 6 <= found.severity <= 10


def test_under_the_floor_nothing_is_a_spike_however_far_from_the_median() -> None:
    assert judge(SourceTally(flows=40, packets=29_999, bytes=1_000_000)) is None


def test_a_source_that_is_always_this_big_is_not_a_spike() -> None:
    assert judge(SourceTally(flows=40, packets=400_000, bytes=1_000_000), baseline=steady(100_000)) is None


def test_ten_times_its_baseline_is_a_spike() -> None:
    found = judge(SourceTally(flows=40, packets=400_000, bytes=1_000_000), baseline=steady(35_000))
    assert found is not None
    assert "11x its usual 35,000 over 5 windows" in found.reasons[0]


def test_a_young_baseline_is_not_trusted_yet() -> None:
    young = judge(SourceTally(flows=40, packets=400_000, bytes=1_000_000), baseline=steady(100_000, windows=2))
    assert young is not None
    assert "no history" in young.reasons[0]


def test_a_source_in_line_with_a_big_population_is_not_a_spike() -> None:
    # Every source sends 32k-64k packets: 400,000 is ~10x the median, a z of ~2.3, under 3.5.
    busy = Population(sources=500, packets={16: 500}, flows={6: 500}, bytes={27: 500})
    assert judge(SourceTally(flows=40, packets=400_000, bytes=1_000_000), population=busy) is None
    assert judge(SourceTally(flows=40, packets=4_000_000, bytes=1_000_000), population=busy) is not None


def test_with_too_few_sources_the_population_is_not_consulted() -> None:
    found = judge(SourceTally(flows=40, packets=400_000, bytes=1_000_000), population=Population(sources=3))
    assert found is not None
    assert "too few sources (3)" in found.reasons[0]


def test_bytes_and_flows_spikes_are_reported_on_their_own() -> None:
    found = judge(SourceTally(flows=5_000, packets=20_000, bytes=80_000_000))
    assert found is not None
    assert found.detectors == ("volume",)
    assert any("80,000,000 bytes" in r for r in found.reasons)
    assert any("5,000 flows" in r for r in found.reasons)
    assert not any(" packets in the minute" in r for r in found.reasons)


def scan(ports: int, hosts: int, rejects: int, flows: int) -> SourceTally:
    return SourceTally(
        flows=flows,
        packets=flows,
        bytes=flows * 44,
        rejects=rejects,
        ports=frozenset(range(1, ports + 1)),
        hosts=frozenset(f"10.0.1.{i}" for i in range(1, hosts + 1)),
    )


def test_many_ports_mostly_rejected_is_a_port_scan() -> None:
    found = judge(scan(ports=31, hosts=2, rejects=598, flows=600))
    assert found is not None
    assert found.detectors == ("port_scan",)
    assert "598 of 600 flows rejected, to 31+ distinct ports on 2 hosts" in found.reasons[0]
    assert found.dst_ports == tuple(range(1, 32))


def test_many_hosts_mostly_rejected_is_a_port_scan() -> None:
    found = judge(scan(ports=1, hosts=21, rejects=45, flows=60))
    assert found is not None
    assert found.detectors == ("port_scan",)


@pytest.mark.parametrize(
    ("ports", "hosts", "rejects", "flows"),
    [
        (29, 19, 600, 600),  # just under both
        (31, 21, 59, 100),  # wide but mostly accepted
        (3, 1, 3, 3),  # low and slow
    ],
)
def test_no_port_scan(ports: int, hosts: int, rejects: int, flows: int) -> None:
    assert judge(scan(ports, hosts, rejects, flows)) is None


def test_many_short_flows_to_admin_ports_is_brute_force() -> None:
    found = judge(SourceTally(flows=150, packets=2700, bytes=300_000, admin_short=150, ports=frozenset({22})))
    assert found is not None
    assert found.detectors == ("brute_force",)
    assert "150 short flows (at most 30 packets) to admin ports (22)" in found.reasons[0]
    assert judge(SourceTally(flows=19, packets=300, bytes=30_000, admin_short=19, ports=frozenset({22}))) is None
    assert judge(SourceTally(flows=20, packets=300, bytes=30_000, admin_short=20, ports=frozenset({22}))) is not None


def test_one_offender_with_every_reason_when_several_detectors_fire() -> None:
    both = scan(ports=31, hosts=25, rejects=500, flows=520)
    both = SourceTally(**{**{f: getattr(both, f) for f in both.__slots__}, "admin_short": 40})
    found = judge(both)
    assert found is not None
    assert found.detectors == ("brute_force", "port_scan")
    assert len(found.reasons) == 2
    alone = judge(scan(ports=31, hosts=25, rejects=500, flows=520))
    assert alone is not None
    assert found.severity > alone.severity


def test_internal_sources_are_flagged_never_offered_for_blocking() -> None:
    tally = scan(ports=31, hosts=4, rejects=400, flows=400)
    found = detect(
        "10.0.5.23",
        W,
        SourceTally(**{**{f: getattr(tally, f) for f in tally.__slots__}, "internal": True}),
        population=POPULATION,
        baseline=None,
        thresholds=T,
    )
    assert found is not None
    assert found.internal
    assert "never blocked" in found.reasons[-1]


def test_a_new_internal_service_is_not_a_volume_spike() -> None:
    new = SourceTally(flows=40, packets=400_000, bytes=1_000_000, internal=True)
    assert detect("10.0.3.5", W, new, population=POPULATION, baseline=None, thresholds=T) is None
    spike = detect("10.0.3.5", W, new, population=POPULATION, baseline=steady(1000), thresholds=T)
    assert spike is not None
    assert spike.internal


# --- the scenario -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def story() -> scenario.Scenario:
    return scenario.build()


def test_the_scenario_finds_the_attackers_and_nobody_else_in_the_window_of_onset(story: scenario.Scenario) -> None:
    result = run(story)
    assert verdicts(result.offenders) == expected(story)
    assert len(result.offenders) == len(expected(story))  # one per offender and window
    partner = next(o for o in result.offenders if o.ip == scenario.PARTNER)
    assert partner.detectors == ("volume",)
    assert "its usual" in partner.reasons[0]  # judged against its own baseline, not as a stranger
    flood = next(o for o in result.offenders if o.ip == scenario.FLOOD)
    assert flood.packets > 300_000
    assert flood.interface_ids == (scenario.WEB["10.0.1.10"],)
    assert scenario.BASTION["10.0.0.5"] in next(o for o in result.offenders if o.ip == scenario.BRUTE).interface_ids


def test_a_window_in_which_a_source_misbehaved_does_not_teach_its_baseline(story: scenario.Scenario) -> None:
    state = MemoryFlowState()
    run(story, state)
    partner = state.baseline(scenario.PARTNER)
    assert partner is not None
    assert partner.window < story.onset
    assert partner.packets < 20_000  # its usual, not the spike
    slow = state.baseline(scenario.SLOW)  # the low-and-slow prober was never flagged: it learns every minute
    assert slow is not None
    assert slow.window == story.onset


def test_windows_are_judged_in_time_order_whatever_the_delivery_order(story: scenario.Scenario) -> None:
    result = run(story, batches=[b.lines for b in reversed(story.batches)])
    assert verdicts(result.offenders) == expected(story)
    partner = next(o for o in result.offenders if o.ip == scenario.PARTNER)
    assert "its usual" in partner.reasons[0]


def test_the_scenarios_junk_is_counted(story: scenario.Scenario) -> None:
    c = run(story).counters
    assert (c.nodata, c.skipdata, c.missing, c.malformed) == (
        story.nodata,
        story.skipdata,
        story.missing,
        story.garbage,
    )
    assert c.lines == sum(len(b.lines) for b in story.batches)
    assert c.not_inbound > 0  # the servers' replies
    assert c.stale == 0


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_invocations_sharing_the_state_reach_the_same_verdicts(story: scenario.Scenario, parts: int) -> None:
    state = MemoryFlowState()
    offenders: list[Offender] = []
    invocations = story.invocations(parts)
    assert len(invocations) > len(story.windows)
    for batches in invocations:
        offenders += run(story, state, batches).offenders
    assert verdicts(offenders) == expected(story)
    assert set(by_key(offenders)) == {f"flowlogs:{ip}:{window}" for ip, window in expected(story)}


def test_a_custom_format_reaches_the_same_verdicts() -> None:
    fmt = parse_format(
        "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr}"
        " ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets}"
        " ${start} ${end} ${action} ${tcp-flags} ${log-status} ${flow-direction} ${traffic-path}"
    )
    story = scenario.build(fmt=fmt)
    result = run(story)
    assert verdicts(result.offenders) == expected(story)
    assert result.counters.nodata == story.nodata


def test_nothing_is_found_before_the_attack(story: scenario.Scenario) -> None:
    quiet = [b.lines for b in story.batches if b.window != story.onset]
    assert run(story, batches=quiet).offenders == ()


def test_windows_far_from_now_are_left_alone(story: scenario.Scenario) -> None:
    state = MemoryFlowState()
    result = analyze([b.lines for b in story.batches], state, now=story.onset + 7200, networks=NETWORKS)
    assert result.offenders == ()
    assert result.counters.stale > 0
    assert state.size()["window_sources"] == 0


def test_without_action_in_the_format_there_are_no_port_scans(story: scenario.Scenario) -> None:
    no_action = scenario.build(fmt=parse_format(DEFAULT_FORMAT.replace(" ${action}", "")))
    found = verdicts(run(no_action).offenders)
    assert all("port_scan" not in detectors for detectors, _ in found.values())
    assert (scenario.FLOOD, no_action.onset) in found


def test_many_distinct_sources_keep_state_and_writes_bounded() -> None:
    """Each source sends one big flow (a candidate by packets): only the heavy hitters are written.

    (test_window.py holds a million sources in one window; here, the whole path over several windows.)
    """
    t = Thresholds(capacity=200)
    state = MemoryFlowState()
    windows, per_window = 3, 40_000
    writes = 0
    for n in range(windows):
        window = W + 60 * n
        lines = [
            f"2 1 eni-1 {81 + i // 65536}.{i // 256 % 256}.{i % 256}.9 10.0.1.10 4 443 6 {4000 + i % 9000}"
            f" {(4000 + i % 9000) * 60} {window + i % 60} {window + 59} ACCEPT OK"
            for i in range(n * per_window, (n + 1) * per_window)
        ]
        result = analyze([lines[: per_window // 2], lines[per_window // 2 :]], state, thresholds=t, now=window + 60)
        c = result.counters
        assert c.tallied == per_window
        assert c.sources_dropped >= per_window - 3 * t.capacity
        assert c.candidates <= 3 * t.capacity
        assert c.writes <= 1 + 2 * 3 * t.capacity  # population + tallies + baselines
        writes += c.writes
    size = state.size()
    assert size["window_sources"] <= windows * 3 * t.capacity
    assert size["baselines"] <= windows * 3 * t.capacity
    assert writes <= windows * (1 + 6 * t.capacity)


# --- the package stays pure -------------------------------------------------------------------------------


def test_the_package_imports_only_the_standard_library() -> None:
    package = Path(__file__).resolve().parents[3] / "lambdas" / "riposte" / "flowlogs"
    modules = sorted(package.glob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "parse.py", "window.py", "detect.py", "state.py"}
    imported: Counter[str] = Counter()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported[node.module] += 1
    outside = {
        name
        for name in imported
        if not name.startswith("riposte.flowlogs") and name.split(".")[0] not in sys.stdlib_module_names
    }
    # The one exception: the guard's address table, so that "internal" is exactly what the guard refuses.
    outside.discard("riposte.core")
    assert outside == set()
    assert "riposte.flowlogs" in {name.rsplit(".", 1)[0] for name in imported}


def _download(sport: int, *, flags: str | None = None) -> list[str]:
    """One of our hosts pulls 100 MB from a CDN and calls an API 4,000 times in a minute (as the review found:
    a small VPC, so the population is not consulted), both directions of each connection logged."""
    fmt = parse_format(DEFAULT_FORMAT + " ${tcp-flags}") if flags is not None else None
    lines = []
    records: list[dict[str, object]] = []
    for i in range(10):
        ours = 51000 + i
        records.append({"srcaddr": "151.101.1.69", "dstaddr": "10.0.1.25", "srcport": sport, "dstport": ours})
        records[-1].update({"packets": 7000, "bytes": 10_000_000})
        records.append({"srcaddr": "10.0.1.25", "dstaddr": "151.101.1.69", "srcport": ours, "dstport": sport})
        records[-1].update({"packets": 3000, "bytes": 200_000})
    for i in range(4000):
        ours = 33000 + i
        records.append({"srcaddr": "52.94.133.131", "dstaddr": "10.0.2.10", "srcport": sport, "dstport": ours})
        records[-1].update({"packets": 8, "bytes": 4000})
        records.append({"srcaddr": "10.0.2.10", "dstaddr": "52.94.133.131", "srcport": ours, "dstport": sport})
        records[-1].update({"packets": 8, "bytes": 1500})
    for record in records:
        record.update({"protocol": 6, "start": W + 5, "end": W + 50, "action": "ACCEPT", "interface-id": "eni-0a"})
        if flags is not None:
            record["tcp-flags"] = flags
        lines.append(scenario.render(record, fmt) if fmt else scenario.render(record))
    return lines


def _verdicts_of(lines: list[str], flags: bool = False) -> dict[tuple[str, int], tuple[tuple[str, ...], bool]]:
    fmt = parse_format(DEFAULT_FORMAT + " ${tcp-flags}") if flags else parse_format(DEFAULT_FORMAT)
    # No transfer allowance: what keeps the downloads out here must be telling replies apart.
    t = Thresholds(transfer_factor=1)
    analysis = analyze([lines], MemoryFlowState(), fmt=fmt, thresholds=t, now=W + 120, networks=NETWORKS)
    return verdicts(analysis.offenders)


def test_our_hosts_downloads_and_api_calls_are_not_attacks() -> None:
    assert _verdicts_of(_download(443)) == {}
    assert _verdicts_of(_download(443, flags="0"), flags=True) == {}
    # The same records from a port that is no service's are requests to us, and the same numbers are spikes:
    # what keeps the downloads out is telling replies apart, not thresholds too high to see them.
    found = _verdicts_of(_download(40000))
    assert found == {("151.101.1.69", W): (("volume",), False), ("52.94.133.131", W): (("volume",), False)}
    # A SYN from the remote says it opened the connections, whatever the ports.
    assert _verdicts_of(_download(443, flags="2"), flags=True) == found


def test_a_transfer_is_held_to_higher_floors_than_a_flood() -> None:
    """A backup client's upload (all accepted, full-size packets, a few flows) is not a flood at 2.4x the floors;
    at 10x them it is reported, and the same volume in small packets, in many flows or rejected is a flood."""
    upload = SourceTally(flows=4, packets=85_000, bytes=120_000_000)
    assert judge(upload) is None
    big = judge(SourceTally(flows=4, packets=400_000, bytes=560_000_000))  # over 10x both floors
    assert big is not None
    assert big.detectors == ("volume",)
    assert "a transfer's floor, 10x" in big.reasons[0]
    assert "(floor 500,000,000)" in " ".join(big.reasons)
    assert 6 <= big.severity < 7  # reported; twice the transfer's floor before it reaches the act threshold
    edge = judge(SourceTally(flows=4, packets=85_000, bytes=85_000_000))  # exactly 1,000 bytes a packet
    assert edge is None
    for flood in (
        SourceTally(flows=4, packets=85_000, bytes=84_999_999),  # just under 1,000 bytes a packet
        SourceTally(flows=4, packets=85_000, bytes=120_000_000, rejects=3),  # more than a stray packet or two
        SourceTally(flows=101, packets=85_000, bytes=120_000_000),  # 101 connections: not one upload
        SourceTally(flows=300, packets=85_000, bytes=120_000_000, rejects=3),
    ):
        found = judge(flood)
        assert found is not None, flood
        assert found.detectors == ("volume",)
        assert "transfer" not in " ".join(found.reasons)
    # A late FIN or two rejected after the security group forgot the connection; a hundred parallel parts.
    for transfer in (
        SourceTally(flows=4, packets=85_000, bytes=120_000_000, rejects=2),
        SourceTally(flows=100, packets=85_000, bytes=120_000_000),
        SourceTally(flows=100, packets=85_000, bytes=120_000_000, rejects=2),
    ):
        assert judge(transfer) is None, transfer
    many = judge(SourceTally(flows=3_000, packets=85_000, bytes=120_000_000))
    assert many is not None
    assert "transfer" not in " ".join(many.reasons)


def _v6_scan(prefix: str, probes: int, *, rotate: bool) -> list[str]:
    lines = []
    for n in range(probes):
        source = f"{prefix}:{n + 1:x}:{n * 7919 % 65536:x}:0:1" if rotate else f"{prefix}::1"
        record = {"srcaddr": source, "dstaddr": "2600:1f18:4a3:6b01::10", "srcport": 40000 + n, "dstport": n + 1}
        record.update({"protocol": 6, "packets": 1, "bytes": 80, "start": W + 5, "end": W + 6, "action": "REJECT"})
        lines.append(scenario.render(record))
    return lines


def test_an_ipv6_scanner_rotating_its_address_within_a_slash_64_is_one_source() -> None:
    for rotate in (True, False):
        found = verdicts(
            analyze(
                [_v6_scan("2a0d:5600:24:7", 200, rotate=rotate)], MemoryFlowState(), now=W + 120, networks=NETWORKS
            ).offenders
        )
        assert found == {("2a0d:5600:24:7::/64", W): (("port_scan",), False)}
    # Spread over two /64s at half the threshold each: two sources, neither a scan.
    halves = _v6_scan("2a0d:5600:24:7", 16, rotate=True) + _v6_scan("2a0d:5600:24:8", 16, rotate=True)
    assert analyze([halves], MemoryFlowState(), now=W + 120, networks=NETWORKS).offenders == ()


def test_an_ipv6_offender_says_it_is_counted_and_blocked_per_slash_64() -> None:
    found = analyze([_v6_scan("2a0d:5600:24:7", 200, rotate=True)], MemoryFlowState(), now=W + 120, networks=NETWORKS)
    (offender,) = found.offenders
    assert any("counted per /64" in reason for reason in offender.reasons)
