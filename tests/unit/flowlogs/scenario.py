"""A synthetic VPC under normal traffic and attack, as flow-log lines and CloudWatch Logs subscription payloads.

Reusable by the handler and CLI tests and by the bench: ``build()`` returns the batches (one per window and
interface, as CloudWatch Logs delivers one log stream per event) and what must be detected; ``subscription_event``
wraps messages the way CloudWatch Logs hands them to a Lambda (``{"awslogs": {"data": base64(gzip(json))}}``).

The VPC is 10.0.0.0/16 with a global IPv6 block; web servers, a bastion, app servers and a database. Every
window has ~200 regular clients (some over IPv6), the web servers' replies, app-to-database traffic and the
database's replies, a partner, a low-and-slow prober, background noise, NODATA/SKIPDATA and a few garbage
lines. In the attack window come a port scanner, a packet flood, an SSH brute forcer, an internal scanner, a
flash crowd of 300 new clients, and the partner spiking. Attackers use globally routable addresses, never
documentation ranges (which are not global and would be classified internal).
"""

from __future__ import annotations

import base64
import gzip
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riposte.flowlogs.parse import DEFAULT, FlowFormat

ACCOUNT = "123456789012"
VPC_V4 = "10.0.0.0/16"
VPC_V6 = "2600:1f18:4a3:6b00::/56"
T0 = 1_764_403_200  # 2025-11-29 08:00 UTC, a minute boundary

SCANNER = "45.13.105.20"
FLOOD = "91.240.118.50"
BRUTE = "185.156.73.54"
SLOW = "193.32.162.9"
PARTNER = "34.120.15.7"  # in the partner's 34.120.0.0/16, allowlisted centrally: detected here all the same
INTERNAL_SCANNER = "10.0.5.23"

WEB = {"10.0.1.10": "eni-0a0b0c0d0e0f10010", "10.0.1.11": "eni-0a0b0c0d0e0f10011", "10.0.1.12": "eni-0a0b0c0d0e0f10012"}
WEB_V6 = {"2600:1f18:4a3:6b01::10": "eni-0a0b0c0d0e0f10010"}
BASTION = {"10.0.0.5": "eni-0a0b0c0d0e0f10005"}
APP = {f"10.0.2.{i}": f"eni-0a0b0c0d0e0f1002{i - 10}" for i in range(10, 14)}
DB = {"10.0.3.5": "eni-0a0b0c0d0e0f10035"}
HOSTS = {**WEB, **WEB_V6, **BASTION, **APP, **DB}

# First octets of busy, globally routable IPv4 space (none of them private, shared, reserved or documentation).
_PUBLIC_FIRST = (5, 23, 31, 37, 46, 62, 77, 78, 80, 81, 82, 83, 84, 86, 87, 88, 89, 90, 92, 94, 95, 109, 176, 178)


@dataclass(frozen=True, slots=True)
class Batch:
    window: int
    interface: str  # the log stream: flow logs write one stream per interface
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    fmt: FlowFormat
    windows: tuple[int, ...]
    onset: int  # the attack window
    batches: tuple[Batch, ...]
    # ip -> detectors that must fire in the onset window; internal sources flagged separately
    offenders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    internal: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # what the counters must show for the junk lines the scenario mixes in
    nodata: int = 0
    skipdata: int = 0
    missing: int = 0
    garbage: int = 0

    def invocations(self, parts: int) -> list[list[tuple[str, ...]]]:
        """The batches dealt to ``parts`` invocations, in time order; each window's streams are split across
        invocations and the busiest stream of the onset window is cut in two, so that no invocation sees a
        whole window and some sources are counted by two invocations in the same window."""
        out: list[list[tuple[str, ...]]] = []
        for window in self.windows:
            batches = [b for b in self.batches if b.window == window]
            dealt: list[list[tuple[str, ...]]] = [[] for _ in range(parts)]
            for i, batch in enumerate(batches):
                if window == self.onset and len(batch.lines) == max(len(b.lines) for b in batches):
                    half = len(batch.lines) // 2
                    dealt[i % parts].append(batch.lines[:half])
                    dealt[(i + 1) % parts].append(batch.lines[half:])
                else:
                    dealt[i % parts].append(batch.lines)
            out.extend(d for d in dealt if d)
        return out


_DEFAULTS = {
    "version": "2",
    "account-id": ACCOUNT,
    "vpc-id": "vpc-0a1b2c3d4e5f60718",
    "subnet-id": "subnet-0123456789abcdef0",
    "instance-id": "-",
    "tcp-flags": "2",
    "region": "us-east-1",
    "az-id": "use1-az1",
    "flow-direction": "ingress",
    "log-status": "OK",
}


def render(record: dict[str, Any], fmt: FlowFormat = DEFAULT) -> str:
    """One record as a line of ``fmt``: fields it does not give are filled plausibly or with ``-``."""
    values = []
    for name in fmt.fields:
        if name in record:
            value = record[name]
        elif name == "pkt-srcaddr":
            value = record.get("srcaddr", "-")
        elif name == "pkt-dstaddr":
            value = record.get("dstaddr", "-")
        elif name == "type":
            value = "IPv6" if ":" in str(record.get("srcaddr", "")) else "IPv4"
        else:
            value = _DEFAULTS.get(name, "-")
        values.append(str(value))
    return " ".join(values)


def public_ipv4(rng: random.Random) -> str:
    return f"{rng.choice(_PUBLIC_FIRST)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def public_ipv6(rng: random.Random) -> str:
    return f"2a02:{rng.randrange(0x1000, 0xFFFF):x}:{rng.randrange(0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"


class _Window:
    """Collects one window's records per interface."""

    def __init__(self, start: int, rng: random.Random) -> None:
        self.start, self.rng = start, rng
        self.records: dict[str, list[dict[str, Any]]] = {}

    def flow(
        self,
        src: str,
        dst: str,
        dport: int,
        packets: int,
        *,
        proto: int = 6,
        action: str = "ACCEPT",
        sport: int | None = None,
        nbytes: int | None = None,
        direction: str = "ingress",
        interface: str | None = None,
        **extra: Any,
    ) -> None:
        rng = self.rng
        begin = self.start + rng.randrange(60)
        record = {
            "interface-id": interface or HOSTS[dst if direction == "ingress" else src],
            "srcaddr": src,
            "dstaddr": dst,
            "srcport": sport if sport is not None else rng.randrange(32768, 61000),
            "dstport": dport,
            "protocol": proto,
            "packets": packets,
            "bytes": nbytes if nbytes is not None else packets * rng.randrange(60, 1400),
            "start": begin,
            "end": begin + rng.randrange(1, 60),
            "action": action,
            "flow-direction": direction,
            **extra,
        }
        self.records.setdefault(record["interface-id"], []).append(record)

    def served(self, client: str, server: str, port: int, packets: int) -> None:
        """A client's request and the server's reply (which is ours and goes out: never counted)."""
        self.flow(client, server, port, packets)
        reply = max(1, packets * 3 // 2)
        self.flow(server, client, self.rng.randrange(32768, 61000), reply, sport=port, direction="egress")


def _regular(w: _Window, clients: Sequence[str], partner_scale: int) -> None:
    rng = w.rng
    webs = list(WEB)
    for client in clients:
        if rng.random() < 0.2:  # not everyone comes every minute
            continue
        server = next(iter(WEB_V6)) if ":" in client else rng.choice(webs)
        for _ in range(rng.randrange(2, 16)):
            w.served(client, server, rng.choice((443, 443, 443, 80)), rng.randrange(5, 60))
    for _ in range(60):  # the partner's API calls; partner_scale x as many packets in the spike
        w.served(PARTNER, rng.choice(webs), 443, rng.randrange(200, 300) * partner_scale)
    for app in APP:  # pooled database connections: long flows, so not "short" admin-port flows
        for _ in range(10):
            w.flow(app, "10.0.3.5", 5432, rng.randrange(100, 400))
            w.flow("10.0.3.5", app, rng.randrange(32768, 61000), rng.randrange(100, 400), sport=5432)
    for port in rng.sample((8080, 8443, 3306, 22, 5900, 9200, 6379, 23), 3):  # low and slow, every minute
        w.flow(SLOW, rng.choice(webs), port, 1, action="REJECT", nbytes=44)
    for _ in range(25):  # internet background noise: one probe each
        w.flow(public_ipv4(rng), rng.choice(webs), rng.choice((23, 445, 3389, 8080)), 1, action="REJECT", nbytes=40)


def _attack(w: _Window) -> None:
    rng = w.rng
    for port in rng.sample(range(1, 1025), 600):  # SYN scan of two web servers: mostly closed ports
        target = rng.choice(("10.0.1.10", "10.0.1.11"))
        w.flow(SCANNER, target, port, 1, action="ACCEPT" if port in (80, 443) else "REJECT", nbytes=44)
    for _ in range(40):  # UDP flood: few flows, huge packet counts, rejected by the security group
        packets = rng.randrange(9000, 11000)
        w.flow(FLOOD, "10.0.1.10", 443, packets, proto=17, action="REJECT", nbytes=packets * 60)
    for _ in range(150):  # SSH password guessing against the bastion: short connections
        w.flow(BRUTE, "10.0.0.5", 22, rng.randrange(12, 26))
    for port in range(1, 401):  # a compromised internal host scanning the app tier
        w.flow(INTERNAL_SCANNER, rng.choice(list(APP)), port, 1, action="REJECT", nbytes=44)
    webs = list(WEB)
    for _ in range(300):  # a flash crowd: many new clients, each modest
        client = public_ipv4(rng)
        for _ in range(rng.randrange(2, 7)):
            w.served(client, rng.choice(webs), 443, rng.randrange(10, 40))


def build(*, seed: int = 7, fmt: FlowFormat = DEFAULT, baseline_windows: int = 5) -> Scenario:
    rng = random.Random(seed)
    clients = [public_ipv4(rng) for _ in range(185)] + [public_ipv6(rng) for _ in range(15)]
    windows = tuple(T0 + 60 * i for i in range(baseline_windows + 1))
    onset = windows[-1]
    batches = []
    nodata = skipdata = missing = garbage = 0
    for window in windows:
        w = _Window(window, rng)
        attacking = window == onset
        _regular(w, clients, partner_scale=30 if attacking else 1)
        if attacking:
            _attack(w)
        for interface, records in sorted(w.records.items()):
            records.sort(key=lambda r: r["start"])
            lines = [render(r, fmt) for r in records]
            batches.append(Batch(window, interface, tuple(lines)))
        # An idle interface, a capacity hiccup, a record without its source, and junk: counted, never fatal.
        idle = {"interface-id": "eni-0a0b0c0d0e0f1ffff", "start": window, "end": window + 59, "log-status": "NODATA"}
        skipped = {**idle, "log-status": "SKIPDATA"}
        sourceless = {**idle, "log-status": "OK", "srcaddr": "-", "dstaddr": "10.0.1.10", "dstport": 443}
        sourceless.update({"packets": 3, "bytes": 180, "action": "ACCEPT", "srcport": 40000, "protocol": 6})
        junk = ["", "not a flow record", render({**sourceless, "srcaddr": "81.2.69.160", "packets": "lots"}, fmt)]
        lines = (render(idle, fmt), render(skipped, fmt), render(sourceless, fmt), *junk)
        batches.append(Batch(window, "eni-0a0b0c0d0e0f1ffff", lines))
        nodata, skipdata, missing, garbage = nodata + 1, skipdata + 1, missing + 1, garbage + len(junk)
    return Scenario(
        fmt=fmt,
        windows=windows,
        onset=onset,
        batches=tuple(batches),
        offenders={SCANNER: ("port_scan",), FLOOD: ("volume",), BRUTE: ("brute_force",), PARTNER: ("volume",)},
        internal={INTERNAL_SCANNER: ("port_scan",)},
        nodata=nodata,
        skipdata=skipdata,
        missing=missing,
        garbage=garbage,
    )


def traffic(records: int, *, seed: int = 11, fmt: FlowFormat = DEFAULT) -> list[str]:
    """About ``records`` lines of one busy minute (regular clients, replies, the attacks), for benchmarks."""
    rng = random.Random(seed)
    w = _Window(T0, rng)
    clients = [public_ipv4(rng) for _ in range(max(50, records // 20))]
    _attack(w)
    while sum(map(len, w.records.values())) < records:
        _regular(w, clients, partner_scale=1)
    lines = [render(r, fmt) for rs in w.records.values() for r in rs]
    rng.shuffle(lines)
    return lines[:records]


def _event_ids(first: int, count: int) -> Iterator[str]:
    # CloudWatch Logs event ids are 56-digit strings; these are deterministic stand-ins.
    for i in range(count):
        yield f"{first + i:056d}"


def subscription_payload(
    messages: Sequence[str],
    *,
    log_group: str = "/riposte/flowlogs",
    log_stream: str = "eni-0a0b0c0d0e0f10010-all",
    owner: str = ACCOUNT,
    timestamp_ms: int = T0 * 1000,
    first_id: int = 1,
    message_type: str = "DATA_MESSAGE",
) -> dict[str, Any]:
    """The decoded JSON CloudWatch Logs sends to a subscription (before gzip and base64)."""
    return {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["riposte-flowlogs"],
        "logEvents": [
            {"id": event_id, "timestamp": timestamp_ms, "message": message}
            for event_id, message in zip(_event_ids(first_id, len(messages)), messages, strict=True)
        ],
    }


def encode(payload: dict[str, Any]) -> str:
    return base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()


def subscription_event(messages: Sequence[str], **options: Any) -> dict[str, Any]:
    """A Lambda event from a CloudWatch Logs subscription: ``{"awslogs": {"data": base64(gzip(json))}}``."""
    return {"awslogs": {"data": encode(subscription_payload(messages, **options))}}


def control_event() -> dict[str, Any]:
    """The CONTROL_MESSAGE CloudWatch Logs sends to check that a destination is reachable."""
    payload = subscription_payload(
        ["CWL CONTROL MESSAGE: Checking health of destination Firehose."],
        log_group="",
        log_stream="",
        message_type="CONTROL_MESSAGE",
    )
    payload["subscriptionFilters"] = []
    return {"awslogs": {"data": encode(payload)}}


def decode_event(event: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    return decoded


def write_payloads(scenario: Scenario, directory: Path) -> list[Path]:
    """One subscription event file per batch, named so that reading them in name order replays the scenario."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    next_id = 1
    for i, batch in enumerate(scenario.batches):
        event = subscription_event(
            batch.lines,
            log_stream=f"{batch.interface}-all",
            timestamp_ms=(batch.window + 90) * 1000,
            first_id=next_id,
        )
        next_id += len(batch.lines)
        path = directory / f"{i:04d}-{batch.window}-{batch.interface}.json"
        path.write_text(json.dumps(event))
        paths.append(path)
    return paths
