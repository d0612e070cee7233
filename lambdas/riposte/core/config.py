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
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
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

    @field_validator("rule_range")
    @classmethod
    def _range(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not NACL_RULE_MIN <= low <= high <= NACL_RULE_MAX:
            raise ValueError(
                f"must be [low, high] with {NACL_RULE_MIN} <= low <= high <= {NACL_RULE_MAX}, got [{low}, {high}]"
            )
        return value


class Blocks(_Frozen):
    ttl_hours: Annotated[int, Field(ge=1, le=24 * 365)] = 24
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


class GuardDuty(_Frozen):
    # Only one detector may exist per account and region: set false where GuardDuty is already on.
    create_detector: bool = True


class Alarms(_Frozen):
    # Who hears about alarms (events waiting in a dead-letter queue...): an e-mail address subscribed to the
    # alarm topic (confirm the subscription mail AWS sends). Empty: subscribe something yourself, e.g. PagerDuty.
    email: Annotated[str, Field(pattern=r"^([^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63})?$")] = ""


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
    # Names of registered actions; checked against the registry after loading (``engine.setup``).
    actions: tuple[str, ...] = ("block_ip",)
    # Secrets Manager names, by the secret field a notifier declares (``slack_webhook_url``...). A field left
    # out takes the notifier's default name; unknown fields are reported by ``engine.setup``.
    secrets: dict[str, SecretName] = Field(default_factory=dict)
    waf: Waf = Waf()
    guardduty: GuardDuty = GuardDuty()
    alarms: Alarms = Alarms()
    # "lambda" is a Python keyword, hence the alias.
    lambda_: LambdaSettings = Field(default=LambdaSettings(), alias="lambda")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def dry_run(self) -> bool:
        return self.mode is Mode.DRY_RUN

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
