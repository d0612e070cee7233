"""GuardDuty's finding as it arrives: pydantic models of the fields Riposte reads, nothing else.

Keys. EventBridge and the GetFindings REST API use the service model's locationNames (camelCase); boto3 and the
AWS CLI use its member names (PascalCase). Every field accepts both spellings through explicit aliases made from
its name; the few members whose two spellings differ by more than the first letter (``sourceIPs`` /
``SourceIps``, ``LoginAttributes``, a sequence account's ``account`` / ``Name``) name theirs. Keys are never
rewritten: map-typed members (``affectedResources`` with keys such as ``AWS::S3::Bucket``, tags) stay as they
are, and nothing recurses into unknown data. A test walks these models against the botocore service model.

Types. Strict where a decision depends on the value: severity (a real number 0-10), ``service.count`` (an
integer 1..2**31-1, GuardDuty's Integer), ``archived``/``blocked``/``affiliated`` (real booleans), remote
addresses (valid IPs, normalized) and the identifiers actions could target (instance IDs, keys, names).
Lenient where the value is only shown: geo and ASN fields (``organization.asn`` arrives as a string or, from
other tools, a number), ports, process details, and timestamps (ISO strings or epoch seconds). Unknown fields
are ignored; explicit nulls mean absent.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
)
from pydantic.alias_generators import to_camel, to_pascal

T = TypeVar("T")

# GuardDuty's Integer is a 32-bit Java int: a larger count is not GuardDuty's, and is refused, not capped.
MAX_COUNT = 2**31 - 1


def _both_spellings(name: str) -> AliasChoices:
    return AliasChoices(to_camel(name), to_pascal(name))


class Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=_both_spellings), extra="ignore", frozen=True
    )


def _text(value: Any) -> str | None:
    """Shown-only text: strings as they are, numbers as digits, anything else absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else str(value)
    return None


def _number(value: Any) -> int | None:
    """Shown-only integers (ports, pids, counters): a non-integer is absent rather than an error."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _address(value: str) -> str:
    if "%" in value:
        raise ValueError("a remote address cannot carry a zone index")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value[:64]!r} is not an IP address") from None


def _empty_is_absent(value: Any) -> Any:
    return None if value == "" else value


def _none_is_empty(value: Any) -> Any:
    return [] if value is None else value


def _none_is_object(value: Any) -> Any:
    return {} if value is None else value


def _epoch(value: float) -> str:
    try:
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch seconds {value!r} out of range") from None


def _stamp(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch(value)
    raise ValueError("must be an ISO-8601 string or epoch seconds")


def _loose_stamp(value: Any) -> Any:
    try:
        return _stamp(value)
    except ValueError:
        return None


Text = Annotated[str | None, BeforeValidator(_text)]
Number = Annotated[int | None, BeforeValidator(_number)]
# A remote address: a valid IP, normalized (an action may target it). An empty string means absent.
AnyAddress = Annotated[StrictStr, AfterValidator(_address)]
Address = Annotated[AnyAddress | None, BeforeValidator(_empty_is_absent)]
Many = Annotated[list[T], BeforeValidator(_none_is_empty)]
# Part of the finding's identity (``updatedAt`` tells an update from a redelivery): a wrong type is an error.
Stamp = Annotated[str | None, BeforeValidator(_stamp)]
LooseStamp = Annotated[str | None, BeforeValidator(_loose_stamp)]
Severity = Annotated[float, Field(strict=True, ge=0, le=10, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)]


# --- remote parties -------------------------------------------------------------------------------------------


class Organization(Wire):
    asn: Text = None
    asn_org: Text = None
    org: Text = None


class Country(Wire):
    country_name: Text = None
    country_code: Text = None


class RemoteIp(Wire):
    ip_address_v4: Address = None
    ip_address_v6: Address = None
    organization: Organization | None = None
    country: Country | None = None

    @property
    def addresses(self) -> tuple[str, ...]:
        """Both halves of a dual-stack remote: each is the same party's."""
        return tuple(a for a in (self.ip_address_v4, self.ip_address_v6) if a)


class LocalIp(Wire):
    ip_address_v4: Text = None
    ip_address_v6: Text = None


class PortDetails(Wire):
    port: Number = None
    port_name: Text = None


# --- actions --------------------------------------------------------------------------------------------------


class NetworkConnectionAction(Wire):
    connection_direction: Text = None
    remote_ip_details: RemoteIp | None = None
    remote_port_details: PortDetails | None = None
    local_port_details: PortDetails | None = None
    local_ip_details: LocalIp | None = None
    protocol: Text = None
    blocked: StrictBool | None = None


class PortProbeDetail(Wire):
    local_port_details: PortDetails | None = None
    remote_ip_details: RemoteIp | None = None


class PortProbeAction(Wire):
    blocked: StrictBool | None = None
    port_probe_details: Many[PortProbeDetail] = []


class RemoteAccount(Wire):
    account_id: StrictStr | None = None
    # Decides whether the caller's account is ours (in our organization) or a foreign actor.
    affiliated: StrictBool | None = None
    aws_service_name: Text = None


class DomainDetails(Wire):
    domain: Text = None


class AwsApiCallAction(Wire):
    api: Text = None
    service_name: Text = None
    caller_type: Text = None
    error_code: Text = None
    user_agent: Text = None
    remote_ip_details: RemoteIp | None = None
    remote_account_details: RemoteAccount | None = None
    domain_details: DomainDetails | None = None
    # A map: CloudFormation type -> identifier. Its keys are data, never re-cased.
    affected_resources: Annotated[dict[str, StrictStr], BeforeValidator(_none_is_object)] = {}


class DnsRequestAction(Wire):
    domain: StrictStr | None = None
    domain_with_suffix: Text = None
    protocol: Text = None
    blocked: StrictBool | None = None
    vpc_owner_account_id: StrictStr | None = None


class KubernetesApiCallAction(Wire):
    request_uri: Text = None
    verb: Text = None
    resource: Text = None
    subresource: Text = None
    namespace: Text = None
    resource_name: Text = None
    # The caller and any proxies or load balancers on the way to the API endpoint.
    source_ips: Many[AnyAddress] = Field(
        default=[], validation_alias=AliasChoices("sourceIPs", "SourceIps", "sourceIps")
    )
    user_agent: Text = None
    remote_ip_details: RemoteIp | None = None
    status_code: Number = None


class KubernetesRoleBindingDetails(Wire):
    kind: Text = None
    name: Text = None
    role_ref_kind: Text = None
    role_ref_name: Text = None


class KubernetesRoleDetails(Wire):
    kind: Text = None
    name: Text = None


class KubernetesPermissionCheckedDetails(Wire):
    verb: Text = None
    resource: Text = None
    namespace: Text = None
    allowed: bool | None = None


class LoginAttribute(Wire):
    user: StrictStr | None = None
    application: Text = None
    failed_login_attempts: Number = None
    successful_login_attempts: Number = None


class RdsLoginAttemptAction(Wire):
    remote_ip_details: RemoteIp | None = None
    # Capital L on the wire as in boto3 (the model's locationName); the lower-case form is accepted as well.
    login_attributes: Many[LoginAttribute] = Field(
        default=[], validation_alias=AliasChoices("LoginAttributes", "loginAttributes")
    )


class Action(Wire):
    action_type: Text = None
    network_connection_action: NetworkConnectionAction | None = None
    port_probe_action: PortProbeAction | None = None
    aws_api_call_action: AwsApiCallAction | None = None
    dns_request_action: DnsRequestAction | None = None
    kubernetes_api_call_action: KubernetesApiCallAction | None = None
    rds_login_attempt_action: RdsLoginAttemptAction | None = None
    kubernetes_permission_checked_details: KubernetesPermissionCheckedDetails | None = None
    kubernetes_role_binding_details: KubernetesRoleBindingDetails | None = None
    kubernetes_role_details: KubernetesRoleDetails | None = None


# --- runtime and malware --------------------------------------------------------------------------------------


class LineageObject(Wire):
    name: Text = None
    executable_path: Text = None
    pid: Number = None


class ProcessDetails(Wire):
    name: Text = None
    executable_path: Text = None
    executable_sha256: Text = None
    pid: Number = None
    user: Text = None
    lineage: Many[LineageObject] = []


class RuntimeContext(Wire):
    modifying_process: ProcessDetails | None = None
    target_process: ProcessDetails | None = None
    command_line_example: Text = None
    script_path: Text = None
    library_path: Text = None
    ld_preload_value: Text = None
    socket_path: Text = None
    runc_binary_path: Text = None
    release_agent_path: Text = None
    mount_source: Text = None
    mount_target: Text = None
    module_name: Text = None
    tool_name: Text = None
    tool_category: Text = None
    threat_file_path: Text = None
    file_path: Text = None
    shell_history_file_path: Text = None
    service_name: Text = None


class RuntimeDetails(Wire):
    process: ProcessDetails | None = None
    context: RuntimeContext | None = None


class ScanFilePath(Wire):
    file_path: Text = None


class ScanThreatName(Wire):
    name: Text = None
    severity: Text = None
    file_paths: Many[ScanFilePath] = []


class ThreatDetectedByName(Wire):
    threat_names: Many[ScanThreatName] = []


class ScanDetections(Wire):
    threat_detected_by_name: ThreatDetectedByName | None = None


class EbsVolumeScanDetails(Wire):
    scan_id: Text = None
    scan_type: Text = None
    trigger_finding_id: Text = None
    scan_detections: ScanDetections | None = None


class ItemPath(Wire):
    nested_item_path: Text = None


class ItemDetails(Wire):
    resource_arn: Text = None
    item_path: Text = None


class Threat(Wire):
    name: Text = None
    source: Text = None
    item_paths: Many[ItemPath] = []
    item_details: Many[ItemDetails] = []


class MalwareScanDetails(Wire):
    scan_id: Text = None
    scan_type: Text = None
    threats: Many[Threat] = []


# --- attack sequences -----------------------------------------------------------------------------------------


class Indicator(Wire):
    key: Text = None
    # Strings per the model; the docs show objects for SUSPICIOUS_NETWORK. Only strings are read.
    values: Many[Any] = []


class Signal(Wire):
    uid: Text = None
    type: Text = None
    name: Text = None
    count: Number = None
    endpoint_ids: Many[Text] = []
    signal_indicators: Many[Indicator] = []


class SequenceAccount(Wire):
    uid: StrictStr | None = None
    name: Text = Field(default=None, validation_alias=AliasChoices("account", "Name"))


class SequenceUser(Wire):
    name: StrictStr | None = None
    uid: Text = None
    type: Text = None
    credential_uid: StrictStr | None = None
    account: SequenceAccount | None = None


class SequenceSession(Wire):
    mfa_status: Text = None


class ActorProcess(Wire):
    name: Text = None
    path: Text = None


class Actor(Wire):
    id: Text = None
    user: SequenceUser | None = None
    session: SequenceSession | None = None
    process: ActorProcess | None = None


class EndpointLocation(Wire):
    city: Text = None
    country: Text = None


class AutonomousSystem(Wire):
    name: Text = None
    number: Text = None


class EndpointConnection(Wire):
    direction: Text = None


class Endpoint(Wire):
    id: Text = None
    ip: Address = None
    domain: StrictStr | None = None
    port: Number = None
    location: EndpointLocation | None = None
    autonomous_system: AutonomousSystem | None = None
    connection: EndpointConnection | None = None


class HasInstances(Wire):
    ec2_instance_uids: Many[StrictStr] = []


class SequenceAccessKey(Wire):
    user_name: StrictStr | None = None


class ResourceData(Wire):
    access_key: SequenceAccessKey | None = None
    eks_cluster: HasInstances | None = None
    ecs_cluster: HasInstances | None = None
    iam_instance_profile: HasInstances | None = None
    autoscaling_auto_scaling_group: HasInstances | None = None
    ec2_launch_template: HasInstances | None = None
    ec2_vpc: HasInstances | None = None
    ec2_image: HasInstances | None = None
    cloudformation_stack: HasInstances | None = None

    @property
    def instance_ids(self) -> list[str]:
        holders = (
            self.eks_cluster,
            self.ecs_cluster,
            self.iam_instance_profile,
            self.autoscaling_auto_scaling_group,
            self.ec2_launch_template,
            self.ec2_vpc,
            self.ec2_image,
            self.cloudformation_stack,
        )
        return [uid for holder in holders if holder for uid in holder.ec2_instance_uids]


class SequenceResource(Wire):
    uid: StrictStr | None = None
    name: StrictStr | None = None
    account_id: StrictStr | None = None
    resource_type: Text = None
    data: ResourceData | None = None


class Sequence(Wire):
    uid: Text = None
    description: Text = None
    actors: Many[Actor] = []
    resources: Many[SequenceResource] = []
    endpoints: Many[Endpoint] = []
    signals: Many[Signal] = []
    sequence_indicators: Many[Indicator] = []


class Detection(Wire):
    sequence: Sequence | None = None


# --- the resource ---------------------------------------------------------------------------------------------


class PrivateIp(Wire):
    private_ip_address: Text = None


class NetworkInterface(Wire):
    private_ip_address: Text = None
    private_ip_addresses: Many[PrivateIp] = []
    vpc_id: Text = None
    subnet_id: Text = None
    network_interface_id: Text = None


class InstanceDetails(Wire):
    instance_id: StrictStr | None = None
    network_interfaces: Many[NetworkInterface] = []


class AccessKeyDetails(Wire):
    access_key_id: StrictStr | None = None
    principal_id: StrictStr | None = None
    user_name: StrictStr | None = None
    user_type: Text = None


class S3ObjectDetail(Wire):
    key: Text = None


class PublicAccess(Wire):
    effective_permission: Text = None


class S3BucketDetail(Wire):
    name: StrictStr | None = None
    arn: StrictStr | None = None
    type: Text = None
    public_access: PublicAccess | None = None
    s3_object_details: Many[S3ObjectDetail] = []


class EksClusterDetails(Wire):
    name: StrictStr | None = None
    vpc_id: Text = None


class EcsTaskDetails(Wire):
    arn: Text = None
    definition_arn: Text = None
    launch_type: Text = None


class EcsClusterDetails(Wire):
    name: StrictStr | None = None
    task_details: EcsTaskDetails | None = None


class Container(Wire):
    name: Text = None
    image: Text = None


class KubernetesUserDetails(Wire):
    username: StrictStr | None = None
    groups: Many[Text] = []


class KubernetesWorkloadDetails(Wire):
    name: Text = None
    type: Text = None
    namespace: Text = None


class KubernetesDetails(Wire):
    kubernetes_user_details: KubernetesUserDetails | None = None
    kubernetes_workload_details: KubernetesWorkloadDetails | None = None


class VpcConfig(Wire):
    vpc_id: Text = None


class LambdaDetails(Wire):
    function_name: StrictStr | None = None
    function_version: Text = None
    vpc_config: VpcConfig | None = None


class RdsDbInstanceDetails(Wire):
    db_instance_identifier: StrictStr | None = None
    db_cluster_identifier: Text = None
    engine: Text = None


class RdsLimitlessDbDetails(Wire):
    db_shard_group_identifier: StrictStr | None = None
    db_cluster_identifier: Text = None
    engine: Text = None


class RdsDbUserDetails(Wire):
    user: StrictStr | None = None
    database: Text = None
    auth_method: Text = None


class VolumeDetail(Wire):
    volume_arn: Text = None
    device_name: Text = None


class EbsVolumeDetails(Wire):
    scanned_volume_details: Many[VolumeDetail] = []


class EbsSnapshotDetails(Wire):
    snapshot_arn: Text = None


class Ec2ImageDetails(Wire):
    image_arn: Text = None


class RecoveryPointDetails(Wire):
    recovery_point_arn: Text = None
    backup_vault_name: Text = None


class ModelDetail(Wire):
    model_id: Text = None


class ContentPolicyFilter(Wire):
    type: Text = None
    action: Text = None


class BedrockGuardrailDetails(Wire):
    guardrail_action: Text = None
    guardrail_source: Text = None
    content_policy_filters: Many[ContentPolicyFilter] = []


class Resource(Wire):
    resource_type: Text = None
    instance_details: InstanceDetails | None = None
    access_key_details: AccessKeyDetails | None = None
    s3_bucket_details: Many[S3BucketDetail] = []
    eks_cluster_details: EksClusterDetails | None = None
    ecs_cluster_details: EcsClusterDetails | None = None
    container_details: Container | None = None
    kubernetes_details: KubernetesDetails | None = None
    lambda_details: LambdaDetails | None = None
    rds_db_instance_details: RdsDbInstanceDetails | None = None
    rds_limitless_db_details: RdsLimitlessDbDetails | None = None
    rds_db_user_details: RdsDbUserDetails | None = None
    ebs_volume_details: EbsVolumeDetails | None = None
    ebs_snapshot_details: EbsSnapshotDetails | None = None
    ec2_image_details: Ec2ImageDetails | None = None
    recovery_point_details: RecoveryPointDetails | None = None
    model_details: Many[ModelDetail] = []
    bedrock_guardrail_details: BedrockGuardrailDetails | None = None


# --- the finding ----------------------------------------------------------------------------------------------


class ThreatIntel(Wire):
    threat_list_name: Text = None


class Evidence(Wire):
    threat_intelligence_details: Many[ThreatIntel] = []


class Service(Wire):
    action: Action | None = None
    count: Count | None = None
    archived: StrictBool | None = None
    resource_role: Text = None
    feature_name: Text = None
    event_first_seen: LooseStamp = None
    event_last_seen: LooseStamp = None
    evidence: Evidence | None = None
    # Free-form per finding type (and flattened beside ``value`` by EventBridge); read by ``sample``.
    additional_info: dict[str, Any] | None = None
    runtime_details: RuntimeDetails | None = None
    ebs_volume_scan_details: EbsVolumeScanDetails | None = None
    malware_scan_details: MalwareScanDetails | None = None
    detection: Detection | None = None


class Finding(Wire):
    schema_version: StrictStr
    account_id: StrictStr
    region: StrictStr
    id: StrictStr
    type: StrictStr
    severity: Severity
    title: Text = None
    description: Text = None
    created_at: Stamp = None
    updated_at: Stamp = None
    # Set on a finding that belongs to an attack sequence, and on one a custom detection rule produced.
    associated_attack_sequence_arn: Text = None
    custom_detection_rule_name: Text = None
    resource: Annotated[Resource, BeforeValidator(_none_is_object)] = Resource()
    service: Annotated[Service, BeforeValidator(_none_is_object)] = Service()
