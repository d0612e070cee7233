"""VPC Flow Logs records: the format string, a strict decoder for people, and a lean tally loop for machines.

A flow-log record is one line of space-separated values, in the order of the flow log's format string
(``${version} ${account-id} ...``); a field that does not apply or could not be computed is ``-``. The default
format is the fourteen version-2 fields. ``log-status`` is ``OK``, ``NODATA`` (no traffic on the interface in
the aggregation interval) or ``SKIPDATA`` (records were skipped, e.g. capacity); the last two carry ``-`` in
most fields.

Two readers, on purpose:

- ``decode`` turns one line into a dict for the ``riposte flowlogs`` command: every field, checked (numbers
  in range, addresses parsed), ``-`` as None, and a ``Skipped`` with the reason instead of an exception.
- ``tally_lines`` is the hot path of the flow-log Lambda: it reads a batch straight into per-window, per-source
  counters and never builds a per-record object. See its docstring for why it is written the way it is.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import repeat
from typing import Any

WINDOW_SECONDS = 60

# Admin and database ports, where many short flows from one source mean password guessing.
ADMIN_PORTS = frozenset({22, 23, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5900, 6379, 9200, 27017})

_INT32 = 2**31 - 1
_INT64 = 2**63 - 1

# Every field a flow log can carry: name -> (kind, largest value for numbers). Kinds: "int", "addr", "str".
# Versions 2 (the default fields), 3 (vpc-id .. pkt-dstaddr), 4 (region .. sublocation-id),
# 5 (pkt-src-aws-service .. traffic-path), 7 (ecs-*), 8 (reject-reason), and the later resource-id and
# encryption-status (VPC Encryption Controls: 0-3). Ranges follow the documented Parquet types (INT_32 /
# INT_64) and the protocol's own limits (ports 16 bits, protocol 8 bits).
FIELDS: dict[str, tuple[str, int]] = {
    "version": ("int", _INT32),
    "account-id": ("str", 0),  # may be "unknown" for interfaces created by AWS services
    "interface-id": ("str", 0),
    "srcaddr": ("addr", 0),
    "dstaddr": ("addr", 0),
    "srcport": ("int", 65535),
    "dstport": ("int", 65535),
    "protocol": ("int", 255),
    "packets": ("int", _INT64),
    "bytes": ("int", _INT64),
    "start": ("int", _INT64),
    "end": ("int", _INT64),
    "action": ("str", 0),  # ACCEPT | REJECT
    "log-status": ("str", 0),  # OK | NODATA | SKIPDATA
    "vpc-id": ("str", 0),
    "subnet-id": ("str", 0),
    "instance-id": ("str", 0),
    "tcp-flags": ("int", 255),  # OR of FIN 1, SYN 2, RST 4, SYN-ACK 18 over the interval
    "type": ("str", 0),  # IPv4 | IPv6 | EFA
    "pkt-srcaddr": ("addr", 0),
    "pkt-dstaddr": ("addr", 0),
    "region": ("str", 0),
    "az-id": ("str", 0),
    "sublocation-type": ("str", 0),
    "sublocation-id": ("str", 0),
    "pkt-src-aws-service": ("str", 0),
    "pkt-dst-aws-service": ("str", 0),
    "flow-direction": ("str", 0),  # ingress | egress, relative to the interface
    "traffic-path": ("int", _INT32),
    "ecs-cluster-arn": ("str", 0),
    "ecs-cluster-name": ("str", 0),
    "ecs-container-instance-arn": ("str", 0),
    "ecs-container-instance-id": ("str", 0),
    "ecs-container-id": ("str", 0),
    "ecs-second-container-id": ("str", 0),
    "ecs-service-name": ("str", 0),
    "ecs-task-definition-arn": ("str", 0),
    "ecs-task-arn": ("str", 0),
    "ecs-task-id": ("str", 0),
    "reject-reason": ("str", 0),
    "resource-id": ("str", 0),
    "encryption-status": ("int", 3),
}

DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol}"
    " ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)

# What the detectors cannot do without. The rest (action, interface-id, flow-direction, pkt-srcaddr,
# log-status) is used when the format has it.
REQUIRED_FOR_TALLY = ("srcaddr", "dstaddr", "dstport", "packets", "bytes", "start")

_TOKEN = re.compile(r"\$\{([a-z0-9-]+)\}")


@dataclass(frozen=True, slots=True)
class FlowFormat:
    """A compiled format string: the fields in column order."""

    text: str
    fields: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.fields)

    @property
    def numeric(self) -> frozenset[str]:
        return frozenset(name for name in self.fields if FIELDS[name][0] == "int")

    def index(self, name: str) -> int | None:
        """The column of ``name``, or None when the format does not carry it."""
        try:
            return self.fields.index(name)
        except ValueError:
            return None

    def __contains__(self, name: object) -> bool:
        return name in self.fields


def parse_format(text: str) -> FlowFormat:
    """Compile a flow log format string; ValueError names the unknown or duplicate field or the bad token."""
    tokens = text.split()
    if not tokens:
        raise ValueError("flow log format is empty: expected fields such as ${srcaddr} ${dstaddr}")
    names: list[str] = []
    for position, token in enumerate(tokens, 1):
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise ValueError(f"flow log format: token {position} {token!r} is not of the form ${{field-name}}")
        name = match.group(1)
        if name not in FIELDS:
            raise ValueError(f"flow log format: unknown field {name!r} (token {position}); known: {', '.join(FIELDS)}")
        if name in names:
            raise ValueError(f"flow log format: duplicate field {name!r} (token {position})")
        names.append(name)
    return FlowFormat(text=" ".join(tokens), fields=tuple(names))


DEFAULT = parse_format(DEFAULT_FORMAT)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line that is not a flow record of the format, and why."""

    reason: str


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def decode(line: str, fmt: FlowFormat = DEFAULT) -> dict[str, str | int | None] | Skipped:
    """One record as a dict keyed like the format (``-`` in names becomes ``_``), or ``Skipped(reason)``.

    ``-`` values are None, numeric fields are ints checked against their range, addresses must be IPv4 or
    IPv6. This is the careful reader for people checking a format; it never raises on input.
    """
    values = line.split()
    if not values:
        return Skipped("empty line")
    if len(values) != fmt.width:
        return Skipped(f"expected {fmt.width} fields for the format, got {len(values)}")
    record: dict[str, str | int | None] = {}
    for name, value in zip(fmt.fields, values, strict=True):
        key = name.replace("-", "_")
        if value == "-":
            record[key] = None
            continue
        kind, largest = FIELDS[name]
        if kind == "int":
            # isascii+isdigit: int() would also take "+1", "1_0" and other scripts' digits.
            if not (value.isascii() and value.isdigit()) or int(value) > largest:
                return Skipped(f"{name}: {_shown(value)} is not a number in 0..{largest}")
            record[key] = int(value)
        elif kind == "addr":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                return Skipped(f"{name}: {_shown(value)} is not an IPv4 or IPv6 address")
            record[key] = value
        else:
            record[key] = value
    return record


@dataclass(slots=True)
class Counters:
    """What happened to the lines of an analysis; every line lands in exactly one of the first eight."""

    tallied: int = 0  # inbound flow records counted for their source
    not_inbound: int = 0  # egress, or to an address that is not ours (our hosts' replies, transit)
    replies: int = 0  # a remote server's answers to a connection our host opened (see ``is_reply``)
    nodata: int = 0  # log-status NODATA: no traffic on the interface in the interval
    skipdata: int = 0  # log-status SKIPDATA: AWS skipped records in the interval
    missing: int = 0  # "-" in a field the detectors need (srcaddr, packets, ...) of an OK record
    malformed: int = 0  # wrong field count, not a number, out of range, not an address
    stale: int = 0  # records of a window too far from `now` to act on
    # Bookkeeping of the bounded aggregation and the state writes (see window.py and state.py).
    windows: int = 0
    sources_seen: int = 0  # (chunk, window, source) parts; a source split across chunks counts per part
    sources_dropped: int = 0  # evicted by the heavy-hitter bound before the end of the invocation
    candidates: int = 0  # sources written to the state
    writes: int = 0  # state writes made by this analysis

    @property
    def lines(self) -> int:
        kinds = (self.tallied, self.not_inbound, self.replies, self.nodata, self.skipdata, self.missing)
        return sum(kinds) + self.malformed + self.stale

    def as_dict(self) -> dict[str, int]:
        out = {name: getattr(self, name) for name in self.__slots__}
        out["lines"] = self.lines
        return out


# The per-source tally the hot loop builds, as one plain list for speed (attribute access on an object costs
# about twice an index) and memory: the sets are only made when a source has a rejected or a short admin-port
# flow, and the last three slots are filled by window.py, so that a new source costs one allocation. The
# loop indexes with the literal numbers: a module constant is a global lookup per use.
FLOWS, PACKETS, BYTES, REJECTS, PORTS, HOSTS, ADMIN_SHORT, ENIS, FIRST_HOST, FIRST_ENI = range(10)
RANK_FLOWS, RANK_PACKETS, RANK_SUSPECT, KIND = 10, 11, 12, 13
RawTally = list[Any]
# [flows, packets, bytes, rejected flows, ports: set[str] | None (of rejected and short admin-port flows),
#  hosts: set[str] | None (of rejected flows), short admin-port flows, enis: set[str] | None (of rejected
#  flows; "<eni> <subnet>" when the format has subnet-id), first host, first interface (likewise),
#  (window.py:) ranking counts by flows, packets and suspect flows, source kind]

# Address classification used by the loop for destinations (and by window.py for sources).
INTERNAL, EXTERNAL, INVALID = 1, 0, -1

# Linux's first ephemeral port (net.ipv4.ip_local_port_range); Windows and macOS start at 49152.
EPHEMERAL = 32768
_SYN, _SYN_ACK = 2, 16  # tcp-flags bits: SYN alone opens a connection; the 16 only comes with a SYN-ACK
_LOW_PORTS = frozenset(str(port) for port in range(1024))
# Servers on registered ports that hosts in a VPC call out to (brokers, databases, caches, search, alternative
# HTTPS, Kubernetes API, LDAPS/Global Catalog...): their answers reach a NAT gateway, which picks its ports
# anywhere in 1024-65535, on ports below the ephemeral range.
SERVICE_PORTS = frozenset(
    {1194, 1433, 1521, 2049, 2181, 2379, 3268, 3269, 3306, 4222, 4500, 5432, 5671, 5672, 6379, 6443, 7000, 7001}
    | {8020, 8080, 8443, 8883, 9000, 9042, 9092, 9093, 9094, 9200, 9243, 9300, 9418, 11211, 15672, 27017, 27018}
    | {50070, 51820}  # OpenVPN 1194, IPsec NAT-T 4500 and WireGuard 51820: VPN servers our hosts connect to
)
# UDP ports that reflection/amplification floods come from (DNS, NTP, SNMP, SSDP, memcached, CLDAP, chargen,
# QOTD, portmap, NetBIOS, mDNS, WS-Discovery, ARMS, CoAP...). An answer from one of them to a question
# of ours is a packet or two per flow; more than AMPLIFIER_PACKETS in a flow is a flood whatever port it hits.
AMPLIFIERS = frozenset({17, 19, 53, 69, 111, 123, 137, 161, 389, 1900, 3283, 3702, 5353, 5683, 11211})
AMPLIFIER_PACKETS = 100


def is_reply(  # noqa: PLR0911 - one return per rule, in the docstring's order
    srcport: str,
    dstport: str,
    protocol: str,
    tcp_flags: str,
    packets: str = "1",
    *,
    services: frozenset[int] = SERVICE_PORTS,
) -> bool:
    """Whether an accepted inbound record is a remote server's answer to a connection our host opened.

    A flow log has one record per direction, so a download by one of our hosts (its request to a CDN's port
    443) brings an inbound record from the CDN: 100 MB of "volume", and one "flow" per connection to an API
    that our hosts call all day. Counting those would block the CDN. Only accepted records are asked: a
    security group is stateful and lets answers in on ports it does not open, so an accepted record to one of
    our high ports is almost always an answer; a reflection flood or a SYN-ACK flood that no connection of
    ours asked for is rejected, and stays counted. In order:

    - A destination port that is an admin port (3389, 5432...) is never taken for ours, whatever the flags
      say (flags are ORed over the interval: a SYN and a forged SYN-ACK read as a SYN-ACK): password guessing
      must still be seen, from any source port.
    - TCP with ``tcp-flags`` in the format: a SYN without a SYN-ACK says the remote opened the connection,
      whatever the ports; a SYN-ACK from the remote to one of our ephemeral ports says we did. Most intervals
      of a long connection carry neither (0, FIN, RST), and then the ports decide.
    - The ports: the remote's port is a service port and ours is not, i.e. theirs below 1024 and ours 1024 or
      above, or theirs a server port (``services``: registered ones, and ``flowlogs.service_ports``; a NAT
      gateway's ports start at 1024) and ours another above 1023; for TCP also theirs below the ephemeral
      range and ours in it. UDP is held tighter: any port below 32768 can be a flood's source port, and UDP
      from an amplifier's port (``AMPLIFIERS``) with more than ``AMPLIFIER_PACKETS`` packets in the record is a
      reflection flood even where an open port lets it in. What this cannot tell: an attacker sending from a
      service port to a service of ours on a high port, accepted, without a SYN in the interval.
    """
    if protocol not in ("6", "17", ""):  # "": the format has no protocol; the ports say what they can
        return False
    ports = srcport + dstport
    if not (ports.isascii() and srcport.isdigit() and dstport.isdigit() and len(ports) <= 10):
        return False
    theirs, ours = int(srcport), int(dstport)
    if ours in ADMIN_PORTS or ours > 65535:
        return False
    if protocol == "6" and tcp_flags != "-":
        bits = int(tcp_flags) if tcp_flags.isascii() and tcp_flags.isdigit() and len(tcp_flags) < 4 else 0
        if bits & _SYN and not bits & _SYN_ACK:
            return False
        if bits & _SYN_ACK and ours >= EPHEMERAL:
            return True
    served = theirs < 1024 <= ours or (theirs in services and 1024 <= ours != theirs)
    if protocol == "17":
        flood = theirs in AMPLIFIERS and not (packets.isdigit() and int(packets) <= AMPLIFIER_PACKETS)
        return served and not flood
    return served or theirs < EPHEMERAL <= ours


@dataclass(frozen=True, slots=True)
class TallyPlan:
    """Where the loop finds what it needs in a format, checked once per batch rather than per line."""

    fmt: FlowFormat
    short_packets: int  # a flow to an admin port with at most this many packets is "short"
    port_cap: int  # stop collecting distinct ports/hosts/interfaces of a source past these
    host_cap: int
    eni_cap: int

    def __post_init__(self) -> None:
        absent = [name for name in REQUIRED_FOR_TALLY if name not in self.fmt]
        if absent:
            raise ValueError(f"flow log format lacks fields the detectors need: {', '.join(absent)}")

    def column(self, name: str) -> int:
        found = self.fmt.index(name)
        return -1 if found is None else found


def tally_lines(  # noqa: PLR0912, PLR0915 - one loop on purpose, see the docstring
    lines: Collection[str],
    plan: TallyPlan,
    classify: Callable[[str], int],
    counters: Counters,
    known: dict[str, int] | None = None,
    *,
    source_key: Callable[[str], str] | None = None,
    services: frozenset[int] = SERVICE_PORTS,
) -> dict[int, dict[str, RawTally]]:
    """Count inbound flow records per window start and source address: ``{window: {source: RawTally}}``.

    Inbound means the destination is ours (``classify(dstaddr) == INTERNAL``: private, or in our own
    networks) and, when the format has ``flow-direction``, the record is ``ingress``; the source is
    ``pkt-srcaddr`` when present (the client behind a NAT or load balancer), else ``srcaddr``. Lines that
    are not inbound flow records are counted in ``counters`` by kind; nothing raises. ``known`` is the
    classifier's own memo (address -> classification), read directly to spare a call per line. ``source_key``
    names an IPv6 source for counting (``Networks.source_key``: its /64); IPv4 sources are counted as they are.
    ``services`` are the remote server ports whose answers are replies (``is_reply``).

    Why it is hand-written like this: it runs once per record and everything else in the Lambda is small
    beside it. ``make bench`` (bench/bench_flowlogs.py), on the shared 2-core development VM (2026-11-29,
    best of 20 interleaved rounds, 27k-record payload): decoding the payload ~1.9 us/record, a naive
    split-and-count loop ~0.65, ``analyze`` with this loop ~1.4 (2.2x the naive loop); the whole core is then
    ~1.3x the naive handler and the Lambda handler ~1.2x (it decodes on a faster path of its own; README
    "Measured"). The obvious way, a dict per record then aggregated, is ~5x the naive
    loop before doing half of this, and ``decode`` ~27x. What keeps it lean: one ``str.split(" ")`` per line
    through ``map`` (records are single-spaced; a line of another width is split again on any whitespace),
    columns bound to locals, the destination checked first (through the classifier's memo) so that replies
    and other outbound records cost a split and one lookup, the window found through a cache keyed by the
    raw ``start`` text, ints parsed for packets (through a memo: counts repeat) and bytes only, ports and
    hosts collected from rejected flows only and the admin-port lookup made for short flows only, one list
    per new source (sets only when needed), no object per record, and errors off the fast path (a failed
    int() sends the line to a list classified once at the end). What is left is mostly ``str.split`` and
    ``int()``, both in C: at ~0.2 us per int() here, parsing bytes alone costs a third of a naive record.
    """
    width = plan.fmt.width
    i_src, i_dst, i_port = plan.column("srcaddr"), plan.column("dstaddr"), plan.column("dstport")
    i_packets, i_bytes, i_start = plan.column("packets"), plan.column("bytes"), plan.column("start")
    i_pkt_src, i_act, i_dir, i_eni = (
        plan.column("pkt-srcaddr"),
        plan.column("action"),
        plan.column("flow-direction"),
        plan.column("interface-id"),
    )
    has_pkt_src, has_act, has_dir, has_eni = i_pkt_src >= 0, i_act >= 0, i_dir >= 0, i_eni >= 0
    # With subnet-id in the format, an interface is kept as "<eni> <subnet>" (see window.py: block_ip's subnet
    # scope needs the subnets); only where an interface is kept at all, never per accepted flow.
    i_subnet = plan.column("subnet-id")
    has_subnet = i_subnet >= 0
    short, port_cap, host_cap, eni_cap = plan.short_packets, plan.port_cap, plan.host_cap, plan.eni_cap
    # Replies (``is_reply``) are told apart only where the format says what was accepted and from which port.
    i_sport, i_proto, i_flags = plan.column("srcport"), plan.column("protocol"), plan.column("tcp-flags")
    answers = has_act and i_sport >= 0
    low_ports = _LOW_PORTS
    key_of = source_key
    admin = frozenset(str(port) for port in ADMIN_PORTS)

    out: dict[int, dict[str, RawTally]] = {}
    by_start: dict[str, dict[str, RawTally]] = {}  # raw `start` text -> its window's dict
    window_of = by_start.get
    kinds: dict[str, int] = {} if known is None else known  # destination -> classification
    kind_of = kinds.get
    failed: list[list[str]] = []  # lines to classify after the loop (NODATA, "-", garbage)
    strings: dict[str, str] = {}
    shared = strings.setdefault
    malformed = not_inbound = replies = 0
    numbers: dict[str, int] = {}
    number = numbers.get
    size, integer = len, int  # locals: a builtin is a global lookup per use

    # Records are written with single spaces: splitting on " " is ~15% faster than on any whitespace. A line
    # that then has the wrong width is split again on any whitespace, so both read the same lines.
    for f in map(str.split, lines, repeat(" ")):
        if size(f) != width:
            f = " ".join(f).split()  # noqa: PLW2901 - the same line, split the tolerant way
            if size(f) != width:
                malformed += 1
                continue
        dst = f[i_dst]
        kind = kind_of(dst)
        if kind is None:
            kind = kinds[dst] = classify(dst)
        if kind != 1 or (has_dir and f[i_dir] == "egress"):  # 1: INTERNAL, a literal to spare a global lookup
            if kind == -1:  # INVALID: "-" (NODATA, SKIPDATA) or garbage, sorted out after the loop
                failed.append(f)
            else:
                not_inbound += 1
            continue
        # To one of our low ports it is a request; only the rest may be an answer (one set lookup for most).
        if (
            answers
            and f[i_port] not in low_ports
            and f[i_act] == "ACCEPT"
            and is_reply(
                f[i_sport],
                f[i_port],
                f[i_proto] if i_proto >= 0 else "",
                f[i_flags] if i_flags >= 0 else "-",
                f[i_packets],
                services=services,
            )
        ):
            replies += 1
            continue
        windowed = window_of(f[i_start])
        if windowed is None:
            windowed = _window(f[i_start], out, by_start)
            if windowed is None:
                failed.append(f)
                continue
        # Packet counts repeat (1, 2, 3... per flow): a memo spares most int() calls, the dearest step left.
        packets = number(f[i_packets])
        try:
            if packets is None:
                packets = numbers[f[i_packets]] = integer(f[i_packets])
            nbytes = integer(f[i_bytes])
        except ValueError:
            failed.append(f)
            continue
        # One test for both: negative, or 2**62 and more (no interface moves that in a minute) is garbage.
        if (packets | nbytes) >> 62:
            malformed += 1
            continue
        src = f[i_src]
        if has_pkt_src and f[i_pkt_src] != "-":
            src = f[i_pkt_src]
        if ":" in src and key_of is not None:
            src = key_of(src)
        tally = windowed.get(src)
        if tally is None:
            eni = f[i_eni] if has_eni else "-"
            if has_subnet:
                eni = f"{eni} {f[i_subnet]}"
            # setdefault: one string object per address or interface, however many sources name it.
            tally = windowed[src] = [
                1, packets, nbytes, 0, None, None, 0, None, shared(dst, dst), shared(eni, eni), 0, 0, 0, 0
            ]  # fmt: skip
        else:
            tally[0] += 1
            tally[1] += packets
            tally[2] += nbytes
        # Distinct ports and hosts are collected from rejected flows only: that is what a scan is made of,
        # and it spares two set operations on every accepted flow.
        if has_act and f[i_act] == "REJECT":
            tally[3] += 1
            ports = tally[4]
            if ports is None:
                ports = tally[4] = set()
            if len(ports) < port_cap:
                ports.add(f[i_port])
            hosts = tally[5]
            if hosts is None:
                hosts = tally[5] = set()
                tally[7] = set()
            if dst not in hosts and len(hosts) < host_cap:
                hosts.add(dst)
                if has_eni and len(tally[7]) < eni_cap:
                    tally[7].add(f"{f[i_eni]} {f[i_subnet]}" if has_subnet else f[i_eni])
        # Only short flows can be password guesses: long ones skip the port lookup.
        if packets <= short and f[i_port] in admin:
            tally[6] += 1
            ports = tally[4]
            if ports is None:
                ports = tally[4] = set()
            if len(ports) < port_cap:
                ports.add(f[i_port])

    # Every line is malformed, not inbound, a reply, failed (classified below) or tallied.
    counters.tallied += size(lines) - malformed - not_inbound - replies - size(failed)
    counters.malformed += malformed
    counters.not_inbound += not_inbound
    counters.replies += replies
    if failed:
        _classify_failed(failed, plan, counters)
    return out


def _window(
    start: str, out: dict[int, dict[str, RawTally]], by_start: dict[str, dict[str, RawTally]]
) -> dict[str, RawTally] | None:
    if not (start.isascii() and start.isdigit()) or len(start) > 18:
        return None
    seconds = int(start)
    windowed = out.setdefault(seconds - seconds % WINDOW_SECONDS, {})
    if len(by_start) > 65536:  # a batch spans minutes, not days; keep the cache small whatever the input
        by_start.clear()
    by_start[start] = windowed
    return windowed


def _classify_failed(failed: list[list[str]], plan: TallyPlan, counters: Counters) -> None:
    """Sort the lines the loop could not count into NODATA, SKIPDATA, "-" in a needed field, or malformed."""
    i_status = plan.column("log-status")
    needed = [plan.column(name) for name in REQUIRED_FOR_TALLY]
    for f in failed:
        status = f[i_status] if i_status >= 0 else "OK"
        if status == "NODATA":
            counters.nodata += 1
        elif status == "SKIPDATA":
            counters.skipdata += 1
        elif any(f[i] == "-" for i in needed):
            counters.missing += 1
        else:
            counters.malformed += 1
