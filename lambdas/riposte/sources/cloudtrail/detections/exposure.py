"""Data exposure: resources opened to everyone or to unknown accounts (bucket policies and ACLs, public access
blocks, snapshots and AMIs, databases, Lambda functions, container repositories, KMS keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riposte.sources.cloudtrail import policy
from riposte.sources.cloudtrail.detections.base import (
    CRITICAL,
    EC2,
    ECR,
    HIGH,
    KMS,
    LAMBDA,
    MEDIUM,
    RDS,
    S3,
    Context,
    Hit,
    Response,
    affected,
    calls,
    detection,
    facts,
    foreign,
)
from riposte.sources.cloudtrail.record import (
    ACCOUNT_ID,
    Record,
    account_of,
    as_list,
    dig,
    flag,
    function_name,
    items,
    kms_key,
    text,
)

# Actions that let anyone change or delete what the bucket holds.
_S3_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:PutBucketPolicy", "s3:DeleteBucket")


def _bucket(r: Record) -> str:
    return text(r.param("bucketName"))


@detection(
    id="s3_bucket_policy_public",
    title="Bucket policy makes a bucket public",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(S3, "PutBucketPolicy"),),
    rationale=(
        "An Allow for Principal '*' (or with NotPrincipal: everyone but) without a condition that pins the caller "
        "(source VPC or endpoint, organization, account, ARN, address) exposes the bucket to the internet: reads are "
        "high, writes or deletes critical. A condition matching anyone (aws:SourceIp 0.0.0.0/0, aws:SourceVpce '*', "
        "a negation, ...IfExists) pins nothing."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.8 / v1.4 4.8 (Security Hub CloudWatch.8)",
        "MITRE ATT&CK T1530",
        "Panther: AWS.S3.BucketPolicyModified",
    ),
    playbook=(
        "Restore the bucket policy from IaC (or delete the public statement)",
        "Check the bucket's access logs or S3 data events for reads since the change",
        "Contain the actor",
    ),
    remediation="s3:PutBucketPolicy(<the policy from IaC>), or s3:DeleteBucketPolicy; keep Block Public Access on.",
    benign="Deny statements for '*' (TLS-only) and grants limited to our VPC endpoint or organization never fire.",
)
def s3_bucket_policy_public(r: Record, ctx: Context) -> Hit | None:
    public = [s for s in policy.statements(r.param_document("bucketPolicy")) if policy.is_public(s)]
    if not public:
        return None
    writes = any(policy.grants(s, *_S3_WRITES) for s in public)
    bucket = _bucket(r)
    return Hit(
        f"bucket {bucket} {'writable' if writes else 'readable'} by anyone",
        severity=CRITICAL if writes else HIGH,
        parties=affected("bucket", bucket),
    )


@detection(
    id="s3_bucket_policy_foreign_account",
    title="Bucket policy grants an unknown account",
    severity=HIGH,
    listens=(calls(S3, "PutBucketPolicy"),),
    rationale=(
        "A grant to an account that is neither ours nor trusted is the quiet way to exfiltrate a bucket: the other "
        "account reads it with its own credentials, outside our logs' actors."
    ),
    references=(
        "CIS AWS Foundations v1.4 4.8 (Security Hub CloudWatch.8)",
        "MITRE ATT&CK T1537",
        "Stratus Red Team aws.exfiltration.s3-backdoor-bucket-policy",
    ),
    playbook=(
        "Identify the account; remove the statement unless it is a known partner",
        "Look for reads by that account (S3 data events, access logs)",
        "Contain the actor",
    ),
    remediation="s3:PutBucketPolicy(<the policy from IaC>)",
    benign="Grants to our own roles, trusted accounts and AWS service principals never fire.",
)
def s3_bucket_policy_foreign_account(r: Record, ctx: Context) -> Hit | None:
    accounts = policy.foreign_accounts(r.param_document("bucketPolicy"), lambda a: ctx.trusted(a, r))
    if not accounts:
        return None
    bucket = _bucket(r)
    return Hit(
        f"bucket {bucket} opened to account(s) {', '.join(accounts)}",
        parties=(*affected("bucket", bucket), *foreign(*accounts)),
    )


PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
PUBLIC_CANNED = {"public-read": HIGH, "authenticated-read": HIGH, "public-read-write": CRITICAL}
_WRITE_PERMISSIONS = ("WRITE", "WRITE_ACP", "FULL_CONTROL")


def _acl_grants(r: Record) -> list[tuple[str, str]]:
    """(grantee URI, permission) for every group grant, from the ACL body and from x-amz-grant-* headers."""
    found = []
    for grant in as_list(r.param("AccessControlPolicy", "AccessControlList", "Grant")):
        if isinstance(grant, Mapping):
            found.append((text(dig(grant, "Grantee", "URI")), text(grant.get("Permission"))))
    for header, values in r.params.items():
        if str(header).lower().startswith("x-amz-grant-"):
            permission = str(header)[len("x-amz-grant-") :].upper().replace("-", "_")
            found += [(uri, permission) for value in as_list(values) for uri in PUBLIC_GROUPS if uri in str(value)]
    return found


@detection(
    id="s3_bucket_acl_public",
    title="Bucket ACL grants everyone",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(S3, "PutBucketAcl"),),
    rationale=(
        "ACL grants to AllUsers or AuthenticatedUsers (any AWS account) expose the bucket; write or full control "
        "lets anyone plant or destroy data (critical)."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.8 / v1.4 4.8 (Security Hub CloudWatch.8)",
        "MITRE ATT&CK T1530",
        "Panther: AWS.S3.BucketPolicyModified",
    ),
    playbook=(
        "Set the ACL back to private (and ObjectOwnership to BucketOwnerEnforced to disable ACLs)",
        "Check access since the change",
        "Contain the actor",
    ),
    remediation="s3:PutBucketAcl(Bucket, ACL=private); s3:PutBucketOwnershipControls(BucketOwnerEnforced)",
    benign="Grants to the S3 log delivery group (server access logs) never fire.",
)
def s3_bucket_acl_public(r: Record, ctx: Context) -> Hit | None:
    canned = [text(c) for c in as_list(r.param("x-amz-acl"))]
    severities = [PUBLIC_CANNED[c] for c in canned if c in PUBLIC_CANNED]
    for uri, permission in _acl_grants(r):
        if uri in PUBLIC_GROUPS:
            severities.append(CRITICAL if permission in _WRITE_PERMISSIONS else HIGH)
    if not severities:
        return None
    severity = CRITICAL if CRITICAL in severities else HIGH
    bucket = _bucket(r)
    return Hit(
        f"bucket {bucket} ACL {'writable' if severity is CRITICAL else 'readable'} by everyone",
        severity=severity,
        parties=affected("bucket", bucket),
        facts=facts(("Canned ACL", canned)),
    )


BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _weakened_flags(r: Record) -> list[str]:
    configuration = r.param("PublicAccessBlockConfiguration")
    return [f for f in BLOCK_FLAGS if flag(dig(configuration, f)) is False]


def _block_change(r: Record, delete: str) -> str | None:
    if r.event_name == delete:
        return "removed"
    if off := _weakened_flags(r):
        return f"weakened ({', '.join(off)} off)"
    return None


@detection(
    id="s3_bucket_public_access_block_weakened",
    title="Bucket public access block removed or weakened",
    severity=HIGH,
    listens=(calls(S3, "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock"),),
    rationale=(
        "Block Public Access is the guard that makes public policies and ACLs ineffective; removing it is usually "
        "the step right before a bucket is exposed."
    ),
    references=(
        "MITRE ATT&CK T1530",
        "Sigma: AWS Bucket Block Public Access Weakened",
    ),
    playbook=(
        "Put all four flags back (PutPublicAccessBlock)",
        "Check the bucket's policy and ACL for public grants",
        "Contain the actor",
    ),
    remediation="s3:PutPublicAccessBlock(Bucket, all four flags true)",
    benign="Setting all four flags true never fires.",
)
def s3_bucket_public_access_block_weakened(r: Record, ctx: Context) -> Hit | None:
    change = _block_change(r, "DeleteBucketPublicAccessBlock")
    if change is None:
        return None
    bucket = _bucket(r)
    return Hit(f"public access block of bucket {bucket} {change}", parties=affected("bucket", bucket))


@detection(
    id="s3_account_public_access_block_weakened",
    title="Account-wide S3 public access block removed or weakened",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(S3, "PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"),),
    rationale="The account-level block protects every bucket at once; weakening it exposes all of them to mistakes.",
    references=(
        "CIS AWS Foundations v1.4 2.1.5 (S3 Block Public Access)",
        "MITRE ATT&CK T1530",
    ),
    playbook=(
        "Put all four account-level flags back",
        "List buckets that became public since (Access Analyzer, Security Hub S3.2/S3.3)",
        "Contain the actor",
    ),
    remediation="s3control:PutPublicAccessBlock(AccountId, all four flags true)",
    benign="Setting all four flags true never fires.",
)
def s3_account_public_access_block_weakened(r: Record, ctx: Context) -> Hit | None:
    change = _block_change(r, "DeleteAccountPublicAccessBlock")
    return Hit(f"account {r.our_account} public access block {change}") if change else None


def _shared_with(added: list[Any], r: Record, ctx: Context) -> tuple[bool, list[str]]:
    """(public, unknown accounts) among permission items {"group": "all"} / {"userId": "<account>"}."""
    public = any(isinstance(i, Mapping) and "all" in (i.get("group"), i.get("groups")) for i in added)
    accounts = [
        text(i.get("userId"))
        for i in added
        if isinstance(i, Mapping) and i.get("userId") and not ctx.trusted(text(i.get("userId")), r)
    ]
    return public, accounts


@detection(
    id="ebs_snapshot_shared",
    title="EBS snapshot shared publicly or with an unknown account",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(EC2, "ModifySnapshotAttribute"),),
    rationale=(
        "A shared snapshot is a full copy of a disk that the other account (or anyone, critical) can turn into a "
        "volume outside our control."
    ),
    references=(
        "MITRE ATT&CK T1537",
        "Stratus Red Team aws.exfiltration.ec2-share-ebs-snapshot",
        "Sigma: AWS Snapshot Backup Exfiltration",
    ),
    playbook=(
        "Remove the permission (ModifySnapshotAttribute remove)",
        "Check for CopySnapshot or CreateVolume from the other account (sharedEventID in our trail)",
        "Contain the actor",
    ),
    remediation="ec2:ModifySnapshotAttribute(SnapshotId, CreateVolumePermission remove <the same items>)",
    benign="Unsharing, and sharing with trusted accounts (DR, backup), never fire.",
)
def ebs_snapshot_shared(r: Record, ctx: Context) -> Hit | None:
    if text(r.param("attributeType")).replace("_", "").lower() != "createvolumepermission":
        return None
    public, accounts = _shared_with(items(r.params, "createVolumePermission", "add"), r, ctx)
    if not public and not accounts:
        return None
    snapshot = text(r.param("snapshotId"))
    whom = "everyone" if public else f"account(s) {', '.join(accounts)}"
    return Hit(
        f"snapshot {snapshot} shared with {whom}",
        severity=CRITICAL if public else HIGH,
        parties=foreign(*accounts),
        facts=facts(("Snapshot", snapshot)),
    )


@detection(
    id="rds_snapshot_shared",
    title="RDS snapshot shared publicly or with an unknown account",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(RDS, "ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"),),
    rationale="A shared database snapshot can be restored elsewhere with all its data (public: critical).",
    references=(
        "MITRE ATT&CK T1537",
        "Stratus Red Team aws.exfiltration.rds-share-snapshot",
        "Sigma: AWS RDS Snapshot Shared with External Account",
    ),
    playbook=(
        "Remove the restore permission (ValuesToRemove)",
        "Check for copies or restores by the other account",
        "Contain the actor",
    ),
    remediation="rds:Modify{DB,DBCluster}SnapshotAttribute(AttributeName=restore, ValuesToRemove=<the same values>)",
    benign="Removing a share, and sharing with trusted accounts, never fire.",
)
def rds_snapshot_shared(r: Record, ctx: Context) -> Hit | None:
    if r.param("attributeName") != "restore":
        return None
    values = [text(v) for v in as_list(r.param("valuesToAdd"))]
    public = "all" in values
    accounts = [v for v in values if ACCOUNT_ID.match(v) and not ctx.trusted(v, r)]
    if not public and not accounts:
        return None
    snapshot = text(r.param("dBSnapshotIdentifier")) or text(r.param("dBClusterSnapshotIdentifier"))
    whom = "everyone" if public else f"account(s) {', '.join(accounts)}"
    return Hit(
        f"snapshot {snapshot} shared with {whom}",
        severity=CRITICAL if public else HIGH,
        parties=foreign(*accounts),
        facts=facts(("DB snapshot", snapshot)),
    )


@detection(
    id="ami_shared",
    title="AMI shared publicly or with an unknown account",
    severity=HIGH,
    listens=(calls(EC2, "ModifyImageAttribute"),),
    rationale=(
        "An AMI carries its disks: baked-in credentials, code and data. Public (high) or shared with an unknown "
        "account (medium)."
    ),
    references=(
        "MITRE ATT&CK T1537",
        "Stratus Red Team aws.exfiltration.ec2-share-ami",
        "Panther: AWS.CloudTrail.AMIModifiedForPublicAccess",
    ),
    playbook=(
        "Remove the launch permission",
        "Check whether the image holds secrets; rotate them if so",
        "Contain the actor",
    ),
    remediation="ec2:ModifyImageAttribute(ImageId, LaunchPermission remove <the same items>)",
    benign="Sharing with our organization or trusted accounts never fires.",
)
def ami_shared(r: Record, ctx: Context) -> Hit | None:
    if r.param("attributeType") != "launchPermission":
        return None
    public, accounts = _shared_with(items(r.params, "launchPermission", "add"), r, ctx)
    if not public and not accounts:
        return None
    image = text(r.param("imageId"))
    whom = "everyone" if public else f"account(s) {', '.join(accounts)}"
    return Hit(
        f"image {image} shared with {whom}",
        severity=HIGH if public else MEDIUM,
        parties=foreign(*accounts),
        facts=facts(("Image", image)),
    )


@detection(
    id="rds_instance_made_public",
    title="Database instance made publicly accessible",
    severity=MEDIUM,
    listens=(
        calls(
            RDS,
            "ModifyDBInstance",
            "CreateDBInstance",
            "RestoreDBInstanceFromDBSnapshot",
            "RestoreDBInstanceToPointInTime",
        ),
    ),
    rationale=(
        "A publicly accessible instance gets a public address; with a permissive security group the database is "
        "on the internet. Restores to a public instance (high) expose a copy of the data."
    ),
    references=(
        "MITRE ATT&CK T1530",
        "Sigma: AWS RDS Public DB Restore",
        "Panther: AWS.RDS.InstanceMadePublic",
    ),
    playbook=(
        "Set PubliclyAccessible back to false",
        "Check the instance's security groups and connections since the change",
        "Contain the actor",
    ),
    remediation="rds:ModifyDBInstance(DBInstanceIdentifier, PubliclyAccessible=false, ApplyImmediately=true)",
    benign="Making an instance private never fires.",
)
def rds_instance_made_public(r: Record, ctx: Context) -> Hit | None:
    if flag(r.param("publiclyAccessible")) is not True:
        return None
    instance = text(r.param("targetDBInstanceIdentifier")) or text(r.param("dBInstanceIdentifier"))
    restored = r.event_name.startswith("Restore")
    return Hit(
        f"DB instance {instance} {'restored as' if restored else 'made'} publicly accessible",
        severity=HIGH if restored else MEDIUM,
        parties=affected("db_instance", instance),
    )


_SOURCE_LIMITS = ("sourceArn", "sourceAccount", "principalOrgID")


@detection(
    id="lambda_permission_public",
    title="Lambda function opened to everyone or an unknown account",
    severity=HIGH,
    # Lambda event names carry an API-version suffix (AddPermission20150331v2): matched by prefix.
    listens=(calls(LAMBDA, prefixes=("AddPermission",)),),
    rationale=(
        "A resource policy letting '*' invoke the function (without a source condition) turns it into a public "
        "entry point running with its role; an unknown account (medium) can invoke it at will."
    ),
    references=(
        "MITRE ATT&CK T1648",
        "Stratus Red Team aws.persistence.lambda-backdoor-function",
        "Panther: AWS.LAMBDA.BackdoorFunction",
    ),
    playbook=(
        "Remove the statement (RemovePermission with its statementId)",
        "Review the function's invocations and its role's calls since",
        "Contain the actor",
    ),
    remediation="lambda:RemovePermission(FunctionName, StatementId)",
    benign="Service principals restricted by source ARN or account never fire.",
)
def lambda_permission_public(r: Record, ctx: Context) -> Hit | None:
    principal = text(r.param("principal"))
    name = function_name(r.param("functionName"))
    statement = text(r.param("statementId"))
    if principal == "*":
        if any(r.param(k) for k in _SOURCE_LIMITS):
            return None
        return Hit(
            f"anyone may invoke function {name}",
            parties=affected("function", name),
            facts=facts(("Statement", statement)),
        )
    account = account_of(principal)
    if account is None or ctx.trusted(account, r):
        return None
    return Hit(
        f"account {account} may invoke function {name}",
        severity=MEDIUM,
        parties=(*affected("function", name), *foreign(account)),
        facts=facts(("Statement", statement)),
    )


@detection(
    id="lambda_function_url_public",
    title="Lambda function URL without authentication",
    severity=MEDIUM,
    listens=(calls(LAMBDA, prefixes=("CreateFunctionUrlConfig", "UpdateFunctionUrlConfig")),),
    rationale="A function URL with AuthType NONE is a public HTTPS endpoint into the function and its role.",
    references=(
        "MITRE ATT&CK T1648",
        "Sigma: AWS Created Malicious Lambda Function URL Configuration",
    ),
    playbook=(
        "Switch the URL to AWS_IAM or delete it unless it is meant to be public",
        "Review the function's invocations",
    ),
    remediation="lambda:UpdateFunctionUrlConfig(FunctionName, AuthType=AWS_IAM) or lambda:DeleteFunctionUrlConfig",
    benign="URLs with AWS_IAM authentication never fire.",
)
def lambda_function_url_public(r: Record, ctx: Context) -> Hit | None:
    if text(r.param("authType")).upper() != "NONE":
        return None
    name = function_name(r.param("functionName"))
    return Hit(
        f"function {name} reachable without authentication",
        parties=affected("function", name),
        facts=facts(("Function URL", text(r.response.get("functionUrl")))),
    )


@detection(
    id="ecr_repository_policy_public",
    title="Container repository opened to everyone",
    severity=HIGH,
    listens=(calls(ECR, "SetRepositoryPolicy"),),
    rationale="Images carry code and often credentials; a public pull policy publishes them.",
    references=(
        "MITRE ATT&CK T1530",
        "Panther: AWS.ECR rules",
    ),
    playbook=(
        "Restore the repository policy from IaC",
        "Check the images for secrets and rotate them",
        "Contain the actor",
    ),
    remediation="ecr:SetRepositoryPolicy(<the policy from IaC>) or ecr:DeleteRepositoryPolicy",
    benign="Policies limited to our organization never fire.",
)
def ecr_repository_policy_public(r: Record, ctx: Context) -> Hit | None:
    if not any(policy.is_public(s) for s in policy.statements(r.param_document("policyText"))):
        return None
    return Hit(
        f"repository {text(r.param('repositoryName'))} open to everyone",
        facts=facts(("Repository", text(r.param("repositoryName")))),
    )


@detection(
    id="kms_key_policy_opened",
    title="KMS key policy opened to everyone or an unknown account",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(KMS, "PutKeyPolicy", "CreateKey"),),
    rationale=(
        "Whoever may use the key can decrypt everything encrypted under it (snapshots, secrets, buckets); a '*' "
        "principal without a caller-account condition is critical."
    ),
    references=(
        "MITRE ATT&CK T1530",
        "CIS AWS Foundations v1.4 4.7 (KMS changes, related)",
    ),
    playbook=(
        "Restore the key policy from IaC",
        "Look for Decrypt or CreateGrant calls by other accounts (sharedEventID)",
        "Contain the actor",
    ),
    remediation="kms:PutKeyPolicy(KeyId, <the policy from IaC>)",
    benign="The default key policy and grants to trusted accounts never fire.",
)
def kms_key_policy_opened(r: Record, ctx: Context) -> Hit | None:
    document = r.param_document("policy")
    key = kms_key(r)
    if any(policy.is_public(s) for s in policy.statements(document)):
        return Hit(f"key {key} usable by anyone", severity=CRITICAL, facts=facts(("Key", key)))
    accounts = policy.foreign_accounts(document, lambda a: ctx.trusted(a, r))
    if not accounts:
        return None
    return Hit(
        f"key {key} usable by account(s) {', '.join(accounts)}", parties=foreign(*accounts), facts=facts(("Key", key))
    )


@detection(
    id="s3_replication_to_foreign_account",
    title="Bucket replicated to an unknown account",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(S3, "PutBucketReplication"),),
    rationale=(
        "A replication rule copies every new object (and, with batch replication, the old ones) to a bucket "
        "another account owns: a quiet, continuous exfiltration that outlives the attacker's access."
    ),
    references=(
        "MITRE ATT&CK T1537",
        "Datadog Security Labs: S3 replication for exfiltration",
    ),
    playbook=(
        "Delete the replication rule (s3:DeleteBucketReplication) unless the destination account is yours",
        "Check what was replicated since (the destination's replication metrics, S3 data events)",
        "Contain the actor",
    ),
    remediation="s3:DeleteBucketReplication(Bucket), or PutBucketReplication without the foreign rule",
    benign="Replication to our own or trusted accounts (DR, backup) never fires.",
)
def s3_replication_to_foreign_account(r: Record, ctx: Context) -> Hit | None:
    configuration = r.param("ReplicationConfiguration")
    rules = [x for x in as_list(dig(configuration, "Rule")) if isinstance(x, Mapping)]
    owners = [text(dig(rule, "Destination", "Account")) for rule in rules if text(dig(rule, "Status")) != "Disabled"]
    accounts = sorted({a for a in owners if ACCOUNT_ID.fullmatch(a) and not ctx.trusted(a, r)})
    if not accounts:
        return None
    bucket = _bucket(r)
    return Hit(
        f"bucket {bucket} replicated to account(s) {', '.join(accounts)}",
        parties=(*affected("bucket", bucket), *foreign(*accounts)),
        facts=facts(("Bucket", bucket)),
    )
