"""GuardDuty findings, as EventBridge delivers them or as ``get-findings`` returns them.

EventBridge wraps the finding (camelCase keys) in ``detail``; the GetFindings API and its CLI return the same
finding with PascalCase keys. Both are accepted. Only the fields Riposte uses are modelled; the rest is
ignored, so new GuardDuty fields never break parsing. Reference:
https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-format.html
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from riposte.model import SIGNAL_ALREADY_BLOCKED, SIGNAL_THREAT_INTEL, Entities, EventKind, SecurityEvent
from riposte.sources import SOURCES
from riposte.sources.base import InputError

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


class GuardDutySource:
    name: ClassVar[str] = "guardduty"
    event_pattern: ClassVar[Mapping[str, Any] | None] = {
        "source": ["aws.guardduty"],
        "detail-type": [DETAIL_TYPE],
    }

    def matches(self, raw: Mapping[str, Any]) -> bool:
        if raw.get("source") == "aws.guardduty":
            return True
        return ("schemaVersion" in raw or "SchemaVersion" in raw) and ("service" in raw or "Service" in raw)

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        if "detail" in raw or raw.get("source") == "aws.guardduty":
            if raw.get("detail-type") != DETAIL_TYPE:
                raise InputError(f"guardduty: expected detail-type {DETAIL_TYPE!r}, got {raw.get('detail-type')!r}")
            detail = raw.get("detail")
            if not isinstance(detail, Mapping):
                raise InputError("guardduty: EventBridge event has no 'detail' object")
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


def to_event(finding: Finding) -> SecurityEvent:
    action = finding.service.action or Action()
    resource = finding.resource
    remotes: list[RemoteIp] = []
    evidence: list[tuple[str, str]] = [("Finding type", finding.type)]
    signals: set[str] = set()
    kind = EventKind.OTHER

    instance = resource.instance_details
    if instance and instance.instance_id:
        evidence.append(("Instance", instance.instance_id))
        private = _unique(n.private_ip_address for n in instance.network_interfaces)
        if private:
            evidence.append(("Instance private IP", ", ".join(private)))

    if (conn := action.network_connection_action) is not None:
        kind = EventKind.NETWORK_CONNECTION
        if conn.remote_ip_details:
            remotes.append(conn.remote_ip_details)
        if conn.connection_direction:
            evidence.append(("Direction", conn.connection_direction.lower()))
        if local := _port(conn.local_port_details, conn.protocol):
            evidence.append(("Local port", local))
        if remote_port := _port(conn.remote_port_details, conn.protocol):
            evidence.append(("Remote port", remote_port))
        if conn.blocked:
            signals.add(SIGNAL_ALREADY_BLOCKED)
    elif (probe := action.port_probe_action) is not None:
        kind = EventKind.PORT_PROBE
        remotes.extend(d.remote_ip_details for d in probe.port_probe_details if d.remote_ip_details)
        ports = _unique(_port(d.local_port_details) for d in probe.port_probe_details)
        if ports:
            evidence.append(("Probed ports", ", ".join(ports)))
        if probe.blocked:
            signals.add(SIGNAL_ALREADY_BLOCKED)
    elif (call := action.aws_api_call_action) is not None:
        kind = EventKind.API_CALL
        if call.remote_ip_details:
            remotes.append(call.remote_ip_details)
        if call.api:
            evidence.append(("API", f"{call.service_name}:{call.api}" if call.service_name else call.api))
        if call.error_code:
            evidence.append(("API error", call.error_code))
    elif (dns := action.dns_request_action) is not None:
        kind = EventKind.DNS_REQUEST
        if dns.domain:
            evidence.append(("Domain", dns.domain))

    remotes = [r for r in remotes if r.address]
    ips = _unique(r.address for r in remotes)
    described = _unique(_describe_ip(r) for r in remotes)
    if described:
        evidence.append(("Remote IP", "; ".join(described[:5]) + (f" and {len(described) - 5} more" if len(described) > 5 else "")))

    keys = resource.access_key_details
    if keys and keys.access_key_id:
        evidence.append(("Access key", keys.access_key_id))
    if keys and (keys.user_name or keys.principal_id):
        evidence.append(("Principal", f"{keys.user_type or 'principal'} {keys.user_name or keys.principal_id}"))

    intel = finding.service.evidence.threat_intelligence_details if finding.service.evidence else []
    lists = _unique(t.threat_list_name for t in intel)
    if lists:
        signals.add(SIGNAL_THREAT_INTEL)
        evidence.append(("Threat list", ", ".join(lists)))

    if finding.service.count > 1:
        evidence.append(("Count", str(finding.service.count)))
    if finding.service.event_last_seen:
        evidence.append(("Last seen", finding.service.event_last_seen))

    return SecurityEvent(
        source=GuardDutySource.name,
        # updatedAt distinguishes GuardDuty's periodic updates of one finding from a redelivery of the same one.
        id=f"guardduty:{finding.account_id}:{finding.region}:{finding.id}:{finding.updated_at or '-'}",
        type=finding.type,
        title=finding.title or finding.type,
        description=finding.description,
        kind=kind,
        native_severity=finding.severity,
        account=finding.account_id,
        region=finding.region,
        time=finding.updated_at,
        count=finding.service.count,
        signals=frozenset(signals),
        evidence=tuple(evidence),
        entities=Entities(
            ips=ips,
            instances=_unique([instance.instance_id] if instance else []),
            access_keys=_unique([keys.access_key_id] if keys else []),
            principals=_unique([keys.user_name or keys.principal_id] if keys else []),
            accounts=(finding.account_id,),
        ),
    )


SOURCES.register(GuardDutySource.name)(GuardDutySource())
