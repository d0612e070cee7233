"""VPC flow logs as a source: the ``[flowlogs]`` configuration checked, and each offender the detectors report
(``riposte.flowlogs.Offender``) mapped to one ``SecurityEvent``.

Flow logs do not come through ``sources.normalize``: one payload holds thousands of records and yields zero or
more offenders, and only together with the state of earlier payloads (windows, baselines). The flow-log Lambda
(``riposte.handlers.flowlogs``) and the CLI (``riposte.commands.flowlogs``) call ``riposte.flowlogs.analyze``
and map what it reports with ``to_event``. This source recognizes a CloudWatch Logs subscription payload
(``matches``) so that the CLI can tell one apart, and says where to send it when asked to normalize one.

The mapping. One event per offender per window: ``id`` is the offender's key (source address and window
start), the same in every concurrent invocation that reports it, so their reports collapse into one audit
trail and one block. ``subject`` is the address and the UTC day: a person hears about an attacker once a day
per severity band (not once a minute while it goes on), PagerDuty opens one incident, and block_ip counts one
offence towards its TTL ladder, not one per minute. The offender's address is the ACTOR (its traffic crosses
our network ACLs); an internal source stays the actor too, so the central guard refuses it and the
notification says so; our interfaces (and their subnets, when the format has ``subnet-id``: block_ip's subnet
scope) are AFFECTED.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from riposte.core.config import Config
from riposte.core.model import Entities, EventKind, Party, Role, SecurityEvent
from riposte.flowlogs import FlowFormat, Networks, Offender, Thresholds, parse_format
from riposte.flowlogs.parse import WINDOW_SECONDS, TallyPlan
from riposte.sources import SOURCES
from riposte.sources.base import InputError, Source

NAME = "flowlogs"

# Words for each detector, in titles and severity notes.
LABELS = {"volume": "volume spike", "port_scan": "port scan", "brute_force": "brute force"}
TYPES = {"volume": "VolumeSpike", "port_scan": "PortScan", "brute_force": "BruteForce"}
INTERNAL_NOTE = (
    "notify only: a private address or one of our own networks. Network ACLs are for outsiders, so Riposte "
    "never blocks it; look at this host (a compromised instance, a misbehaving job, a scanner you run)."
)


def flow_format(config: Config) -> FlowFormat:
    return parse_format(config.flowlogs.log_format)


def thresholds(config: Config) -> Thresholds:
    """The detection thresholds: the defaults with ``flowlogs.detection`` over them (whole numbers where the
    default is one). ``ValueError`` names the field."""
    defaults = {f.name: f.default for f in fields(Thresholds)}
    values: dict[str, Any] = {}
    for name, value in config.flowlogs.detection.items():
        if name not in defaults:
            raise ValueError(f"flowlogs.detection.{name}: unknown threshold; valid: {', '.join(sorted(defaults))}")
        if not isinstance(defaults[name], int):
            values[name] = value
        elif math.isfinite(value) and value == int(value):
            values[name] = int(value)
        else:
            raise ValueError(f"flowlogs.detection.{name}: must be a whole number, got {value}")
    try:
        return Thresholds(**values)
    except ValueError as error:
        raise ValueError(f"flowlogs.detection.{str(error).removeprefix('thresholds.')}") from None


def networks(config: Config) -> Networks:
    settings = config.flowlogs
    own = [str(cidr) for cidr in settings.own_cidrs]
    return Networks(own=own, services=settings.service_ports, ipv6_prefix=settings.ipv6_source_prefix)


def _minute(window: int) -> str:
    start = datetime.fromtimestamp(window, UTC)
    end = datetime.fromtimestamp(window + WINDOW_SECONDS, UTC)
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"


def _count(found: tuple[object, ...], cap: int) -> str:
    """How many were seen: "31+" where the set stopped growing (there were more)."""
    return f"{len(found)}+" if cap and len(found) >= cap else str(len(found))


def _why(offender: Offender) -> str:
    """The figures behind the detectors that fired, in a few words (the full reasons are the description)."""
    o = offender
    parts = []
    if "volume" in o.detectors:
        parts.append(f"{o.packets:,} packets, {o.bytes:,} bytes in {o.flows:,} flows")
    if "port_scan" in o.detectors:
        parts.append(
            f"{o.rejects:,} of {o.flows:,} flows rejected, to {_count(o.dst_ports, o.ports_cap)} ports on "
            f"{_count(o.dst_hosts, o.hosts_cap)} hosts"
        )
    if "brute_force" in o.detectors:
        parts.append(f"{o.admin_short:,} short flows to admin ports")
    return "; ".join(parts)


def to_event(offender: Offender, *, account: str | None = None, region: str | None = None) -> SecurityEvent:
    """The security event for one offender in one window."""
    o = offender
    labels = [LABELS.get(d, d) for d in o.detectors]
    what = " and ".join(labels)
    title = f"{what[0].upper()}{what[1:]} from {o.ip}" + (" (internal source)" if o.internal else "")
    started = datetime.fromtimestamp(o.window_start, UTC)
    evidence = [("window", _minute(o.window_start)), ("detectors", ", ".join(o.detectors))]
    if o.internal:
        evidence.append(("internal source", INTERNAL_NOTE))
    evidence += list(o.evidence)
    description = "\n".join(o.reasons)
    parties = [Party("ip", o.ip, Role.ACTOR, network=True)]
    parties += [Party("interface", eni, Role.AFFECTED) for eni in o.interface_ids]
    parties += [Party("subnet", subnet, Role.AFFECTED) for subnet in o.subnet_ids]
    if account:
        parties.append(Party("account", account, Role.AFFECTED))
    return SecurityEvent(
        source=NAME,
        id=o.key,
        subject=f"{NAME}:{o.ip}:{started:%Y-%m-%d}",
        type="FlowLogs:" + "+".join(TYPES.get(d, d) for d in o.detectors),
        title=title,
        kind=EventKind.NETWORK_TRAFFIC,
        entities=Entities.of(parties),
        description=description,
        native_severity=o.severity,
        severity_note=f"flow-log {', '.join(o.detectors)} ({_why(o)}), severity {o.severity:g}",
        account=account,
        region=region,
        time=started.isoformat().replace("+00:00", "Z"),
        # count stays 1: one offence. Its flows are evidence, not repeats (scoring adds points for repeats).
        evidence=tuple(evidence),
    )


def is_payload(raw: Mapping[str, Any]) -> bool:
    """A CloudWatch Logs subscription payload: the Lambda event (``{"awslogs": {"data": ...}}``) or its decoded
    JSON (``{"messageType": ..., "logEvents": [...]}``)."""
    awslogs = raw.get("awslogs")
    if isinstance(awslogs, Mapping) and "data" in awslogs:
        return True
    return "messageType" in raw and "logEvents" in raw


@SOURCES.register
class FlowLogsSource(Source):
    name: ClassVar[str] = NAME

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        try:
            fmt = flow_format(config)
        except ValueError as error:
            return [f"flowlogs.log_format: {str(error).removeprefix('flow log format: ')}"]
        found = []
        try:
            TallyPlan(fmt, 1, 1, 1, 1)
        except ValueError as error:
            found.append(f"flowlogs.log_format: {error}")
        try:
            thresholds(config)
        except ValueError as error:
            found.append(str(error))
        return found

    def matches(self, raw: Mapping[str, Any]) -> bool:
        return is_payload(raw)

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        raise InputError(
            "a flow-log payload maps to any number of events, judged with the payloads before it: it is read by "
            "the flow-log Lambda, and by `riposte score`/`run` through riposte.commands.flowlogs"
        )
