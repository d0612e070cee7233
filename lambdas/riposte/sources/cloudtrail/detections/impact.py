"""Impact on recoverability and encryption: keys disabled or scheduled for deletion, EBS encryption by default
turned off, bucket versioning suspended."""

from __future__ import annotations

from collections.abc import Mapping

from riposte.sources.cloudtrail.detections.base import (
    CRITICAL,
    EC2,
    HIGH,
    KMS,
    MEDIUM,
    S3,
    Context,
    Hit,
    Response,
    affected,
    calls,
    detection,
    facts,
)
from riposte.sources.cloudtrail.record import Record, kms_key, text

SHORTEST_DELETION_WINDOW_DAYS = 7


@detection(
    id="kms_key_disabled",
    title="KMS key disabled",
    severity=HIGH,
    listens=(calls(KMS, "DisableKey"),),
    rationale=(
        "Everything encrypted under a disabled key becomes unreadable until it is enabled again: an outage, or the "
        "first step of holding data to ransom."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.7 / v1.4 4.7 (Security Hub CloudWatch.7)",
        "MITRE ATT&CK T1485",
        "Panther: AWS.KMS.CustomerManagedKeyLoss",
        "Elastic: AWS KMS Customer Managed Key Disabled or Scheduled for Deletion",
    ),
    playbook=(
        "EnableKey unless the change was planned",
        "Contain the actor",
    ),
    remediation="kms:EnableKey(KeyId)",
    benign="Enabling a key never fires.",
)
def kms_key_disabled(r: Record, ctx: Context) -> Hit | None:
    key = kms_key(r)
    return Hit(f"key {key} disabled", facts=facts(("Key", key)))


@detection(
    id="kms_key_scheduled_deletion",
    title="KMS key scheduled for deletion",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(KMS, "ScheduleKeyDeletion"),),
    rationale=(
        "Once the waiting period ends, data encrypted under the key is lost for good; the shortest window "
        f"({SHORTEST_DELETION_WINDOW_DAYS} days) is critical."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.7 / v1.4 4.7 (Security Hub CloudWatch.7)",
        "MITRE ATT&CK T1485",
        "Panther: AWS.KMS.CustomerManagedKeyLoss",
    ),
    playbook=(
        "CancelKeyDeletion, then EnableKey (a cancelled key comes back disabled)",
        "Contain the actor",
    ),
    remediation="kms:CancelKeyDeletion(KeyId), then kms:EnableKey(KeyId)",
    benign="Cancelling a deletion never fires.",
)
def kms_key_scheduled_deletion(r: Record, ctx: Context) -> Hit | None:
    try:
        days = int(r.param("pendingWindowInDays") or 30)  # AWS's default waiting period is 30 days
    except (TypeError, ValueError):
        days = 30
    key = kms_key(r)
    return Hit(
        f"key {key} scheduled for deletion in {days} days",
        severity=CRITICAL if days <= SHORTEST_DELETION_WINDOW_DAYS else HIGH,
        facts=facts(("Key", key), ("Deletion date", text(r.response.get("deletionDate")))),
        parties=affected("kms_key", key),
    )


@detection(
    id="ebs_default_encryption_disabled",
    title="EBS encryption by default turned off",
    severity=MEDIUM,
    listens=(calls(EC2, "DisableEbsEncryptionByDefault"),),
    rationale="New volumes and snapshot copies in the region are no longer encrypted unless each request asks.",
    references=(
        "CIS AWS Foundations v1.4 2.2.1 (EBS encryption by default)",
        "MITRE ATT&CK T1486",
        "MITRE ATT&CK T1565",
        "Sigma: AWS EC2 Disable EBS Encryption",
        "Panther: AWS.EC2.EBS.Encryption.Disabled",
    ),
    playbook=(
        "EnableEbsEncryptionByDefault in the region",
        "List volumes created unencrypted since",
    ),
    remediation="ec2:EnableEbsEncryptionByDefault() in the region",
    benign="Turning it on never fires.",
)
def ebs_default_encryption_disabled(r: Record, ctx: Context) -> Hit | None:
    return Hit(f"EBS encryption by default turned off in {r.aws_region}")


@detection(
    id="s3_bucket_versioning_suspended",
    title="Bucket versioning suspended",
    severity=MEDIUM,
    listens=(calls(S3, "PutBucketVersioning"),),
    rationale=(
        "Without versioning, overwritten and deleted objects cannot be recovered: ransomware crews suspend it first. "
        "High on log buckets."
    ),
    references=(
        "MITRE ATT&CK T1490",
        "Sigma: AWS S3 Bucket Versioning Disable",
    ),
    playbook=(
        "Enable versioning again",
        "Watch for mass deletions or overwrites (S3 data events)",
        "Contain the actor",
    ),
    remediation="s3:PutBucketVersioning(Bucket, Status=Enabled)",
    benign="Enabling versioning never fires.",
)
def s3_bucket_versioning_suspended(r: Record, ctx: Context) -> Hit | None:
    configuration = r.param("VersioningConfiguration")
    if not isinstance(configuration, Mapping):
        return None
    suspended = configuration.get("Status") == "Suspended"
    mfa_off = configuration.get("MfaDelete") == "Disabled"
    if not suspended and not mfa_off:
        return None
    bucket = text(r.param("bucketName"))
    what = "versioning suspended" if suspended else "MFA delete disabled"
    return Hit(
        f"{what} on bucket {bucket}",
        severity=HIGH if ctx.log_bucket(bucket) else MEDIUM,
        parties=affected("bucket", bucket),
    )
