"""Riposte's CloudTrail trail (``[cloudtrail] create_trail``, default true): EventBridge receives CloudTrail's API
events only while some trail logs them, so without one the CloudTrail detections see nothing.

Multi-region, global service events, management events read and write, log file validation; encrypted with a
rotating key of its own that CloudTrail may use for this trail only; delivered to a versioned, TLS-only, private
bucket (server access logs to a second bucket, lifecycle by configuration) that only this trail may write to,
and to an encrypted CloudWatch Logs group. Everything that holds evidence is retained when the stack goes.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from riposte.core.config import Config

# CloudWatch Logs retention periods, by days (``config.LOG_RETENTION_DAYS`` lists the same ones).
RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
CLOUDTRAIL = "cloudtrail.amazonaws.com"
ABORT_UPLOADS_AFTER = Duration.days(7)


def _lifecycle(days: int) -> list[s3.LifecycleRule]:
    # Deleted or overwritten log files stay recoverable (noncurrent versions) as long as current ones are kept.
    return [
        s3.LifecycleRule(
            id="retention",
            expiration=Duration.days(days),
            noncurrent_version_expiration=Duration.days(days),
            abort_incomplete_multipart_upload_after=ABORT_UPLOADS_AFTER,
        )
    ]


class Trail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        # Server access logs are granted by bucket policy (ACLs stay disabled), whatever the app's feature flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        stack = Stack.of(self)
        settings = config.cloudtrail
        self.trail_name = f"{stack.stack_name}-trail"
        self.trail_arn = f"arn:{stack.partition}:cloudtrail:{stack.region}:{stack.account}:trail/{self.trail_name}"

        self.key = kms.Key(
            self,
            "CloudTrailKey",
            description="Riposte: CloudTrail log files and their CloudWatch Logs copy",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self._key_policy(stack)

        self.access_logs = s3.Bucket(
            self,
            "CloudTrailAccessLogs",
            # S3 server access logging delivers only to buckets encrypted with S3-managed keys.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=_lifecycle(settings.bucket_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "CloudTrailLogs",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="cloudtrail-logs/",
            lifecycle_rules=_lifecycle(settings.bucket_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Confused-deputy guard: the CloudTrail service writes here on behalf of this trail only.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThisTrailWrites",
                effect=iam.Effect.DENY,
                principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"StringNotEquals": {"aws:SourceArn": self.trail_arn}},
            )
        )

        self.log_group = logs.LogGroup(
            self,
            "CloudTrailLogGroup",
            encryption_key=self.key,
            retention=RETENTION[settings.log_retention_days],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=self.trail_name,
            bucket=self.bucket,
            encryption_key=self.key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
        )

    def _key_policy(self, stack: Stack) -> None:
        """CloudTrail may encrypt (and describe the key) for this trail only, with CloudTrail's encryption
        context of this account; CloudWatch Logs may use it for this stack's log groups only."""
        this_trail = {"aws:SourceArn": self.trail_arn}
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncryptsThisTrailsLogs",
                principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": this_trail,
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": (
                            f"arn:{stack.partition}:cloudtrail:*:{stack.account}:trail/*"
                        )
                    },
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDescribesTheKey",
                principals=[iam.ServicePrincipal(CLOUDTRAIL)],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": this_trail},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsTheTrailsLogGroup",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:{stack.stack_name}-*"
                        )
                    }
                },
            )
        )
