"""Readers of ``resource`` (our side of the finding) and of the runtime and malware-scan details.

Evidence comes first, in the order a human reads it; parties come after the action was read, because their
roles depend on what the finding says happened (an instance that calls a C2 server is compromised, one that is
probed is only affected).
"""

from __future__ import annotations

import re

from riposte.core.model import EventKind, Role
from riposte.sources.guardduty.facts import Facts, clip, listing, unique
from riposte.sources.guardduty.wire import (
    EbsVolumeScanDetails,
    MalwareScanDetails,
    ProcessDetails,
    Resource,
    RuntimeDetails,
)

# Role credentials of an EC2 instance carry its ID as the session name: ``AROA...:i-0123456789abcdef0``.
INSTANCE_SESSION = re.compile(r":(i-[0-9a-f]{8,17})$")
# Runtime context fields worth a line of evidence, by label.
RUNTIME_CONTEXT = (
    ("Command line", "command_line_example"),
    ("Script", "script_path"),
    ("Library", "library_path"),
    ("LD_PRELOAD", "ld_preload_value"),
    ("Socket", "socket_path"),
    ("runc binary", "runc_binary_path"),
    ("Release agent", "release_agent_path"),
    ("Kernel module", "module_name"),
    ("Shell history", "shell_history_file_path"),
    ("Threat file", "threat_file_path"),
    ("File", "file_path"),
    ("Service", "service_name"),
)


def instance_of(principal_id: str | None) -> str | None:
    match = INSTANCE_SESSION.search(principal_id or "")
    return match.group(1) if match else None


def _instance_evidence(resource: Resource, facts: Facts) -> None:
    instance = resource.instance_details
    if instance is None:
        return
    facts.add("Instance", instance.instance_id)
    addresses = (
        a
        for n in instance.network_interfaces
        for a in (n.private_ip_address, *(p.private_ip_address for p in n.private_ip_addresses))
    )
    facts.add("Instance private IP", listing(addresses))


def _workload_evidence(resource: Resource, facts: Facts) -> None:
    eks, ecs = resource.eks_cluster_details, resource.ecs_cluster_details
    facts.add("Cluster", f"EKS {eks.name}" if eks and eks.name else None)
    facts.add("Cluster", f"ECS {ecs.name}" if ecs and ecs.name else None)
    task = ecs.task_details if ecs else None
    if task and task.arn:
        facts.add("Task", f"{task.arn} ({task.launch_type})" if task.launch_type else task.arn)
    k8s = resource.kubernetes_details
    workload = k8s.kubernetes_workload_details if k8s else None
    if workload and workload.name:
        facts.add("Workload", f"{workload.type or 'workload'} {workload.namespace or '-'}/{workload.name}")
    user = k8s.kubernetes_user_details if k8s else None
    if user and user.username:
        groups = f" (groups: {listing(user.groups)})" if user.groups else ""
        facts.add("Kubernetes user", user.username + groups)
    container = resource.container_details
    if container and (container.name or container.image):
        facts.add("Container", " ".join(p for p in (container.name, container.image) if p))
    function = resource.lambda_details
    if function and function.function_name:
        where = f"in {function.vpc_config.vpc_id}" if function.vpc_config and function.vpc_config.vpc_id else None
        facts.add("Function", " ".join(p for p in (function.function_name, f"({where or 'no VPC'})") if p))


def _database_evidence(resource: Resource, facts: Facts) -> None:
    db, limitless = resource.rds_db_instance_details, resource.rds_limitless_db_details
    for name, engine, cluster in (
        (db.db_instance_identifier, db.engine, db.db_cluster_identifier) if db else (None, None, None),
        (
            (limitless.db_shard_group_identifier, limitless.engine, limitless.db_cluster_identifier)
            if limitless
            else (None, None, None)
        ),
    ):
        details = ", ".join(p for p in (engine, f"cluster {cluster}" if cluster else None) if p)
        facts.add("Database", f"{name} ({details})" if name and details else name)
    user = resource.rds_db_user_details
    if user and user.user:
        details = ", ".join(p for p in (f"database {user.database}" if user.database else None, user.auth_method) if p)
        facts.add("Database user", f"{user.user} ({details})" if details else user.user)


def _storage_evidence(resource: Resource, facts: Facts) -> None:
    for bucket in resource.s3_bucket_details:
        public = bucket.public_access.effective_permission if bucket.public_access else None
        access = f" ({public.lower().replace('_', ' ')})" if public else ""
        facts.add("Bucket", f"{bucket.name}{access}" if bucket.name else None)
        facts.add("Object", listing(o.key for o in bucket.s3_object_details))
    volumes = resource.ebs_volume_details.scanned_volume_details if resource.ebs_volume_details else []
    facts.add("Volume", listing(v.volume_arn for v in volumes))
    facts.add("Snapshot", resource.ebs_snapshot_details.snapshot_arn if resource.ebs_snapshot_details else None)
    facts.add("Image", resource.ec2_image_details.image_arn if resource.ec2_image_details else None)
    point = resource.recovery_point_details
    if point:
        facts.add("Recovery point", point.recovery_point_arn)
        facts.add("Backup vault", point.backup_vault_name)


def _ai_evidence(resource: Resource, facts: Facts) -> None:
    facts.add("Model", listing(m.model_id for m in resource.model_details))
    guardrail = resource.bedrock_guardrail_details
    if guardrail and guardrail.guardrail_action:
        filters = listing(f"{f.type} {f.action}" for f in guardrail.content_policy_filters if f.type)
        on = f" on {guardrail.guardrail_source.lower()}" if guardrail.guardrail_source else ""
        facts.add("Guardrail", f"{guardrail.guardrail_action}{on}" + (f" ({filters})" if filters else ""))


def evidence(resource: Resource, facts: Facts) -> None:
    """Our side of the finding, shown before the action."""
    _instance_evidence(resource, facts)
    _workload_evidence(resource, facts)
    _database_evidence(resource, facts)
    _storage_evidence(resource, facts)
    _ai_evidence(resource, facts)


def in_vpc(resource: Resource) -> bool:
    """False only for a Lambda function outside any VPC: its traffic never meets a network ACL of ours."""
    function = resource.lambda_details
    if function is None or resource.instance_details is not None:
        return True
    return function.vpc_config is not None and bool(function.vpc_config.vpc_id)


def parties(resource: Resource, facts: Facts, *, workloads: bool = True) -> None:
    """Our resources, with the roles the readers decided. ``workloads`` is False for findings about a backup,
    which name no live resource."""
    if workloads:
        role = facts.workload_role
        facts.party("instance", resource.instance_details.instance_id if resource.instance_details else None, role)
        # Where the instance's traffic crosses a network ACL: block_ip can pick that subnet's ACL.
        for eni in resource.instance_details.network_interfaces if resource.instance_details else []:
            facts.party("subnet", eni.subnet_id, Role.AFFECTED)
            facts.party("interface", eni.network_interface_id, Role.AFFECTED)
        facts.party("cluster", resource.eks_cluster_details.name if resource.eks_cluster_details else None, role)
        facts.party("cluster", resource.ecs_cluster_details.name if resource.ecs_cluster_details else None, role)
        facts.party("function", resource.lambda_details.function_name if resource.lambda_details else None, role)
        db, limitless = resource.rds_db_instance_details, resource.rds_limitless_db_details
        facts.party("db_instance", db.db_instance_identifier if db else None, role)
        facts.party("db_instance", limitless.db_shard_group_identifier if limitless else None, role)
    for bucket in resource.s3_bucket_details:
        facts.party("bucket", bucket.name, facts.bucket_role)
    identities(resource, facts)


def identities(resource: Resource, facts: Facts) -> None:
    role = facts.identity_role
    k8s = resource.kubernetes_details
    user = k8s.kubernetes_user_details if k8s else None
    facts.party("principal", user.username if user else None, role)
    keys = resource.access_key_details
    if keys:
        facts.party("access_key", keys.access_key_id, role)
        facts.party("principal", keys.user_name or keys.principal_id, role)
        # The instance whose role credentials these are (credential exfiltration names it nowhere else).
        facts.party("instance", instance_of(keys.principal_id), Role.AFFECTED)
    db_user = resource.rds_db_user_details
    facts.party("principal", db_user.user if db_user else None, role)


def principal_evidence(resource: Resource, facts: Facts) -> None:
    keys = resource.access_key_details
    if keys:
        facts.add("Access key", keys.access_key_id)
        who = keys.user_name or keys.principal_id
        facts.add("Principal", f"{keys.user_type or 'principal'} {who}" if who else None)


def _process(process: ProcessDetails | None) -> str | None:
    if process is None or not (process.name or process.executable_path):
        return None
    details = ", ".join(
        p
        for p in (
            process.executable_path if process.executable_path != process.name else None,
            f"pid {process.pid}" if process.pid is not None else None,
            f"user {process.user}" if process.user else None,
        )
        if p
    )
    name = process.name or process.executable_path or "?"
    return f"{name} ({details})" if details else name


def runtime(details: RuntimeDetails, facts: Facts) -> None:
    """Runtime Monitoring: the process and its context. The agent saw it run on our workload: compromised."""
    if facts.kind is EventKind.OTHER:
        facts.kind = EventKind.RUNTIME
    facts.workload_role = Role.COMPROMISED
    process = details.process
    facts.add("Process", _process(process))
    if process and process.lineage:
        facts.add("Parent processes", " < ".join(unique(p.name or p.executable_path for p in process.lineage[:5])))
    context = details.context
    if context is None:
        return
    facts.add("Modified by", _process(context.modifying_process))
    facts.add("Target process", _process(context.target_process))
    facts.add("Tool", " ".join(p for p in (context.tool_name, context.tool_category) if p))
    if context.mount_source or context.mount_target:
        facts.add("Mount", f"{context.mount_source or '?'} -> {context.mount_target or '?'}")
    for label, name in RUNTIME_CONTEXT:
        value = getattr(context, name)
        facts.add(label, clip(value) if isinstance(value, str) else None)


def ebs_scan(scan: EbsVolumeScanDetails, facts: Facts) -> None:
    facts.kind = EventKind.MALWARE
    names = scan.scan_detections.threat_detected_by_name if scan.scan_detections else None
    threats = names.threat_names if names else []
    facts.add("Malware", listing(f"{t.name} ({t.severity.lower()})" if t.severity else t.name for t in threats))
    facts.add("Malware files", listing(p.file_path for t in threats for p in t.file_paths))
    facts.add("Scan", " ".join(p for p in (scan.scan_type, scan.scan_id) if p))
    facts.add("Triggered by finding", scan.trigger_finding_id)


def malware_scan(scan: MalwareScanDetails, facts: Facts) -> None:
    facts.kind = EventKind.MALWARE
    facts.add("Malware", listing(f"{t.name} ({t.source})" if t.source else t.name for t in scan.threats))
    paths = [
        *(p.nested_item_path for t in scan.threats for p in t.item_paths),
        *(i.item_path for t in scan.threats for i in t.item_details),
    ]
    facts.add("Malware files", listing(paths))
    facts.add("Scan", " ".join(p for p in (scan.scan_type, scan.scan_id) if p))


def malware_role(facts: Facts) -> None:
    """A malicious file on a workload's disk means the workload is compromised; a suspicious one, at risk."""
    if "MaliciousFile" in facts.finding.type:
        facts.workload_role = Role.COMPROMISED
