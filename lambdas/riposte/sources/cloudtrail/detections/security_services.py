"""Defense evasion against the security services that watch the account: GuardDuty, AWS Config, Security Hub and
the organization that governs it all; and denied attempts at any of it."""

from __future__ import annotations

from riposte.sources.cloudtrail.detections.base import (
    CLOUDTRAIL,
    CONFIG,
    CRITICAL,
    EC2,
    GUARDDUTY,
    HIGH,
    KMS,
    LOGS,
    MEDIUM,
    ORGANIZATIONS,
    ROUTE53RESOLVER,
    S3,
    SECURITYHUB,
    Context,
    Hit,
    Outcome,
    Response,
    affected,
    calls,
    detection,
    facts,
)
from riposte.sources.cloudtrail.record import Record, as_list, dig, flag, text


def _detector(r: Record) -> tuple[tuple[str, str], ...]:
    return facts(("Detector", text(r.param("detectorId"))), ("Region", r.aws_region))


@detection(
    id="guardduty_detector_deleted",
    title="GuardDuty detector deleted",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(GUARDDUTY, "DeleteDetector"),),
    rationale=(
        "Deleting the detector ends threat detection in the region and discards its findings history; Riposte "
        "loses its GuardDuty input there."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS GuardDuty Detector Deleted Or Updated",
        "Elastic: AWS GuardDuty Detector Deletion",
    ),
    playbook=(
        "Recreate the detector in the region (features and publishing destination from IaC)",
        "Contain the actor",
        "Review the region's activity since the deletion with CloudTrail",
    ),
    remediation="guardduty:CreateDetector(Enable=true) in the region; the findings history is lost.",
    benign="Decommissioning a region that is also blocked by an SCP.",
)
def guardduty_detector_deleted(r: Record, ctx: Context) -> Hit | None:
    return Hit(f"detector {text(r.param('detectorId'))} deleted in {r.aws_region}", facts=_detector(r))


@detection(
    id="guardduty_detector_disabled",
    title="GuardDuty detector suspended",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(GUARDDUTY, "UpdateDetector"),),
    rationale="A suspended detector stops generating findings while looking configured; it is the quiet delete.",
    references=(
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS GuardDuty Detector Deleted Or Updated",
        "Atomic Red Team T1562.001 (GuardDuty suspension)",
    ),
    playbook=(
        "UpdateDetector(Enable=true) and confirm with GetDetector",
        "Contain the actor",
        "Review the region's activity while the detector was suspended",
    ),
    remediation="guardduty:UpdateDetector(DetectorId, Enable=true)",
    benign="UpdateDetector that changes the publishing frequency or features (no 'enable') never fires here.",
)
def guardduty_detector_disabled(r: Record, ctx: Context) -> Hit | None:
    if flag(r.param("enable")) is not False:
        return None
    detector = text(r.param("detectorId"))
    return Hit(
        f"detector {detector} suspended in {r.aws_region}", facts=_detector(r), parties=affected("detector", detector)
    )


# Agent auto-management switches (EKS_ADDON_MANAGEMENT, ECS_FARGATE_AGENT_MANAGEMENT, EC2_AGENT_MANAGEMENT): off, the
# agent is managed by hand, and detection goes on.
_AGENT_MANAGEMENT = "_MANAGEMENT"
# A single ArchiveFindings call with this many findings is a sweep, not an analyst closing a few.
BULK_ARCHIVE = 10


def _features_off(r: Record) -> list[str]:
    """GuardDuty protections an UpdateDetector call turns off: ``features`` (and their additional configuration)
    with status DISABLED, and the legacy ``dataSources`` with ``enable`` (or ``ebsVolumes``) false."""
    off: list[str] = []
    for feature in as_list(r.param("features")):
        if not isinstance(feature, dict):
            continue
        name = text(feature.get("name")) or "?"
        if text(feature.get("status")).upper() == "DISABLED":
            off.append(name)
        for extra in as_list(feature.get("additionalConfiguration")):
            extra_name = text(dig(extra, "name"))
            disabled = text(dig(extra, "status")).upper() == "DISABLED"
            if disabled and not extra_name.upper().endswith(_AGENT_MANAGEMENT):
                off.append(f"{name}/{extra_name or '?'}")
    off.extend(_sources_off(r.param("dataSources"), "dataSources"))
    return off


def _sources_off(value: object, path: str) -> list[str]:
    """Every ``enable: false`` (and ``ebsVolumes: false``) under the legacy ``dataSources`` tree."""
    if not isinstance(value, dict):
        return []
    off: list[str] = []
    for key, child in value.items():
        if key in ("enable", "ebsVolumes") and flag(child) is False:
            off.append(path if key == "enable" else f"{path}.{key}")
        else:
            off.extend(_sources_off(child, f"{path}.{key}"))
    return off


@detection(
    id="guardduty_protection_disabled",
    title="GuardDuty protection plan turned off",
    severity=HIGH,
    listens=(calls(GUARDDUTY, "UpdateDetector"),),
    rationale=(
        "Turning off a protection plan (S3 data events, EKS audit logs, runtime monitoring, malware scans, RDS or "
        "Lambda protection) blinds GuardDuty to that whole surface while the detector still looks enabled."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS GuardDuty Detector Deleted Or Updated",
        "AWS GuardDuty documentation: UpdateDetector features",
    ),
    playbook=(
        "Turn the protection back on (UpdateDetector with the feature ENABLED) and confirm with GetDetector",
        "Contain the actor unless the change is planned",
        "Review that surface's activity since (S3 data events, EKS audit logs) with CloudTrail",
    ),
    remediation="guardduty:UpdateDetector(DetectorId, Features=[{Name: <feature>, Status: ENABLED}])",
    benign="Turning protections on, publishing frequency changes and agent auto-management switches never fire.",
)
def guardduty_protection_disabled(r: Record, ctx: Context) -> Hit | None:
    off = _features_off(r)
    if not off:
        return None
    detector = text(r.param("detectorId"))
    return Hit(
        f"detector {detector} in {r.aws_region}: {', '.join(off)} turned off",
        facts=(*_detector(r), *facts(("Turned off", off))),
        parties=affected("detector", detector),
    )


@detection(
    id="guardduty_publishing_destination_deleted",
    title="GuardDuty findings export deleted",
    severity=HIGH,
    listens=(calls(GUARDDUTY, "DeletePublishingDestination"),),
    rationale=(
        "The publishing destination exports every finding to S3 for retention beyond GuardDuty's 90 days and for "
        "the SIEM; deleting it silently ends the long-term record while detection looks unchanged."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "AWS GuardDuty documentation: exporting findings",
    ),
    playbook=(
        "Recreate the destination (bucket and KMS key from IaC) and confirm with DescribePublishingDestination",
        "Contain the actor",
        "Export the findings of the gap (ListFindings, GetFindings) while they are still kept",
    ),
    remediation="guardduty:CreatePublishingDestination(DetectorId, DestinationType=S3, DestinationProperties)",
    benign="Moving the export to a new bucket (a CreatePublishingDestination in the same change).",
)
def guardduty_publishing_destination_deleted(r: Record, ctx: Context) -> Hit | None:
    destination = text(r.param("destinationId"))
    return Hit(
        f"findings export {destination or '?'} of detector {text(r.param('detectorId'))} deleted",
        facts=(*_detector(r), *facts(("Destination", destination))),
    )


@detection(
    id="guardduty_findings_archived_in_bulk",
    title="GuardDuty findings archived in bulk",
    severity=MEDIUM,
    listens=(calls(GUARDDUTY, "ArchiveFindings"),),
    rationale=(
        f"Archiving {BULK_ARCHIVE} or more findings in one call sweeps them out of the console and of whoever works "
        "the active list: the quick way to hide an intrusion's findings. Analysts closing a few never fire."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "AWS GuardDuty documentation: archiving findings",
    ),
    playbook=(
        "Read the archived findings (GetFindings with their ids) and unarchive the ones nobody triaged",
        "Contain the actor unless the security team did it",
    ),
    remediation="guardduty:UnarchiveFindings(DetectorId, FindingIds)",
    benign=f"Fewer than {BULK_ARCHIVE} findings in one call (an analyst's triage).",
)
def guardduty_findings_archived_in_bulk(r: Record, ctx: Context) -> Hit | None:
    ids = [text(i) for i in as_list(r.param("findingIds")) if text(i)]
    if len(ids) < BULK_ARCHIVE:
        return None
    return Hit(
        f"{len(ids)} findings archived from detector {text(r.param('detectorId'))}",
        facts=(*_detector(r), *facts(("Findings", ids[:5]), ("Count", len(ids)))),
    )


@detection(
    id="guardduty_member_disassociated",
    title="GuardDuty member taken out of central monitoring",
    severity=HIGH,
    response=Response.PAGE,
    listens=(
        calls(
            GUARDDUTY,
            "DisassociateFromMasterAccount",
            "DisassociateFromAdministratorAccount",
            "DisassociateMembers",
            "DeleteMembers",
            "StopMonitoringMembers",
            "DisableOrganizationAdminAccount",
        ),
    ),
    rationale=(
        "Leaving the administrator (or removing members) takes accounts out of the security team's view while "
        "their local detector keeps running."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "Panther: AWS.GuardDuty.MasterDisassociated",
    ),
    playbook=(
        "Re-invite and re-associate the accounts from the administrator account",
        "Contain the actor",
        "Check who else was removed in the same minutes",
    ),
    remediation="Re-associate from the administrator account (guardduty:CreateMembers, then accept the invitation).",
    benign="Closing an account through the documented offboarding process.",
)
def guardduty_member_disassociated(r: Record, ctx: Context) -> Hit | None:
    accounts = [text(a) for a in as_list(r.param("accountIds"))]
    whom = f"accounts {', '.join(accounts)}" if accounts else f"account {r.our_account}"
    return Hit(f"{r.event_name}: {whom} out of GuardDuty central monitoring", facts=_detector(r))


@detection(
    id="guardduty_trusted_ipset_changed",
    title="GuardDuty trusted IP list added or changed",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(GUARDDUTY, "CreateIPSet", "UpdateIPSet"),),
    rationale=(
        "GuardDuty generates no findings for addresses on an active trusted IP list, so an attacker lists their own "
        "addresses there. Threat-intel lists are the opposite (more alerts) and never fire."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS GuardDuty Important Change",
        "Panther: AWS.IPSet.Modified",
        "Pacu guardduty__whitelist_ip",
    ),
    playbook=(
        "Read the list at 'location'; deactivate it (UpdateIPSet Activate=false) unless the security team owns it",
        "Contain the actor",
        "Look for activity from the listed addresses",
    ),
    remediation="guardduty:UpdateIPSet(DetectorId, IpSetId, Activate=false)",
    benign="Deactivating a trusted list never fires.",
)
def guardduty_trusted_ipset_changed(r: Record, ctx: Context) -> Hit | None:
    if flag(r.param("activate")) is False:
        return None
    location = text(r.param("location"))
    name = text(r.param("name")) or text(r.param("ipSetId"))
    return Hit(
        f"trusted IP list {name} activated from {location or 'an unknown location'}",
        facts=(*_detector(r), *facts(("IP set", name), ("List location", location))),
    )


@detection(
    id="guardduty_suppression_filter",
    title="GuardDuty findings auto-archived by a filter",
    severity=MEDIUM,
    listens=(calls(GUARDDUTY, "CreateFilter", "UpdateFilter"),),
    rationale=(
        "A filter with action ARCHIVE hides matching findings from the console and from EventBridge consumers; one "
        "that matches everything (or only on severity) silences GuardDuty."
    ),
    references=(
        "MITRE ATT&CK T1562.001",
        "AWS GuardDuty documentation: suppression rules",
    ),
    playbook=(
        "Read the filter's criteria; delete it unless the security team owns it",
        "Review the findings it archived (ListFindings with service.archived = true)",
        "Contain the actor",
    ),
    remediation="guardduty:DeleteFilter(DetectorId, FilterName) once the owner is confirmed.",
    benign="Saved views (action NOOP) never fire; narrow suppressions by the security team still report, at medium.",
)
def guardduty_suppression_filter(r: Record, ctx: Context) -> Hit | None:
    if text(r.param("action")).upper() != "ARCHIVE":
        return None
    criterion = dig(r.params, "findingCriteria", "criterion")
    fields = set(criterion) if isinstance(criterion, dict) else set()
    broad = not fields or fields == {"severity"}
    name = text(r.param("name"))
    return Hit(
        f"filter {name} archives {'findings broadly' if broad else 'matching findings'}",
        severity=HIGH if broad else MEDIUM,
        facts=(*_detector(r), *facts(("Filter", name), ("Criteria", ", ".join(sorted(fields)) or "(none)"))),
    )


@detection(
    id="config_recorder_stopped",
    title="AWS Config recorder stopped or deleted",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(CONFIG, "StopConfigurationRecorder", "DeleteConfigurationRecorder"),),
    rationale=(
        "Without the recorder, configuration changes (security groups, policies, buckets) are no longer recorded "
        "or evaluated by Config rules."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.9 / v1.4 4.9 (Security Hub CloudWatch.9)",
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS Config Disabling Channel/Recorder",
        "Panther: AWS.ConfigService.DisabledDeleted",
    ),
    playbook=(
        "StartConfigurationRecorder (or recreate it from IaC when deleted)",
        "Contain the actor",
        "Review changes made while it was off (CloudTrail)",
    ),
    remediation="config:StartConfigurationRecorder(ConfigurationRecorderName) after a stop; recreate after a delete.",
    benign="StartConfigurationRecorder never fires.",
)
def config_recorder_stopped(r: Record, ctx: Context) -> Hit | None:
    name = text(r.param("configurationRecorderName"))
    verb = "deleted" if r.event_name.startswith("Delete") else "stopped"
    return Hit(f"configuration recorder {name} {verb} in {r.aws_region}", facts=facts(("Recorder", name)))


@detection(
    id="config_delivery_channel_deleted",
    title="AWS Config delivery channel deleted",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(CONFIG, "DeleteDeliveryChannel"),),
    rationale="Without its delivery channel, Config records nothing to S3 or SNS: history and notifications stop.",
    references=(
        "CIS AWS Foundations v1.2 3.9 / v1.4 4.9 (Security Hub CloudWatch.9)",
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS Config Disabling Channel/Recorder",
    ),
    playbook=(
        "Recreate the delivery channel from IaC and restart the recorder",
        "Contain the actor",
    ),
    remediation="Recreate the delivery channel from IaC (config:PutDeliveryChannel).",
    benign="PutDeliveryChannel changing the snapshot frequency never fires.",
)
def config_delivery_channel_deleted(r: Record, ctx: Context) -> Hit | None:
    name = text(r.param("deliveryChannelName"))
    return Hit(f"delivery channel {name} deleted in {r.aws_region}", facts=facts(("Delivery channel", name)))


@detection(
    id="securityhub_disabled",
    title="Security Hub disabled",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(SECURITYHUB, "DisableSecurityHub"),),
    rationale="Disabling Security Hub removes the aggregated findings and every standard's checks in the region.",
    references=("MITRE ATT&CK T1562.001",),
    playbook=(
        "EnableSecurityHub and re-enable the standards from IaC",
        "Contain the actor",
    ),
    remediation="securityhub:EnableSecurityHub, then the standards from IaC.",
    benign="Enabling Security Hub never fires.",
)
def securityhub_disabled(r: Record, ctx: Context) -> Hit | None:
    return Hit(f"Security Hub disabled in {r.aws_region}")


@detection(
    id="securityhub_standards_disabled",
    title="Security Hub standards disabled",
    severity=MEDIUM,
    listens=(calls(SECURITYHUB, "BatchDisableStandards"),),
    rationale="Disabling a standard (CIS, Foundational Best Practices) stops its checks and removes their findings.",
    references=("MITRE ATT&CK T1562.001",),
    playbook=(
        "Re-enable the standards (BatchEnableStandards) from IaC",
        "Contain the actor if the change was not planned",
    ),
    remediation="securityhub:BatchEnableStandards(<the standards from IaC>)",
    benign="Moving to a newer version of a standard (usually paired with BatchEnableStandards).",
)
def securityhub_standards_disabled(r: Record, ctx: Context) -> Hit | None:
    arns = [text(a) for a in as_list(r.param("StandardsSubscriptionArns"))]
    names = [a.split("/subscription/", 1)[-1] for a in arns if a]
    return Hit(f"standards disabled: {', '.join(names) or '(unnamed)'}", facts=facts(("Standards", arns)))


@detection(
    id="securityhub_findings_suppressed",
    title="Security Hub findings suppressed",
    severity=MEDIUM,
    listens=(calls(SECURITYHUB, "BatchUpdateFindings"),),
    rationale="Setting findings to SUPPRESSED hides them from the security team's queues and from automations.",
    references=(
        "MITRE ATT&CK T1562.001",
        "Sigma: AWS SecurityHub Findings Evasion",
    ),
    playbook=(
        "Review the suppressed findings and who suppressed them; set them back to NEW if unplanned",
        "Contain the actor if the change was not planned",
    ),
    remediation="securityhub:BatchUpdateFindings(FindingIdentifiers, Workflow={Status: NEW})",
    benign="Analysts moving findings to NOTIFIED or RESOLVED never fire.",
)
def securityhub_findings_suppressed(r: Record, ctx: Context) -> Hit | None:
    if text(r.param("Workflow", "Status")).upper() != "SUPPRESSED":
        return None
    ids = [text(dig(f, "Id")) for f in as_list(r.param("FindingIdentifiers"))]
    return Hit(f"{len(ids)} finding(s) suppressed", facts=facts(("Findings", ids[:5])))


@detection(
    id="organizations_leave_attempt",
    title="Account tried to leave the organization",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(ORGANIZATIONS, "LeaveOrganization"),),
    outcome=Outcome.ANY,
    rationale=(
        "Leaving the organization drops every SCP, the organization trail and delegated security tooling; even a "
        "refused or failed attempt means someone is trying (a successful one is critical, a refused one, or one "
        "stopped by a constraint such as a missing payment method, high)."
    ),
    references=(
        "CIS AWS Foundations v1.4 4.15 (Organizations changes)",
        "MITRE ATT&CK T1666",
        "Stratus Red Team aws.defense-evasion.organizations-leave",
        "Panther: AWS.CloudTrail.AttemptToLeaveOrg",
    ),
    playbook=(
        "If it succeeded: re-invite the account from the management account immediately",
        "Contain the actor (the credentials are likely root or admin)",
        "Check the SCP denying organizations:LeaveOrganization is attached",
    ),
    remediation="Re-invite the account from the management account; attach an SCP denying LeaveOrganization.",
    benign="Planned account transfers between organizations (rare, announced).",
)
def organizations_leave_attempt(r: Record, ctx: Context) -> Hit | None:
    if r.succeeded:
        return Hit(f"account {r.our_account} left its organization")
    if r.attempted:
        outcome = "denied" if r.denied else f"failed: {r.error_code}"
        return Hit(f"account {r.our_account} tried to leave its organization ({outcome})", severity=HIGH)
    return None


# The tamper APIs whose refused or failed calls mean someone tried to blind the account (LeaveOrganization has its
# own).
TAMPER_APIS = (
    calls(CLOUDTRAIL, "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"),
    calls(
        GUARDDUTY,
        "DeleteDetector",
        "UpdateDetector",
        "DisassociateFromMasterAccount",
        "DisassociateFromAdministratorAccount",
        "DisassociateMembers",
        "DeleteMembers",
        "CreateIPSet",
        "UpdateIPSet",
        "DeletePublishingDestination",
    ),
    calls(EC2, "DeleteFlowLogs", "DisableEbsEncryptionByDefault"),
    calls(CONFIG, "StopConfigurationRecorder", "DeleteConfigurationRecorder", "DeleteDeliveryChannel"),
    calls(SECURITYHUB, "DisableSecurityHub", "BatchDisableStandards"),
    calls(LOGS, "DeleteLogGroup"),
    calls(KMS, "DisableKey", "ScheduleKeyDeletion"),
    calls(S3, "PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"),
    calls(ROUTE53RESOLVER, "DeleteResolverQueryLogConfig"),
)


@detection(
    id="security_tamper_attempt_denied",
    title="Refused or failed attempt to disable security controls",
    severity=MEDIUM,
    listens=TAMPER_APIS,
    outcome=Outcome.ATTEMPT,
    rationale=(
        "A denied call to stop logging, delete a detector, disable a key or open the account is an attempt that "
        "guardrails stopped; the credentials behind it are probably in the wrong hands and will try elsewhere. A "
        "call that failed for another reason (the trail's home region is elsewhere, a constraint, a bad parameter) "
        "is an attempt too: the caller will retry it right."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.1 / v1.4 4.1 (Security Hub CloudWatch.2)",
        "MITRE ATT&CK T1562",
    ),
    playbook=(
        "Identify the credentials and where they are used from; rotate or disable them",
        "Review the same actor's other calls (successful ones first)",
    ),
    remediation="Contain the caller (disable its access key or revoke its role sessions).",
    benign="A missing target (TrailNotFoundException, ResourceNotFoundException) or AWS throttling never fires.",
)
def security_tamper_attempt_denied(r: Record, ctx: Context) -> Hit | None:
    outcome = "denied" if r.denied else "failed"
    return Hit(f"{r.event_name} {outcome} ({r.error_code})", facts=facts(("Error", r.error_message)))
