"""Defense evasion against the logs themselves: the trail, flow logs, DNS query logs, log groups, log buckets and
the alarms built on them. A stopped or deleted trail also blinds Riposte: EventBridge receives CloudTrail events
only while some trail is logging."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riposte.core.model import Severity
from riposte.sources.cloudtrail.detections.base import (
    CLOUDTRAIL,
    CLOUDWATCH,
    CRITICAL,
    EC2,
    HIGH,
    LOGS,
    MEDIUM,
    RANK,
    ROUTE53RESOLVER,
    S3,
    Context,
    Hit,
    Response,
    affected,
    calls,
    detection,
    facts,
)
from riposte.sources.cloudtrail.record import Record, as_list, dig, flag, text

SHORT_RETENTION_DAYS = 30


def trail_name(value: Any) -> str:
    """A trail given by name or ARN (``arn:aws:cloudtrail:<region>:<account>:trail/<name>``), as its name."""
    name = text(value)
    return name.rsplit(":trail/", 1)[-1] if ":trail/" in name else name


def _trail(r: Record, key: str = "name") -> tuple[tuple[str, str], ...]:
    given = text(r.param(key))
    return facts(("Trail", trail_name(given)), ("Trail ARN", given if ":trail/" in given else ""))


@detection(
    id="cloudtrail_stop_logging",
    title="CloudTrail trail logging stopped",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(CLOUDTRAIL, "StopLogging"),),
    rationale=(
        "Stopping the trail blinds every log-based control, including Riposte itself (EventBridge only receives "
        "CloudTrail API events while a trail is logging), so it is the single most valuable thing to undo "
        "immediately."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.5 / v1.4 4.5 (Security Hub CloudWatch.5)",
        "MITRE ATT&CK T1562.008",
        "Stratus Red Team aws.defense-evasion.cloudtrail-stop",
        "Sigma: AWS CloudTrail Important Change",
        "Elastic: AWS CloudTrail Log Suspended",
    ),
    playbook=(
        "StartLogging on the trail and confirm with GetTrailStatus (IsLogging)",
        "Identify the actor and its access key; disable the key or revoke the role sessions",
        "Review every call by the same actor or address in the last 24 h (CloudTrail Lake or the S3 copy)",
        "Look for other tampering in the same minutes (GuardDuty, Config, flow logs)",
    ),
    remediation="cloudtrail:StartLogging(Name=<the trail>)",
    benign="Planned decommissioning of a trail through IaC by the platform team's role; StartLogging never fires.",
)
def cloudtrail_stop_logging(r: Record, ctx: Context) -> Hit | None:
    trail = text(r.param("name"))
    return Hit(
        f"trail {trail_name(r.param('name'))} stopped logging", facts=_trail(r), parties=affected("trail", trail)
    )


@detection(
    id="cloudtrail_delete_trail",
    title="CloudTrail trail deleted",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(CLOUDTRAIL, "DeleteTrail"),),
    rationale=(
        "A deleted trail cannot be restarted; its configuration has to be recreated from IaC, and until then the "
        "account (and Riposte) is blind."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.5 / v1.4 4.5 (Security Hub CloudWatch.5)",
        "MITRE ATT&CK T1562.008",
        "Stratus Red Team aws.defense-evasion.cloudtrail-delete",
        "Sigma: AWS CloudTrail Important Change",
        "Elastic: AWS CloudTrail Log Deleted",
    ),
    playbook=(
        "Recreate the trail from IaC (or CreateTrail and StartLogging with the known-good settings)",
        "Contain the actor (disable the key, revoke the sessions)",
        "Check that the trail bucket still exists and is intact",
        "Hunt in the S3 or Lake copy for activity during the gap",
    ),
    remediation="Recreate the trail from IaC; no exact undo exists.",
    benign="Trail consolidation into an organization trail, done by the platform team's role.",
)
def cloudtrail_delete_trail(r: Record, ctx: Context) -> Hit | None:
    return Hit(f"trail {trail_name(r.param('name'))} deleted", facts=_trail(r))


# UpdateTrail parameters that weaken the trail when present with these values (absent: unchanged).
_WEAKENING: tuple[tuple[str, Any, Severity, str], ...] = (
    ("isMultiRegionTrail", False, HIGH, "no longer multi-region"),
    ("includeGlobalServiceEvents", False, HIGH, "global service events (IAM, STS, CloudFront) dropped"),
    ("enableLogFileValidation", False, MEDIUM, "log file validation turned off"),
    ("kmsKeyId", "", MEDIUM, "KMS encryption removed"),
    ("cloudWatchLogsLogGroupArn", "", MEDIUM, "CloudWatch Logs delivery removed"),
)


@detection(
    id="cloudtrail_update_trail_weakened",
    title="CloudTrail trail redirected or weakened",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(CLOUDTRAIL, "UpdateTrail"),),
    rationale=(
        "Redirecting delivery to another bucket, dropping regions or global events, or removing validation, "
        "encryption or CloudWatch delivery keeps the trail 'logging' while its evidence goes elsewhere or becomes "
        "forgeable."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.5 / v1.4 4.5 (Security Hub CloudWatch.5)",
        "MITRE ATT&CK T1562.008",
        "Sigma: AWS CloudTrail Important Change",
        "Elastic: AWS CloudTrail Log Updated",
    ),
    playbook=(
        "Compare the trail (GetTrail) with its IaC definition; restore the bucket, regions, validation and key",
        "If the bucket changed: who owns the new bucket? Copy its objects before they disappear",
        "Contain the actor",
    ),
    remediation="cloudtrail:UpdateTrail(Name, <the known-good settings from IaC>)",
    benign="A planned bucket migration through IaC; parameters that are absent were not changed and never fire.",
)
def cloudtrail_update_trail_weakened(r: Record, ctx: Context) -> Hit | None:
    changes: list[tuple[Severity, str]] = []
    if "s3BucketName" in r.params:
        changes.append((HIGH, f"delivery redirected to bucket {text(r.param('s3BucketName'))}"))
    for key, weak, severity, why in _WEAKENING:
        value = r.param(key)
        if key in r.params and (flag(value) is weak if isinstance(weak, bool) else value == weak):
            changes.append((severity, why))
    if not changes:
        return None
    worst = max((s for s, _ in changes), key=RANK.__getitem__)
    return Hit(
        f"trail {trail_name(r.param('name'))}: {'; '.join(why for _, why in changes)}",
        severity=worst,
        parties=affected("bucket", text(r.param("s3BucketName"))),
        facts=_trail(r),
    )


def _writes_management_events(selector: Mapping[str, Any]) -> bool:
    # IncludeManagementEvents defaults to true and ReadWriteType to All when a selector leaves them out.
    included = flag(selector.get("includeManagementEvents")) is not False
    return included and selector.get("readWriteType", "All") in ("All", "WriteOnly")


def _basic_selectors(selectors: list[Any]) -> Hit | None:
    kept = [s for s in selectors if isinstance(s, Mapping) and _writes_management_events(s)]
    if not kept:
        return Hit("write management events are no longer recorded", severity=HIGH)
    excluded = [source for s in kept for source in as_list(s.get("excludeManagementEventSources"))]
    if excluded:
        return Hit(f"management events of {', '.join(map(str, excluded))} excluded", severity=MEDIUM)
    return None


def _field_selectors(selector: Any) -> dict[str, Mapping[str, Any]]:
    found = as_list(dig(selector, "fieldSelectors"))
    return {str(f.get("field")): f for f in found if isinstance(f, Mapping)}


def _advanced_selectors(selectors: list[Any]) -> Hit | None:
    narrowed = False
    for selector in selectors:
        fields = _field_selectors(selector)
        if "Management" not in as_list(dig(fields.get("eventCategory"), "equals")):
            continue
        if as_list(dig(fields.get("readOnly"), "equals")) == ["true"]:
            continue  # read-only management events only: writes go unrecorded
        if "notEquals" in fields.get("eventSource", {}):
            narrowed = True
            continue
        return None
    if narrowed:
        return Hit("management events of some services excluded", severity=MEDIUM)
    return Hit("write management events are no longer recorded", severity=HIGH)


@detection(
    id="cloudtrail_event_selectors_weakened",
    title="CloudTrail event selectors stop recording management events",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(CLOUDTRAIL, "PutEventSelectors"),),
    rationale=(
        "Selectors that drop write management events (or exclude services such as KMS) leave the trail running "
        "while the API calls that matter are no longer recorded, nor delivered to EventBridge."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.5 / v1.4 4.5 (Security Hub CloudWatch.5)",
        "MITRE ATT&CK T1562.008",
        "Stratus Red Team aws.defense-evasion.cloudtrail-event-selectors",
        "Panther: AWS.CloudTrail.EventSelectorsDisabled",
    ),
    playbook=(
        "Restore the selectors (management events, read and write) from IaC",
        "Contain the actor",
        "Review what happened while management events were not recorded (other trails, Config)",
    ),
    remediation="cloudtrail:PutEventSelectors(TrailName, [ReadWriteType=All, IncludeManagementEvents=true])",
    benign="Adding data-event selectors while keeping all management events never fires.",
)
def cloudtrail_event_selectors_weakened(r: Record, ctx: Context) -> Hit | None:
    if "eventSelectors" in r.params:
        found = _basic_selectors(as_list(r.param("eventSelectors")))
    elif "advancedEventSelectors" in r.params:
        found = _advanced_selectors(as_list(r.param("advancedEventSelectors")))
    else:
        return None
    if found is None:
        return None
    trail = trail_name(r.param("trailName"))
    return Hit(f"trail {trail}: {found.why}", severity=found.severity, facts=_trail(r, "trailName"))


def _expires_soon(rule: Any) -> bool:
    if not isinstance(rule, Mapping) or rule.get("Status") != "Enabled":
        return False
    for days in (dig(rule, "Expiration", "Days"), dig(rule, "NoncurrentVersionExpiration", "NoncurrentDays")):
        try:
            if days is not None and int(days) <= SHORT_RETENTION_DAYS:
                return True
        except (TypeError, ValueError):
            continue
    return False


@detection(
    id="cloudtrail_log_bucket_lifecycle_shortened",
    title="Lifecycle rule deletes log files within days",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(S3, "PutBucketLifecycle"),),
    rationale=(
        "A short expiration on the log bucket quietly destroys the evidence (and everything older) while the trail "
        f"keeps logging; rules expiring log files within {SHORT_RETENTION_DAYS} days are treated as tampering."
    ),
    references=(
        "MITRE ATT&CK T1562.008",
        "MITRE ATT&CK T1485",
        "Stratus Red Team aws.defense-evasion.cloudtrail-lifecycle-rule",
    ),
    playbook=(
        "Restore the bucket's lifecycle configuration from IaC (or delete the rule)",
        "Check that versioning is still on and noncurrent versions are kept",
        "Contain the actor",
    ),
    remediation="s3:PutBucketLifecycleConfiguration(<the known-good rules>), or s3:DeleteBucketLifecycle",
    benign="Archive rules (transition after 90 days, expiry after years) never fire.",
)
def cloudtrail_log_bucket_lifecycle_shortened(r: Record, ctx: Context) -> Hit | None:
    bucket = text(r.param("bucketName"))
    if not ctx.log_bucket(bucket):
        return None
    if not any(_expires_soon(rule) for rule in as_list(r.param("LifecycleConfiguration", "Rule"))):
        return None
    why = f"log bucket {bucket} set to expire objects within {SHORT_RETENTION_DAYS} days"
    return Hit(why, parties=affected("bucket", bucket))


def _flow_log_ids(r: Record) -> list[str]:
    wrapped = as_list(r.param("DeleteFlowLogsRequest", "FlowLogId"))
    # Newer EC2 APIs log the request wrapped: {"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-..."}}}.
    ids = [text(dig(item, "content")) if isinstance(item, Mapping) else text(item) for item in wrapped]
    return [i for i in ids if i]


@detection(
    id="vpc_flow_logs_deleted",
    title="VPC flow logs deleted",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(EC2, "DeleteFlowLogs"),),
    rationale="Deleting flow logs removes the network record of exfiltration and lateral movement that follows.",
    references=(
        "MITRE ATT&CK T1562.008",
        "Stratus Red Team aws.defense-evasion.vpc-remove-flow-logs",
        "Sigma: AWS VPC Flow Logs Deleted",
        "Elastic: AWS EC2 Flow Log Deletion",
    ),
    playbook=(
        "Recreate the flow logs from IaC (the same destination and format)",
        "Contain the actor",
        "Check GuardDuty for network findings during the gap",
    ),
    remediation="Recreate the flow logs from IaC (ec2:CreateFlowLogs); no exact undo exists.",
    benign="Tearing down a test VPC through IaC.",
)
def vpc_flow_logs_deleted(r: Record, ctx: Context) -> Hit | None:
    ids = _flow_log_ids(r)
    return Hit(f"flow logs {', '.join(ids) or '(unnamed)'} deleted", facts=facts(("Flow logs", ids)))


def _protected_group(name: str, ctx: Context) -> bool:
    return any(marker in name.lower() for marker in ctx.protected_log_group_markers)


@detection(
    id="cloudwatch_log_group_deleted",
    title="Security log group or stream deleted",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(LOGS, "DeleteLogGroup", "DeleteLogStream"),),
    rationale=(
        "Log groups holding CloudTrail, flow logs, DNS query logs or security tooling output are evidence; deleting "
        "them (or their streams) destroys it and breaks the metric filters and alarms built on them."
    ),
    references=(
        "MITRE ATT&CK T1562.008",
        "MITRE ATT&CK T1070",
        "Panther: AWS.CloudWatchLogs log deletion rules",
    ),
    playbook=(
        "Recreate the log group from IaC (retention, encryption, subscriptions, metric filters)",
        "Recover what you can from the other copies (S3 trail bucket, flow-log bucket)",
        "Contain the actor",
    ),
    remediation="Recreate the log group from IaC; deleted log data cannot be recovered.",
    benign="CI deleting the log groups of short-lived functions (names without a protected marker) never fires.",
)
def cloudwatch_log_group_deleted(r: Record, ctx: Context) -> Hit | None:
    group = text(r.param("logGroupName"))
    if not _protected_group(group, ctx):
        return None
    if r.event_name == "DeleteLogStream":
        stream = text(r.param("logStreamName"))
        return Hit(f"stream {stream} of log group {group} deleted", severity=MEDIUM, facts=facts(("Log group", group)))
    return Hit(f"log group {group} deleted", facts=facts(("Log group", group)))


def _protected_alarm(name: str, ctx: Context) -> bool:
    return any(marker in name.lower() for marker in ctx.protected_alarm_markers)


@detection(
    id="cloudwatch_security_alarm_tampered",
    title="Security alarm or metric filter removed",
    severity=MEDIUM,
    listens=(calls(CLOUDWATCH, "DeleteAlarms", "DisableAlarmActions"), calls(LOGS, "DeleteMetricFilter")),
    rationale=(
        "The CIS monitoring controls are metric filters on the trail's log group with alarms on them; deleting or "
        "muting them silences root-usage, unauthorized-call and console-failure alerts before the real work starts."
    ),
    references=(
        "CIS AWS Foundations v1.4 4.1-4.15 (the alarms themselves)",
        "MITRE ATT&CK T1562.001",
    ),
    playbook=(
        "Recreate the alarm or metric filter from IaC, or EnableAlarmActions",
        "Contain the actor",
        "Check what the alarm would have caught since it was removed",
    ),
    remediation="cloudwatch:EnableAlarmActions(AlarmNames) for disabled alarms; recreate deleted ones from IaC.",
    benign="Auto Scaling removing its own target-tracking alarms (invoked by the service) never fires.",
)
def cloudwatch_security_alarm_tampered(r: Record, ctx: Context) -> Hit | None:
    names = [text(n) for n in as_list(r.param("alarmNames"))] + [text(r.param("filterName"))]
    hit = [n for n in names if n and _protected_alarm(n, ctx)]
    if not hit:
        return None
    what = "metric filter" if r.event_name == "DeleteMetricFilter" else "alarm"
    verb = "actions disabled" if r.event_name == "DisableAlarmActions" else "deleted"
    return Hit(f"{what} {', '.join(hit)} {verb}", facts=facts(("Log group", text(r.param("logGroupName")))))


@detection(
    id="logging_bucket_deleted",
    title="Log bucket deleted",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(S3, "DeleteBucket"),),
    rationale=(
        "Deleting the bucket that receives CloudTrail, flow or access logs destroys the evidence and makes the "
        "delivery fail (a trail whose bucket is gone stops delivering)."
    ),
    references=(
        "MITRE ATT&CK T1485",
        "MITRE ATT&CK T1562.008",
        "Sigma: AWS DeleteBucket Command Monitoring",
    ),
    playbook=(
        "Recreate the bucket from IaC with its policy; the name may be claimed by someone else meanwhile",
        "Point the trail and flow logs at it again and verify delivery",
        "Contain the actor",
    ),
    remediation="Recreate the bucket from IaC; deleted objects cannot be recovered.",
    benign="Deleting buckets whose names carry no log marker (preview environments) never fires.",
)
def logging_bucket_deleted(r: Record, ctx: Context) -> Hit | None:
    bucket = text(r.param("bucketName"))
    if not ctx.log_bucket(bucket):
        return None
    return Hit(f"log bucket {bucket} deleted", parties=affected("bucket", bucket))


@detection(
    id="route53_resolver_query_logging_removed",
    title="Route 53 Resolver query logging removed",
    severity=MEDIUM,
    listens=(calls(ROUTE53RESOLVER, "DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig"),),
    rationale="DNS query logs show C2 and exfiltration domains; removing them hides what infected hosts resolve.",
    references=(
        "MITRE ATT&CK T1562.008",
        "Stratus Red Team aws.defense-evasion.dns-delete-logs",
        "Panther: AWS.CloudTrail.DNSLogsDeleted",
    ),
    playbook=(
        "Re-associate the query log configuration with the VPC (or recreate it from IaC)",
        "Contain the actor",
        "Check GuardDuty DNS findings for the gap",
    ),
    remediation="route53resolver:AssociateResolverQueryLogConfig(ResolverQueryLogConfigId, ResourceId)",
    benign="Associating query logging never fires.",
)
def route53_resolver_query_logging_removed(r: Record, ctx: Context) -> Hit | None:
    config = text(r.param("resolverQueryLogConfigId"))
    vpc = text(r.param("resourceId"))
    why = f"query logging {config} removed" + (f" from {vpc}" if vpc else "")
    return Hit(why, facts=facts(("Query log config", config), ("VPC", vpc)))
