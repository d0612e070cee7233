"""The plain, frozen values that the whole core speaks: one normalized event, its score, and outcomes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @classmethod
    def for_score(cls, score: int) -> Severity:
        # The bands mirror GuardDuty's (Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0) x10,
        # so a finding's severity and Riposte's read the same way.
        if score >= 90:
            return cls.CRITICAL
        if score >= 70:
            return cls.HIGH
        if score >= 40:
            return cls.MEDIUM
        if score >= 10:
            return cls.LOW
        return cls.INFO


class EventKind(StrEnum):
    NETWORK_CONNECTION = "network_connection"
    PORT_PROBE = "port_probe"
    API_CALL = "api_call"
    DNS_REQUEST = "dns_request"
    KUBERNETES_API_CALL = "kubernetes_api_call"
    RDS_LOGIN_ATTEMPT = "rds_login_attempt"
    RUNTIME = "runtime"  # process/runtime behaviour on a host or container
    MALWARE = "malware"  # a malware scan result
    ATTACK_SEQUENCE = "attack_sequence"  # several correlated signals (GuardDuty Extended Threat Detection)
    NETWORK_TRAFFIC = "network_traffic"  # measured traffic (flow logs)
    ALERT = "alert"  # an alerting tool's alert (webhooks)
    OTHER = "other"


# Signals are facts about an event that scoring rules react to; sources set them, scoring explains them.
SIGNAL_THREAT_INTEL = "threat_intel"
SIGNAL_ALREADY_BLOCKED = "already_blocked"
# Not live activity: a source's sample (GuardDuty's sample findings) or something a person already archived.
# Scored at most low, with the reason, and never acted on.
SIGNAL_SAMPLE = "sample"
SIGNAL_ARCHIVED = "archived"
# The source says the activity is over (an alert resolved, recovered, OK): never acted on; its incident closes.
SIGNAL_RESOLVED = "resolved"
# Made by Riposte's own roles (its remediation, seen again by CloudTrail): never a detection, never acted on.
SIGNAL_OWN_ACTIVITY = "own_activity"
NO_ACTION_SIGNALS = frozenset({SIGNAL_SAMPLE, SIGNAL_ARCHIVED, SIGNAL_RESOLVED, SIGNAL_OWN_ACTIVITY})


class Role(StrEnum):
    """What a party is to us. Actions choose targets by role, never by an event's type name."""

    ACTOR = "actor"  # hostile, acting on us: inbound connection, probe, login attempt, API caller
    PEER = "peer"  # remote party one of our resources reached out to: C2 server, mining pool, Tor, domain
    VICTIM = "victim"  # remote party our compromised resource attacks (DoS, spam, scans): never blocked
    COUNTERPART = "counterpart"  # remote party an anomaly names (unusual volume, port, resolver): never blocked
    AFFECTED = "affected"  # our resource at risk or targeted
    COMPROMISED = "compromised"  # our resource the event says is compromised (calls C2, key used by an attacker)


# Party kinds, each with its plural in ``Entities`` and the CLI's "entities" object.
PARTY_KINDS: dict[str, str] = {
    "ip": "ips",
    "instance": "instances",
    "access_key": "access_keys",
    "principal": "principals",
    "account": "accounts",
    "bucket": "buckets",
    "cluster": "clusters",
    "function": "functions",
    "db_instance": "db_instances",
    "domain": "domains",
    "subnet": "subnets",  # where our resource's traffic crosses a network ACL
    "interface": "interfaces",  # our network interfaces (ENIs)
    # Security controls a CloudTrail detection says were switched off (what a heal puts back).
    "trail": "trails",
    "detector": "detectors",
    "security_group_rule": "security_group_rules",  # "sg-.../sgr-..." or "sg-.../<protocol>/<ports>/<cidr>"
    "kms_key": "kms_keys",
}


@dataclass(frozen=True, slots=True)
class Party:
    kind: str  # a key of PARTY_KINDS
    value: str
    role: Role
    # For an ip: its traffic crosses our VPC's network ACLs (an inbound connection, a probe, a database login,
    # a host our instance connects to). An address that only calls AWS or Kubernetes APIs never does.
    network: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "role": str(self.role), "network": self.network}


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


@dataclass(frozen=True, slots=True)
class Entities:
    """Who and what the event is about. ``ips`` are the remote (counterpart) addresses, never our own.
    ``parties`` says the role of each; the per-kind tuples list every value of that kind in order."""

    ips: tuple[str, ...] = ()
    instances: tuple[str, ...] = ()
    access_keys: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    db_instances: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    subnets: tuple[str, ...] = ()
    interfaces: tuple[str, ...] = ()
    trails: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()
    security_group_rules: tuple[str, ...] = ()
    kms_keys: tuple[str, ...] = ()
    parties: tuple[Party, ...] = ()

    @classmethod
    def of(cls, parties: Iterable[Party]) -> Entities:
        """Entities from parties: duplicates (same kind, value and role) dropped, order kept."""
        kept = tuple(dict.fromkeys(parties))
        by_kind = {plural: _unique(p.value for p in kept if p.kind == kind) for kind, plural in PARTY_KINDS.items()}
        return cls(**by_kind, parties=kept)

    def having(self, kind: str, *roles: Role, network: bool | None = None) -> tuple[str, ...]:
        """Values of ``kind`` whose role is one of ``roles`` (any role when none given)."""
        return _unique(
            p.value
            for p in self.parties
            if p.kind == kind and (not roles or p.role in roles) and (network is None or p.network is network)
        )

    def as_dict(self) -> dict[str, list[str]]:
        return {plural: list(getattr(self, plural)) for plural in PARTY_KINDS.values()}


@dataclass(frozen=True, slots=True)
class Tally:
    """A burst to count across events (failed logins, secret reads): the engine counts ``key`` in the state store
    over ``window_seconds`` (never in process memory alone) and, once ``threshold`` is reached, adds ``points``
    to the score with ``label`` as the reason."""

    key: str
    window_seconds: int
    threshold: int
    points: int
    label: str


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One normalized security event, whatever its source."""

    source: str
    # Stable per occurrence: a redelivery carries the same id, so outputs can be made exactly-once.
    id: str
    type: str
    title: str
    kind: EventKind
    entities: Entities
    description: str = ""
    # The source's own severity on the source's own scale (GuardDuty: 0-10), or None when it has none.
    native_severity: float | None = None
    # How the source names that severity, in its own words (e.g. "GuardDuty severity 8 (High)"); the scorer
    # shows it as the base's reason. Empty: "<source> severity <value>".
    severity_note: str = ""
    account: str | None = None
    region: str | None = None
    time: str | None = None
    count: int = 1
    signals: frozenset[str] = frozenset()
    # Ordered (label, value) facts shown to humans as the evidence.
    evidence: tuple[tuple[str, str], ...] = ()
    # A burst this event is one occurrence of (stateful detections); None for most events.
    tally: Tally | None = None
    # The criticality the resource's own tag declares (``riposte:criticality`` = low|medium|high|critical), if any.
    asset_criticality: str = ""
    # Stable across the source's own updates of the same thing (a GuardDuty finding is re-sent every 15 minutes
    # while the activity goes on); people are told again only when its severity changes. Empty: same as id.
    subject: str = ""

    @property
    def notification_key(self) -> str:
        return self.subject or self.id


@dataclass(frozen=True, slots=True)
class Score:
    value: int
    reasons: tuple[str, ...]

    @property
    def severity(self) -> Severity:
        return Severity.for_score(self.value)


class Status(StrEnum):
    PLANNED = "planned"  # decided, not carried out (``riposte score``)
    DRY_RUN = "dry_run"  # would have been carried out; no mutating call was made
    DONE = "done"
    REFUSED = "refused"  # stopped by a guard or a quota before running
    FAILED = "failed"
    SKIPPED = "skipped"  # notifications only: output not configured or not available


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened (or would happen) to one action on one target, or to one notification."""

    name: str
    target: str
    status: Status
    detail: str = ""
    # A failure worth retrying (throttling, network); a full NACL range is a failure that is not.
    retryable: bool = False

    def as_action_dict(self) -> dict[str, Any]:
        return {"action": self.name, "target": self.target, "status": str(self.status), "detail": self.detail}

    def as_notify_dict(self) -> dict[str, Any]:
        return {"notifier": self.name, "status": str(self.status), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Plan:
    """A scored event and what to do about it; pure, so ``riposte score`` can print it without AWS."""

    event: SecurityEvent
    score: Score
    actions: tuple[Outcome, ...] = ()
    notify: tuple[str, ...] = ()
    # The account's own addresses the plan was checked against (actions that widen a block, such as an
    # aggregate CIDR, check again).
    own: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    """A plan after the runner carried it out."""

    plan: Plan
    actions: tuple[Outcome, ...]
    notifications: tuple[Outcome, ...] = field(default=())

    @property
    def retryable(self) -> bool:
        return any(o.retryable for o in (*self.actions, *self.notifications))
