"""Typed configuration: one frozen model, validated at ``cdk synth``, at the Lambda's cold start and by the CLI.

The user edits a TOML file (see ``riposte.example.toml``). The stack passes the validated model to the Lambda
as JSON in ``RIPOSTE_CONFIG``, where the same model validates it again. Errors name the field.

This module knows no registry: what depends on registered sources, actions and notifiers (known names, an
action's own requirements) is checked by each element's ``validate(config)`` hook, called by
``riposte.engine.setup`` once the model itself is valid.
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from riposte.core.ports import WAF_CONTAINER_PREFIX, WAF_SET_CAPACITY

ENV_VAR = "RIPOSTE_CONFIG"

# AWS: rule numbers 1-32766 are usable; 32767 is the default rule. Quota: 20 rules per direction, up to 40.
NACL_RULE_MIN = 1
NACL_RULE_MAX = 32766
NACL_QUOTA_MAX = 40


class ConfigError(ValueError):
    """A configuration problem, with the offending field(s) named in the message."""


class Mode(StrEnum):
    DRY_RUN = "dry_run"
    ENFORCE = "enforce"
    # A person approves each action first. Until notifications carry approval buttons it behaves as dry-run.
    APPROVE = "approve"


# From most to least careful: a per-action mode can only make that action more careful than ``mode``.
CAUTION = (Mode.DRY_RUN, Mode.APPROVE, Mode.ENFORCE)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Percent = Annotated[int, Field(ge=0, le=100)]


def _cidr(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a CIDR string such as '192.0.2.0/24', got {type(value).__name__}")
    try:
        return ipaddress.ip_network(value.strip())
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid CIDR: {error}") from None


Cidr = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, PlainValidator(_cidr), PlainSerializer(str)]


class Thresholds(_Frozen):
    """Scores (0-100) at or above which Riposte notifies (Slack), pages (PagerDuty) and acts."""

    notify: Percent = 40
    page: Percent = 85
    act: Percent = 70

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.page < self.notify:
            raise ValueError(f"page ({self.page}) must be >= notify ({self.notify})")
        return self


class Nacl(_Frozen):
    """Network ACLs Riposte may modify, and the slice of rule numbers it owns in each."""

    vpc_ids: tuple[Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")], ...] = ()
    network_acl_ids: tuple[Annotated[str, Field(pattern=r"^acl-[0-9a-f]{8,17}$")], ...] = ()
    # Deny entries only win if their numbers are below the allow entries they must override: keep this range
    # under your own rules. Riposte never touches an entry it did not create, even inside this range.
    rule_range: tuple[int, int] = (1, 99)
    # Rules per direction that the account allows (AWS default 20, adjustable to 40); Riposte counts every
    # non-default entry, its own and yours, against it.
    rule_quota: Annotated[int, Field(ge=1, le=NACL_QUOTA_MAX)] = 20
    # "all": block in every ACL Riposte may modify. "subnet": only in the ACL of the subnet where the target's
    # traffic lands (the finding's instance or interface, the flow log's interface), falling back to all when
    # the event names none. Spends the quota where it matters.
    scope: Literal["all", "subnet"] = "all"
    # Also deny traffic *to* the address (egress entries). Ingress alone already stops TCP both ways (NACLs are
    # stateless: the replies are dropped), with half the quota.
    egress: bool = False
    # When the managed range or the quota is full, in this order: "aggregate" neighbours into a covering CIDR
    # (only when aggregate_prefix_v4/v6 allow it), "evict" the least valuable block Riposte owns (score and
    # repeat offences, older first), "waf": spill over to the configured WAF IP sets. Otherwise: refused.
    when_full: tuple[Literal["aggregate", "evict", "waf"], ...] = ("aggregate", "evict", "waf")
    # Widest covering CIDR an aggregate may use (0: never aggregate). Never covers a protected address.
    aggregate_prefix_v4: Annotated[int, Field(ge=0, le=32)] = 0
    aggregate_prefix_v6: Annotated[int, Field(ge=0, le=128)] = 0

    @field_validator("aggregate_prefix_v4", "aggregate_prefix_v6")
    @classmethod
    def _not_too_wide(cls, value: int, info: Any) -> int:
        floor = 16 if info.field_name.endswith("v4") else 32
        if value and value < floor:
            raise ValueError(f"a covering CIDR wider than /{floor} would block far more than attackers")
        return value

    @field_validator("rule_range")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not NACL_RULE_MIN <= low <= high <= NACL_RULE_MAX:
            raise ValueError(
                f"must be [low, high] with {NACL_RULE_MIN} <= low <= high <= {NACL_RULE_MAX}, got [{low}, {high}]"
            )
        return value


Hours = Annotated[int, Field(ge=1, le=24 * 365)]


class Blocks(_Frozen):
    # How long a first block lasts; repeat offenders (blocked again within 30 days) climb repeat_ttl_hours.
    ttl_hours: Hours = 24
    repeat_ttl_hours: tuple[Hours, ...] = (72, 168, 720)
    # Quota per event: a finding naming hundreds of addresses must not spend the whole NACL budget.
    max_per_event: Annotated[int, Field(ge=1, le=100)] = 10
    # Also block the remote ends our compromised hosts reach out to (C2 servers, mining pools). Denying them in
    # the NACL cuts every host of the VPC off from them. Attackers acting on us are always eligible.
    outbound_peers: bool = True


SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")]


class Scoring(_Frozen):
    """Context that moves a score, each contribution stated as a reason (``riposte.engine.context``)."""

    # Resource IDs or ARNs (shell-style patterns, e.g. "arn:aws:s3:::payroll-*", "i-0abc*") whose events matter
    # more; a resource tagged riposte:criticality=high|critical counts the same way.
    critical_resources: tuple[Annotated[str, Field(min_length=1, max_length=2048)], ...] = ()
    # Another source saw the same address or principal within this window: the score rises.
    correlation_window_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60
    # The same attacker (address, principal) in this many events within the window: the score rises.
    repeat_offender_events: Annotated[int, Field(ge=2, le=1000)] = 3
    repeat_window_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24


class WafScope(StrEnum):
    REGIONAL = "REGIONAL"  # ALB, API Gateway, AppSync...: the stack's region
    CLOUDFRONT = "CLOUDFRONT"  # CloudFront distributions: the set lives in us-east-1


class IpSet(_Frozen):
    """A WAF IP set Riposte may add hostile addresses to. Its family (IPv4 or IPv6) is read from WAF."""

    name: Annotated[str, Field(pattern=r"^[\w-]{1,128}$")]
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    scope: WafScope = WafScope.REGIONAL

    @property
    def container(self) -> str:
        """How block records name this set (``BlockRecord.acl_id``)."""
        return f"{WAF_CONTAINER_PREFIX}{self.scope}:{self.name}:{self.id}"


class Waf(_Frozen):
    """WAF IP sets: the target of ``block_waf`` and where ``block_ip`` spills over when a NACL is full."""

    ip_sets: tuple[IpSet, ...] = ()
    # Addresses Riposte lets a set hold (its own and anyone else's): the WAF quota, or less for a set shared
    # with other tools.
    max_addresses: Annotated[int, Field(ge=1, le=WAF_SET_CAPACITY)] = WAF_SET_CAPACITY

    @field_validator("ip_sets")
    @classmethod
    def _distinct(cls, value: tuple[IpSet, ...]) -> tuple[IpSet, ...]:
        seen: set[tuple[str, str]] = set()
        for ip_set in value:
            key = (str(ip_set.scope), ip_set.id)
            if key in seen:
                raise ValueError(f"IP set {ip_set.id} ({ip_set.scope}) is listed twice")
            seen.add(key)
        return value


class Limits(_Frozen):
    """The blast radius. Past a per-action cap in an hour, that action is refused (and said so); past the
    breaker's threshold of actions of all kinds in an hour, the circuit breaker trips: Riposte runs in dry-run
    until someone resets it (``riposte breaker reset``), records why, and pages."""

    max_per_hour: dict[str, Annotated[int, Field(ge=0, le=100_000)]] = Field(
        default_factory=lambda: {"block_ip": 120, "block_waf": 500, "isolate_instance": 10, "disable_access_key": 10}
    )
    breaker_per_hour: Annotated[int, Field(ge=1, le=100_000)] = 300


class Notify(_Frozen):
    """Storm control for chat notifiers (Slack). Per channel and fixed window, the first ``storm_max_messages``
    decisions are posted one by one; the rest are folded into one digest (counts per severity and the
    ``digest_top`` highest scores), posted when the window closes. PagerDuty is never folded: its incidents
    already deduplicate."""

    storm_window_seconds: Annotated[int, Field(ge=10, le=3600)] = 60
    # Below the state store's distinct-member cap (1000), which the count saturates at.
    storm_max_messages: Annotated[int, Field(ge=1, le=500)] = 10
    digest_top: Annotated[int, Field(ge=1, le=20)] = 10
    # Critical decisions (score >= 90) are posted at once even in a storm, and still counted in the window.
    critical_bypass: bool = True


class GuardDuty(_Frozen):
    # Only one detector may exist per account and region: set false where GuardDuty is already on.
    create_detector: bool = True


class Alarms(_Frozen):
    # Who hears about alarms (events waiting in a dead-letter queue...): an e-mail address subscribed to the
    # alarm topic (confirm the subscription mail AWS sends). Empty: subscribe something yourself, e.g. PagerDuty.
    email: Annotated[str, Field(pattern=r"^([^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63})?$")] = ""


# The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class CloudTrail(_Frozen):
    """The trail Riposte deploys. EventBridge receives CloudTrail's API events only while some trail logs them:
    set ``create_trail = false`` where an existing or organization trail already logs management events."""

    create_trail: bool = True
    # Principals (ARN patterns) whose calls are never detections: Riposte's own roles are added at run time
    # (the responder's role, the member role), so its remediation never raises anything against itself. Add
    # your deploy pipelines' roles here only if you accept that their changes are never flagged.
    ignore_principals: tuple[Annotated[str, Field(min_length=1, max_length=2048)], ...] = ()
    # The trail's CloudWatch Logs copy, and the log files in S3 (objects and their noncurrent versions).
    log_retention_days: int = 365
    bucket_retention_days: Annotated[int, Field(ge=90, le=36500)] = 365

    @field_validator("log_retention_days")
    @classmethod
    def _log_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"must be one of CloudWatch Logs' retention periods ({allowed}), got {value}")
        return value


WebhookSeverity = Literal["low", "medium", "high", "critical"]
FieldName = Annotated[str, Field(pattern=r"^@?[A-Za-z0-9_.-]{1,64}$")]
SnsTopicArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")]
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")]


class Webhooks(_Frozen):
    """The webhook front door (``POST /webhooks/{tool}``): off unless enabled, since it is a public endpoint.
    Tool names and field-name conflicts are checked by the webhooks source (``riposte.sources.webhooks``)."""

    enabled: bool = False
    tools: tuple[str, ...] = ("alertmanager", "datadog", "generic", "grafana", "sns", "sumologic")
    # Fields, labels, tags and dimensions whose values are attacker addresses (matched ignoring case, "_", "-",
    # "." and a leading "@"). Fields naming our own hosts are never read as attackers.
    address_fields: tuple[FieldName, ...] = (
        "src_ip",
        "source_ip",
        "srcaddr",
        "srcAddr",
        "client_ip",
        "remote_ip",
        "ip",
    )
    host_fields: tuple[FieldName, ...] = (
        "instance",
        "host",
        "hostname",
        "_sourcehost",
        "dest_ip",
        "dst_ip",
        "destination_ip",
        "dstaddr",
        "instanceid",
        "instance_id",
    )
    # A CIDR broader than these prefixes is refused (400): one request must not deny a whole provider.
    min_prefix_ipv4: Annotated[int, Field(ge=8, le=32)] = 24
    min_prefix_ipv6: Annotated[int, Field(ge=16, le=128)] = 48
    max_addresses: Annotated[int, Field(ge=1, le=1000)] = 100
    # Severity of an alert that states none (a CloudWatch alarm, a scheduled search, an unlabelled rule).
    default_severity: WebhookSeverity = "medium"
    # SNS: only notifications and subscription confirmations of these topics are accepted.
    sns_topic_arns: tuple[SnsTopicArn, ...] = ()
    # Secrets Manager: one secret per tool, "<prefix><tool>", holding {"token": ..., "hmac_secret": ...}.
    secret_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@-]{1,400}$")] = "riposte/webhooks/"  # noqa: S105 - a name
    # Edge limits: API Gateway stage throttling (steady requests per second, burst) and the WAF rate rule
    # (requests per source address per 5 minutes).
    throttle_rate: Annotated[float, Field(gt=0, le=10000)] = 20
    throttle_burst: Annotated[int, Field(ge=1, le=5000)] = 40
    waf_rate_limit: Annotated[int, Field(ge=100, le=2_000_000_000)] = 1000
    # Roles that may also send to the webhook queue (say, to redrive its dead-letter queue); nobody else can.
    redrive_role_arns: tuple[RoleArn, ...] = ()

    @model_validator(mode="after")
    def _burst_covers_rate(self) -> Self:
        if self.throttle_burst < self.throttle_rate:
            raise ValueError(f"throttle_burst ({self.throttle_burst}) must be >= throttle_rate ({self.throttle_rate})")
        return self


InstanceId = Annotated[str, Field(pattern=r"^i-[0-9a-f]{8,17}$")]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
PrincipalPattern = Annotated[str, Field(min_length=1, max_length=2048)]
TagKey = Annotated[str, Field(min_length=1, max_length=128)]


class Isolation(_Frozen):
    """isolate_instance: which instances are never isolated, and what isolation includes."""

    # Instances carrying any of these tags (key = value, compared exactly) are never isolated.
    exempt_tags: dict[TagKey, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=lambda: {"riposte:exempt": "true"}
    )
    exempt_instances: tuple[InstanceId, ...] = ()
    # EBS snapshots of every attached volume, for forensics, taken once per event.
    snapshot_volumes: bool = True
    # The rule-less security group put on every network interface, one per VPC (created on demand, tagged).
    quarantine_group_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}$")] = (
        "riposte-quarantine"
    )


class Credentials(_Frozen):
    """disable_access_key: principals whose keys and sessions Riposte must never touch."""

    # Break-glass principals: IAM user or role names, or ARNs, shell-style patterns ("breakglass-*",
    # "arn:aws:iam::*:role/Admin*"). An access key is matched by its owner, a role by its name and ARN.
    break_glass: tuple[PrincipalPattern, ...] = ()
    # Revoke the sessions of a role (or user) whose temporary credentials were stolen, with an inline deny. It
    # needs iam:PutRolePolicy on the account's roles, which is as strong as IAM admin in the wrong hands: set
    # false to only ever switch long-term keys off.
    revoke_sessions: bool = True


HealControl = Literal[
    "trail_logging",
    "guardduty_detector",
    "admin_port_ingress",
    "bucket_public_access_block",
    "account_public_access_block",
    "ebs_default_encryption",
    "kms_key_deletion",
]
HEAL_CONTROLS: tuple[HealControl, ...] = get_args(HealControl)
# Ports where a rule open to the whole internet is never fine (remote admin, databases, caches, Docker, ...).
ADMIN_PORTS = (22, 23, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5601, 5900, 6379, 9200, 9300, 11211, 27017)


class Heal(_Frozen):
    """heal: the security controls Riposte switches back on when a detection says they were switched off."""

    controls: tuple[HealControl, ...] = HEAL_CONTROLS
    # admin_port_ingress revokes a world-open ingress rule only if its port range covers one of these.
    admin_ports: tuple[Annotated[int, Field(ge=0, le=65535)], ...] = ADMIN_PORTS


class Organization(_Frozen):
    """Acting in other accounts of an AWS Organization through the member role (``stacks/member_stack.py``)."""

    # Accounts whose events Riposte may act on, besides its own. Empty: its own account only.
    member_accounts: tuple[AccountId, ...] = ()
    # The role the member stack creates in each member account, and that the responder assumes there.
    member_role_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")] = "riposte-member"
    # Required with member_accounts: the member role only trusts callers that present it (sts:ExternalId).
    external_id: Annotated[str, Field(max_length=1224, pattern=r"^[\w+=,.@:/-]*$", validate_default=True)] = ""
    # The central responder's role ARN: the only principal the member role trusts (member stack only).
    responder_role_arn: Annotated[str, Field(pattern=r"^(arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+)?$")] = ""

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("member_accounts") and not value:
            raise ValueError("required when member_accounts is set (the member role trusts only callers that send it)")
        if len(value) == 1:
            raise ValueError("must be 2 to 1224 characters (AWS's limits for sts:ExternalId)")
        return value


# The VPC Flow Logs default (version 2) format: the fields every flow log carries unless told otherwise.
FLOW_LOG_DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol}"
    " ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)


class FlowLogs(_Frozen):
    """VPC flow logs -> per-source windows -> spikes, scans and brute force blocked (``riposte.flowlogs``).

    Off unless ``vpc_ids`` (or subnets or interfaces) are listed. The format's fields and the detection
    overrides are checked by the flow-log source (``riposte.sources.flowlogs``), which knows the fields."""

    # What to log: every interface of these VPCs, and/or these subnets and interfaces.
    vpc_ids: tuple[Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")], ...] = ()
    subnet_ids: tuple[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")], ...] = ()
    interface_ids: tuple[Annotated[str, Field(pattern=r"^eni-[0-9a-f]{8,17}$")], ...] = ()
    # The flow log's format string (${field} ...); the default v2 format unless set. Adding ${pkt-srcaddr}
    # (the client behind a load balancer or NAT) and ${flow-direction} sharpens the detectors.
    log_format: Annotated[str, Field(min_length=1, max_length=4000)] = FLOW_LOG_DEFAULT_FORMAT
    # "direct": a subscription filter invokes the Lambda (simplest; see the README for its limits).
    # "kinesis": the subscription writes to a Kinesis data stream the Lambda reads in batches (the scale path).
    delivery: Literal["direct", "kinesis"] = "direct"
    log_retention_days: int = 30
    # Kinesis only: shards (1 MB/s or 1,000 records/s of writes each), and how Lambda reads them.
    kinesis_shards: Annotated[int, Field(ge=1, le=500)] = 1
    kinesis_batch_size: Annotated[int, Field(ge=1, le=10000)] = 100
    kinesis_batching_window_seconds: Annotated[int, Field(ge=0, le=300)] = 5
    kinesis_parallelization_factor: Annotated[int, Field(ge=1, le=10)] = 2
    # Our own globally routable networks (a VPC's IPv6 block, public IPv4 ranges): traffic to them is inbound,
    # traffic from them is ours. Private ranges are always ours.
    own_cidrs: tuple[Cidr, ...] = ()
    # Ports of remote servers our hosts call, beyond the registered ones Riposte knows (Kafka, databases, VPNs...):
    # their answers through a NAT gateway, which may reach any port from 1024 up, are replies, not attacks.
    service_ports: tuple[Annotated[int, Field(ge=1024, le=65535)], ...] = ()
    # Global IPv6 sources are counted, reported and blocked per prefix of this length: one host's addresses rotate
    # within its /64. 128 counts each address alone (networks where many users share a /64).
    ipv6_source_prefix: Annotated[int, Field(ge=48, le=128)] = 64
    # Detection thresholds by name (riposte.flowlogs.Thresholds: volume_packets, scan_ports, brute_flows...),
    # over their defaults.
    detection: dict[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")], float] = Field(default_factory=dict)

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"must be one of CloudWatch Logs' retention periods ({allowed}), got {value}")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.vpc_ids or self.subnet_ids or self.interface_ids)


class LambdaSettings(_Frozen):
    # Empty: the Powertools layer is resolved at deploy time from the AWS-published SSM parameter of the
    # pinned version. Set an ARN here when that parameter is missing in your region.
    powertools_layer_arn: Annotated[str, Field(pattern=r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:.+)?$")] = ""


class Config(_Frozen):
    mode: Mode = Mode.DRY_RUN
    thresholds: Thresholds = Thresholds()
    nacl: Nacl = Nacl()
    blocks: Blocks = Blocks()
    allowlist: tuple[Cidr, ...] = ()
    scoring: Scoring = Scoring()
    limits: Limits = Limits()
    notify: Notify = Notify()
    # Names of registered actions; checked against the registry after loading (``engine.setup``).
    actions: tuple[str, ...] = ("block_ip",)
    # Secrets Manager names, by the secret field a notifier declares (``slack_webhook_url``...). A field left
    # out takes the notifier's default name; unknown fields are reported by ``engine.setup``.
    secrets: dict[str, SecretName] = Field(default_factory=dict)
    waf: Waf = Waf()
    guardduty: GuardDuty = GuardDuty()
    alarms: Alarms = Alarms()
    cloudtrail: CloudTrail = CloudTrail()
    webhooks: Webhooks = Webhooks()
    # Per action, a mode more careful than ``mode`` (``isolate_instance = "approve"``); never less careful.
    action_modes: dict[str, Mode] = Field(default_factory=dict)
    isolation: Isolation = Isolation()
    credentials: Credentials = Credentials()
    heal: Heal = Heal()
    organization: Organization = Organization()
    flowlogs: FlowLogs = FlowLogs()
    # "lambda" is a Python keyword, hence the alias.
    lambda_: LambdaSettings = Field(default=LambdaSettings(), alias="lambda")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("action_modes")
    @classmethod
    def _modes_for_enabled_actions(cls, value: dict[str, Mode], info: ValidationInfo) -> dict[str, Mode]:
        # A mode for an action that is not enabled is almost always a typo in its name.
        enabled = info.data.get("actions", ())
        if unknown := sorted(set(value) - set(enabled)):
            raise ValueError(f"{', '.join(unknown)}: not in actions {list(enabled)}")
        return value

    @property
    def dry_run(self) -> bool:
        """Nothing may change the world: dry_run, and approve until approvals exist."""
        return self.mode is not Mode.ENFORCE

    def mode_for(self, action: str) -> Mode:
        """The mode ``action`` runs in: its own (``action_modes``) when more careful than ``mode``."""
        own = self.action_modes.get(action, self.mode)
        return min(self.mode, own, key=CAUTION.index)

    def dry_run_for(self, action: str) -> bool:
        return self.mode_for(action) is not Mode.ENFORCE

    def secret_name(self, field: str, default: str) -> str:
        return self.secrets.get(field, default)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def _explain(error: ValidationError, origin: str) -> ConfigError:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{origin}: {field}: {item['msg'].removeprefix('Value error, ')}")
    return ConfigError("invalid configuration\n" + "\n".join(lines))


def parse(data: dict[str, Any], origin: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise _explain(error, origin) from None


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse(data, str(path))


def from_json(text: str, origin: str = ENV_VAR) -> Config:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{origin}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: must be a JSON object")
    return parse(data, origin)
