"""GuardDuty findings, as EventBridge delivers them or as ``get-findings`` returns them.

EventBridge wraps the finding (camelCase keys) in ``detail``; the GetFindings API and its CLI return the same
finding with PascalCase keys. Both are accepted. Only the fields Riposte uses are modelled; the rest is
ignored, so new GuardDuty fields never break parsing. Reference:
https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-format.html
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from riposte.core.model import (
    SIGNAL_ALREADY_BLOCKED,
    SIGNAL_THREAT_INTEL,
    Entities,
    EventKind,
    Party,
    Role,
    SecurityEvent,
)
from riposte.sources import SOURCES, envelopes
from riposte.sources.base import InputError, Source

DETAIL_TYPE = "GuardDuty Finding"


class _M(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Organization(_M):
    asn: str | None = None
    asn_org: str | None = None
    isp: str | None = None
    org: str | None = None


class Country(_M):
    country_name: str | None = None


class RemoteIp(_M):
    ip_address_v4: str | None = None
    ip_address_v6: str | None = None
    organization: Organization | None = None
    country: Country | None = None

    @property
    def address(self) -> str | None:
        return self.ip_address_v4 or self.ip_address_v6


class PortDetails(_M):
    port: int | None = None
    port_name: str | None = None


class NetworkConnectionAction(_M):
    connection_direction: str | None = None
    remote_ip_details: RemoteIp | None = None
    remote_port_details: PortDetails | None = None
    local_port_details: PortDetails | None = None
    protocol: str | None = None
    blocked: bool | None = None


class PortProbeDetail(_M):
    local_port_details: PortDetails | None = None
    remote_ip_details: RemoteIp | None = None


class PortProbeAction(_M):
    blocked: bool | None = None
    port_probe_details: list[PortProbeDetail] = Field(default_factory=list)


class AwsApiCallAction(_M):
    api: str | None = None
    service_name: str | None = None
    caller_type: str | None = None
    error_code: str | None = None
    remote_ip_details: RemoteIp | None = None


class DnsRequestAction(_M):
    domain: str | None = None
    blocked: bool | None = None


class Action(_M):
    action_type: str | None = None
    network_connection_action: NetworkConnectionAction | None = None
    port_probe_action: PortProbeAction | None = None
    aws_api_call_action: AwsApiCallAction | None = None
    dns_request_action: DnsRequestAction | None = None


class ThreatIntel(_M):
    threat_list_name: str | None = None
    threat_names: list[str] = Field(default_factory=list)


class Evidence(_M):
    threat_intelligence_details: list[ThreatIntel] = Field(default_factory=list)


class Service(_M):
    service_name: str | None = None
    action: Action | None = None
    count: int = 1
    archived: bool = False
    event_first_seen: str | None = None
    event_last_seen: str | None = None
    evidence: Evidence | None = None
    additional_info: dict[str, Any] | None = None


class NetworkInterface(_M):
    private_ip_address: str | None = None
    public_ip: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None


class InstanceDetails(_M):
    instance_id: str | None = None
    network_interfaces: list[NetworkInterface] = Field(default_factory=list)


class AccessKeyDetails(_M):
    access_key_id: str | None = None
    principal_id: str | None = None
    user_name: str | None = None
    user_type: str | None = None


class Resource(_M):
    resource_type: str | None = None
    instance_details: InstanceDetails | None = None
    access_key_details: AccessKeyDetails | None = None


class Finding(_M):
    schema_version: str
    account_id: str
    region: str
    id: str
    type: str
    severity: float = Field(ge=0, le=10)
    title: str = ""
    description: str = ""
    updated_at: str | None = None
    resource: Resource = Resource()
    service: Service = Service()


def _camel_keys(value: Any) -> Any:
    """GetFindings' PascalCase -> EventBridge's camelCase, recursively (keys only)."""
    if isinstance(value, Mapping):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _describe_ip(remote: RemoteIp) -> str:
    parts = []
    org = remote.organization
    if org and (org.asn or org.asn_org or org.org):
        parts.append(" ".join(p for p in (f"AS{org.asn}" if org.asn else None, org.asn_org or org.org) if p))
    if remote.country and remote.country.country_name:
        parts.append(remote.country.country_name)
    return f"{remote.address} ({', '.join(parts)})" if parts else str(remote.address)


def _port(details: PortDetails | None, protocol: str | None = None) -> str | None:
    if details is None or details.port is None:
        return None
    text = f"{details.port}/{protocol}" if protocol else str(details.port)
    return f"{text} ({details.port_name})" if details.port_name and details.port_name != "Unknown" else text


def band(severity: float) -> str:
    """GuardDuty's documented bands: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0."""
    if severity >= 9.0:
        return "Critical"
    if severity >= 7.0:
        return "High"
    if severity >= 4.0:
        return "Medium"
    if severity >= 1.0:
        return "Low"
    return "Informational"


@SOURCES.register
class GuardDutySource(Source):
    name: ClassVar[str] = "guardduty"
    event_patterns: ClassVar[tuple[Mapping[str, Any], ...]] = (
        {"source": ["aws.guardduty"], "detail-type": [DETAIL_TYPE]},
    )

    def matches(self, raw: Mapping[str, Any]) -> bool:
        if raw.get("source") == "aws.guardduty":
            return True
        return ("schemaVersion" in raw or "SchemaVersion" in raw) and ("service" in raw or "Service" in raw)

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        detail: Mapping[str, Any]
        if "detail" in raw or raw.get("source") == "aws.guardduty":
            if raw.get("detail-type") != DETAIL_TYPE:
                raise InputError(f"guardduty: expected detail-type {DETAIL_TYPE!r}, got {raw.get('detail-type')!r}")
            if not isinstance(raw.get("detail"), Mapping):
                raise InputError("guardduty: EventBridge event has no 'detail' object")
            detail = envelopes.eventbridge(raw).detail
        else:
            detail = raw
        if "SchemaVersion" in detail:
            detail = _camel_keys(detail)
        try:
            finding = Finding.model_validate(detail)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
            )
            raise InputError(f"guardduty: invalid finding: {problems}") from None
        return to_event(finding)


@dataclass
class _Facts:
    """What the readers below gather from one finding, in the order a human reads it."""

    kind: EventKind = EventKind.OTHER
    remotes: list[RemoteIp] = field(default_factory=list)
    # The remotes' role (acting on us, or called by our resource) and whether their traffic crosses our NACLs.
    remote_role: Role = Role.ACTOR
    remote_network: bool = True
    # The role of our own resource: at risk, or (when it reaches out) compromised.
    resource_role: Role = Role.AFFECTED
    domains: list[str] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)
    signals: set[str] = field(default_factory=set)

    def add(self, label: str, value: str | None) -> None:
        if value:
            self.evidence.append((label, value))


def _network_connection(conn: NetworkConnectionAction, facts: _Facts) -> None:
    facts.kind = EventKind.NETWORK_CONNECTION
    facts.remotes += [conn.remote_ip_details] if conn.remote_ip_details else []
    facts.add("Direction", conn.connection_direction.lower() if conn.connection_direction else None)
    if (conn.connection_direction or "").upper() == "OUTBOUND":
        facts.remote_role, facts.resource_role = Role.PEER, Role.COMPROMISED
    facts.add("Local port", _port(conn.local_port_details, conn.protocol))
    facts.add("Remote port", _port(conn.remote_port_details, conn.protocol))
    if conn.blocked:
        facts.signals.add(SIGNAL_ALREADY_BLOCKED)


def _port_probe(probe: PortProbeAction, facts: _Facts) -> None:
    facts.kind = EventKind.PORT_PROBE
    facts.remotes += [d.remote_ip_details for d in probe.port_probe_details if d.remote_ip_details]
    facts.add("Probed ports", ", ".join(_unique(_port(d.local_port_details) for d in probe.port_probe_details)))
    if probe.blocked:
        facts.signals.add(SIGNAL_ALREADY_BLOCKED)


def _api_call(call: AwsApiCallAction, facts: _Facts) -> None:
    facts.kind = EventKind.API_CALL
    facts.remotes += [call.remote_ip_details] if call.remote_ip_details else []
    # The caller reached AWS's API, not our VPC; the credentials it used are ours and compromised.
    facts.remote_network, facts.resource_role = False, Role.COMPROMISED
    facts.add("API", f"{call.service_name}:{call.api}" if call.service_name and call.api else call.api)
    facts.add("API error", call.error_code)


def _dns_request(dns: DnsRequestAction, facts: _Facts) -> None:
    facts.kind = EventKind.DNS_REQUEST
    facts.add("Domain", dns.domain)
    facts.domains += [dns.domain] if dns.domain else []
    facts.resource_role = Role.COMPROMISED


def _read_action(action: Action, facts: _Facts) -> None:
    if action.network_connection_action is not None:
        _network_connection(action.network_connection_action, facts)
    elif action.port_probe_action is not None:
        _port_probe(action.port_probe_action, facts)
    elif action.aws_api_call_action is not None:
        _api_call(action.aws_api_call_action, facts)
    elif action.dns_request_action is not None:
        _dns_request(action.dns_request_action, facts)


def to_event(finding: Finding) -> SecurityEvent:
    facts = _Facts(evidence=[("Finding type", finding.type)])
    instance = finding.resource.instance_details
    if instance:
        facts.add("Instance", instance.instance_id)
        facts.add("Instance private IP", ", ".join(_unique(n.private_ip_address for n in instance.network_interfaces)))

    _read_action(finding.service.action or Action(), facts)

    remotes = [r for r in facts.remotes if r.address]
    ips = _unique(r.address for r in remotes)
    described = _unique(_describe_ip(r) for r in remotes)
    more = f" and {len(described) - 5} more" if len(described) > 5 else ""
    facts.add("Remote IP", "; ".join(described[:5]) + more if described else None)

    keys = finding.resource.access_key_details
    if keys:
        facts.add("Access key", keys.access_key_id)
        who = keys.user_name or keys.principal_id
        facts.add("Principal", f"{keys.user_type or 'principal'} {who}" if who else None)

    intel = finding.service.evidence.threat_intelligence_details if finding.service.evidence else []
    if lists := _unique(t.threat_list_name for t in intel):
        facts.signals.add(SIGNAL_THREAT_INTEL)
        facts.add("Threat list", ", ".join(lists))
    facts.add("Count", str(finding.service.count) if finding.service.count > 1 else None)
    facts.add("Last seen", finding.service.event_last_seen)

    return SecurityEvent(
        source=GuardDutySource.name,
        # updatedAt distinguishes GuardDuty's periodic updates of one finding from a redelivery of the same one.
        id=f"guardduty:{finding.account_id}:{finding.region}:{finding.id}:{finding.updated_at or '-'}",
        subject=f"guardduty:{finding.account_id}:{finding.region}:{finding.id}",
        type=finding.type,
        title=finding.title or finding.type,
        description=finding.description,
        kind=facts.kind,
        native_severity=finding.severity,
        severity_note=f"GuardDuty severity {finding.severity:g} ({band(finding.severity)})",
        account=finding.account_id,
        region=finding.region,
        time=finding.updated_at,
        count=finding.service.count,
        signals=frozenset(facts.signals),
        evidence=tuple(facts.evidence),
        entities=Entities.of(_parties(finding, facts, ips)),
    )


def _parties(finding: Finding, facts: _Facts, ips: tuple[str, ...]) -> list[Party]:
    parties = [Party("ip", ip, facts.remote_role, facts.remote_network) for ip in ips]
    parties += [Party("domain", d, Role.PEER) for d in facts.domains]
    instance = finding.resource.instance_details
    if instance and instance.instance_id:
        parties.append(Party("instance", instance.instance_id, facts.resource_role))
    keys = finding.resource.access_key_details
    if keys:
        parties += [Party("access_key", keys.access_key_id, facts.resource_role)] if keys.access_key_id else []
        who = keys.user_name or keys.principal_id
        parties += [Party("principal", who, facts.resource_role)] if who else []
    parties.append(Party("account", finding.account_id, Role.AFFECTED))
    return parties
