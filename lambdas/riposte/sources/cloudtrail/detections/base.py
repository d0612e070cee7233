"""What a CloudTrail detection is: a small pure function of one record, with its metadata beside it.

A detection listens to API calls (an event source and names, or any call whose record matches a content filter),
fires on a record by returning a ``Hit`` (or None), and carries what a human needs: rationale, references, a
short playbook, the default response and a suggested remediation. ``@detection(...)`` registers it by id in
``DETECTIONS``; the deployed EventBridge patterns are generated from what the detections listen to
(``cloudtrail.patterns``), so a new detection updates the rules.

A *burst* detection fires on each occurrence (a failed sign-in, a secret read) with a ``Burst``; the engine counts
the occurrences in the state store (``SecurityEvent.tally``) and adds the burst's weight once its threshold is met.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from riposte.core.config import Config
from riposte.core.model import Party, Role, Severity
from riposte.core.registry import Registry
from riposte.sources.cloudtrail.record import API_CALL, CONSOLE_SIGN_IN, Record

LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
RANK = {Severity.INFO: 0, LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4}

ANY_SOURCE = "*"

# Event sources (CloudTrail's ``eventSource``), named once.
CLOUDTRAIL = "cloudtrail.amazonaws.com"
CLOUDWATCH = "monitoring.amazonaws.com"
CONFIG = "config.amazonaws.com"
EC2 = "ec2.amazonaws.com"
ECR = "ecr.amazonaws.com"
GUARDDUTY = "guardduty.amazonaws.com"
IAM = "iam.amazonaws.com"
KMS = "kms.amazonaws.com"
LAMBDA = "lambda.amazonaws.com"
LOGS = "logs.amazonaws.com"
ORGANIZATIONS = "organizations.amazonaws.com"
RDS = "rds.amazonaws.com"
ROLESANYWHERE = "rolesanywhere.amazonaws.com"
ROUTE53RESOLVER = "route53resolver.amazonaws.com"
S3 = "s3.amazonaws.com"
SECRETSMANAGER = "secretsmanager.amazonaws.com"
SECURITYHUB = "securityhub.amazonaws.com"
SIGNIN = "signin.amazonaws.com"
SSM = "ssm.amazonaws.com"
STS = "sts.amazonaws.com"


class Response(StrEnum):
    """Who hears about a hit at its base severity under the default thresholds (notify 40, page 85)."""

    RECORD = "record"  # the audit trail only
    NOTIFY = "notify"  # Slack
    PAGE = "page"  # Slack and PagerDuty


class Outcome(StrEnum):
    """Which calls a detection looks at."""

    SUCCESS = "success"  # the change happened
    DENIED = "denied"  # refused for want of permission (an attempt)
    ATTEMPT = "attempt"  # refused, or failed for another reason than a missing target or AWS itself (an attempt)
    ANY = "any"


# Severity -> native severity on GuardDuty's 0-10 scale (the scorer multiplies by 10). A high detection whose
# default response is to page sits at the top of the high band, so that it reaches the default page threshold.
NATIVE = {LOW: 3.0, MEDIUM: 5.0, HIGH: 7.5, CRITICAL: 9.0}
PAGED_HIGH = 8.5
# One occurrence of a burst on its own: low, below the notify threshold.
OCCURRENCE = 2.0
# A burst always adds at least this much, even on a record another detection already scored higher.
MIN_BURST_POINTS = 5


def native_severity(severity: Severity, response: Response) -> float:
    if severity is HIGH and response is Response.PAGE:
        return PAGED_HIGH
    return NATIVE.get(severity, 0.0)


def expected_response(severity: Severity) -> tuple[Response, ...]:
    """The responses a base severity allows, so that what the catalogue says is what happens by default."""
    return {
        LOW: (Response.RECORD,),
        MEDIUM: (Response.NOTIFY,),
        HIGH: (Response.NOTIFY, Response.PAGE),
        CRITICAL: (Response.PAGE,),
    }.get(severity, (Response.RECORD,))


@dataclass(frozen=True, slots=True)
class Listen:
    """API calls a detection reads: ``names`` (exact) and ``prefixes`` of ``event_source``; with
    ``ANY_SOURCE``, every call of every service Riposte routes whose record matches ``content`` (an EventBridge
    content filter on ``detail``, which the generated pattern carries)."""

    event_source: str
    names: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    detail_type: str = API_CALL
    # EventBridge delivers read-only management events only to rules in state
    # ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS; their names go to a pattern of their own.
    read_only: bool = False
    content: Mapping[str, Any] = field(default_factory=dict)

    def admits(self, record: Record) -> bool:
        if self.event_source == ANY_SOURCE:
            return True
        if record.event_source != self.event_source:
            return False
        return record.event_name in self.names or any(record.event_name.startswith(p) for p in self.prefixes)


def calls(event_source: str, *names: str, prefixes: tuple[str, ...] = (), read_only: bool = False) -> Listen:
    return Listen(event_source, names, prefixes, read_only=read_only)


def sign_in() -> Listen:
    return Listen(SIGNIN, ("ConsoleLogin",), detail_type=CONSOLE_SIGN_IN)


def any_call(content: Mapping[str, Any]) -> Listen:
    return Listen(ANY_SOURCE, content=content)


@dataclass(frozen=True, slots=True)
class Burst:
    """Occurrences to count: per ``key`` of the record (the caller, the source address: ``per`` says which),
    within ``window_seconds``; the burst is reached at ``threshold`` occurrences. ``counted`` names them for
    humans (a plural noun phrase)."""

    def label(self, key: str) -> str:
        return f"{self.counted} ({self.per} {key})"

    key: Callable[[Record], str | None]
    window_seconds: int
    threshold: int
    counted: str
    per: str


@dataclass(frozen=True, slots=True)
class Hit:
    """A detection fired. ``severity`` None means the detection's own; ``why`` says what happened in a few
    words; ``parties`` are the resources and foreign accounts involved; ``facts`` are shown as evidence."""

    why: str = ""
    severity: Severity | None = None
    parties: tuple[Party, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()


def _networks(values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(v) for v in values)


@dataclass(frozen=True, slots=True)
class Context:
    """What detections know beyond the record: which accounts are ours and trusted, which networks are our
    offices, which VPCs must stay isolated, and how log buckets, log groups and alarms are recognised."""

    trusted_accounts: frozenset[str] = frozenset()
    corporate_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    isolated_vpcs: frozenset[str] = frozenset()
    log_bucket_markers: tuple[str, ...] = ("cloudtrail", "flow-logs", "access-logs", "config-bucket")
    protected_log_group_markers: tuple[str, ...] = (
        "cloudtrail",
        "flowlog",
        "flow-log",
        "vpc-flow",
        "route53",
        "resolver",
        "guardduty",
        "securityhub",
        "aws-controltower",
        "riposte",
    )
    protected_alarm_markers: tuple[str, ...] = (
        "cis",
        "cloudtrail",
        "unauthorized",
        "root",
        "console",
        "iam",
        "guardduty",
        "security",
        "riposte",
    )
    # Powertools for AWS Lambda publishes its layers from this account; Riposte itself runs with one.
    trusted_layer_publishers: frozenset[str] = frozenset({"017000801446"})

    @classmethod
    def of(
        cls,
        *,
        trusted_accounts: tuple[str, ...] = (),
        corporate_cidrs: tuple[str, ...] = (),
        isolated_vpcs: tuple[str, ...] = (),
    ) -> Context:
        return cls(frozenset(trusted_accounts), _networks(corporate_cidrs), frozenset(isolated_vpcs))

    def trusted(self, account: str, record: Record) -> bool:
        return account == record.our_account or account in self.trusted_accounts

    def corporate(self, address: str | None) -> bool:
        """From inside: an office network, a private (VPC endpoint) address, or AWS itself (a service
        hostname, "AWS Internal"). An unknown public address is not."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return True
        return not ip.is_global or any(ip in network for network in self.corporate_networks)

    def log_bucket(self, name: str) -> bool:
        return any(marker in name.lower() for marker in self.log_bucket_markers)


Match = Callable[[Record, Context], Hit | None]


def affected(kind: str, value: str | None) -> tuple[Party, ...]:
    """Our resource the call acted on, as a party (nothing when the record does not name it)."""
    return (Party(kind, value, Role.AFFECTED),) if value else ()


def compromised(kind: str, value: str | None) -> tuple[Party, ...]:
    """Credentials the call put in an attacker's hands (a new root access key, a backdoor key)."""
    return (Party(kind, value, Role.COMPROMISED),) if value else ()


def foreign(*accounts: str) -> tuple[Party, ...]:
    """Accounts outside ours that the call let in: acting on us from now on."""
    return tuple(Party("account", a, Role.ACTOR) for a in accounts)


def facts(*pairs: tuple[str, Any]) -> tuple[tuple[str, str], ...]:
    """Evidence pairs, leaving out empty values; lists are joined."""
    shown = ((label, ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v or "")) for label, v in pairs)
    return tuple((label, value) for label, value in shown if value)


class Detection:
    """One registered detection; ``@detection(...)`` builds these from a function and its metadata."""

    name: ClassVar[str]
    title: ClassVar[str]
    area: ClassVar[str]
    severity: ClassVar[Severity]
    response: ClassVar[Response]
    listens: ClassVar[tuple[Listen, ...]]
    outcome: ClassVar[Outcome]
    rationale: ClassVar[str]
    references: ClassVar[tuple[str, ...]]
    playbook: ClassVar[tuple[str, ...]]
    remediation: ClassVar[str]
    benign: ClassVar[str]
    burst: ClassVar[Burst | None]
    _match: ClassVar[Match]

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        return []

    @classmethod
    def applies(cls, record: Record) -> bool:
        """Listens to this call, and the call had the outcome the detection looks at."""
        if not any(listen.admits(record) for listen in cls.listens):
            return False
        if cls.outcome is Outcome.SUCCESS:
            return record.succeeded
        if cls.outcome is Outcome.DENIED:
            return record.denied
        if cls.outcome is Outcome.ATTEMPT:
            return record.attempted
        return True

    @classmethod
    def evaluate(cls, record: Record, context: Context) -> Hit | None:
        return cls._match(record, context) if cls.applies(record) else None

    @classmethod
    def severity_of(cls, hit: Hit) -> Severity:
        return hit.severity or cls.severity


BUILTINS = tuple(
    f"riposte.sources.cloudtrail.detections.{area}"
    for area in (
        "log_tampering",
        "security_services",
        "root",
        "signin",
        "persistence",
        "exposure",
        "network",
        "impact",
        "credentials",
    )
)

DETECTIONS: Registry[type[Detection]] = Registry("detection", BUILTINS)


def detection(
    *,
    id: str,
    title: str,
    severity: Severity,
    listens: tuple[Listen, ...],
    rationale: str,
    references: tuple[str, ...],
    playbook: tuple[str, ...],
    response: Response = Response.NOTIFY,
    outcome: Outcome = Outcome.SUCCESS,
    remediation: str = "",
    benign: str = "",
    burst: Burst | None = None,
) -> Callable[[Match], type[Detection]]:
    """Register the decorated function as detection ``id``; the module it lives in is its area."""
    if response not in expected_response(severity):
        allowed = " or ".join(expected_response(severity))
        raise ValueError(f"detection {id}: a {severity} detection responds {allowed} by default, not {response}")

    def register(match: Match) -> type[Detection]:
        attributes = {
            "name": id,
            "title": title,
            "area": match.__module__.rsplit(".", 1)[-1],
            "severity": severity,
            "response": response,
            "listens": listens,
            "outcome": outcome,
            "rationale": rationale,
            "references": references,
            "playbook": playbook,
            "remediation": remediation,
            "benign": benign,
            "burst": burst,
            "_match": staticmethod(match),
            "__doc__": f"{title}. {rationale}",
            "__module__": match.__module__,
            "__qualname__": id,
        }
        return DETECTIONS.register(type(id, (Detection,), attributes))

    return register
