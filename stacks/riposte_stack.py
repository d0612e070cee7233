"""The Riposte stack: GuardDuty -> EventBridge -> SQS (+DLQ) -> responder Lambda -> NACL, DynamoDB, Slack.

Runtime code: ``lambdas/riposte`` (handler ``riposte.handlers.responder.handler``). Every resource that holds
data is encrypted with one customer-managed key; every acknowledgment of a cdk-nag finding says why.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from riposte.config import ENV_VAR, Config
from riposte.handlers.responder import TABLE_ENV
from riposte.sources import SOURCES
from stacks.permissions import action_statements

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
HANDLER = "riposte.handlers.responder.handler"
# Keep in step with requirements.txt (a test checks): the Lambda runs the Powertools the tests ran.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_PARAMETER = f"/aws/service/powertools/python/x86_64/python3.13/{POWERTOOLS_VERSION}"
FUNCTION_TIMEOUT = Duration.seconds(60)
MAX_RECEIVE_COUNT = 3


def acknowledge(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


class RiposteStack(Stack):
    def _log_groups_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:*"

    def __init__(self, scope: Construct, construct_id: str, *, config: Config, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config

        self.key = kms.Key(
            self,
            "Key",
            description="Riposte: queues, state table, secrets and logs",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch Logs encrypts the responder's log group with the key, limited to this account's groups.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": self._log_groups_arn()}},
            )
        )

        if config.guardduty.create_detector:
            guardduty.CfnDetector(self, "Detector", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES")

        self.dlq = sqs.Queue(
            self,
            "EventsDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Events",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(4),
            # AWS guidance for Lambda consumers: at least six times the function timeout.
            visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * 6),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )

        for name, source in SOURCES:
            if source.event_pattern is None:
                continue
            pattern = source.event_pattern
            rule = events.Rule(
                self,
                f"{name.title()}Rule",
                description=f"Riposte: {name} events to the responder queue",
                event_pattern=events.EventPattern(
                    source=list(pattern["source"]),
                    detail_type=list(pattern["detail-type"]),
                    detail=pattern.get("detail"),
                ),
            )
            rule.add_target(
                targets.SqsQueue(
                    self.queue,
                    dead_letter_queue=self.dlq,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            )

        self.table = dynamodb.Table(
            self,
            "State",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="ttl",
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.secrets = {
            field: secretsmanager.Secret(
                self,
                construct,
                secret_name=getattr(config.secrets, field),
                description=description,
                encryption_key=self.key,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for field, construct, description in (
                (
                    "slack_webhook_url",
                    "SlackWebhookUrl",
                    "Slack incoming-webhook URL for Riposte (fill in after deploy)",
                ),
                (
                    "pagerduty_routing_key",
                    "PagerDutyRoutingKey",
                    "PagerDuty Events v2 routing key for Riposte",
                ),
            )
        }
        for secret in self.secrets.values():
            acknowledge(
                secret,
                "AwsSolutions::AwsSolutions-SMG4",
                "Holds a third-party credential (Slack webhook URL / PagerDuty routing key) issued by that service; "
                "it is rotated there by the user, and no Lambda can rotate it.",
            )

        self.log_group = logs.LogGroup(
            self,
            "ResponderLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "ResponderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Riposte responder: only what the enabled actions declare, on the configured resources",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        for statement in action_statements(self, config):
            self.role.add_to_policy(statement)

        if config.lambda_.powertools_layer_arn:
            layer_arn = config.lambda_.powertools_layer_arn
        else:
            layer_arn = ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_PARAMETER)
        self.function = lambda_.Function(
            self,
            "Responder",
            description="Riposte responder: score findings, block hostile IPs, notify",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(
                str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc", "*.egg-info", "**/*.egg-info"]
            ),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", layer_arn)],
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
            environment={
                ENV_VAR: config.to_json(),
                TABLE_ENV: self.table.table_name,
                "POWERTOOLS_SERVICE_NAME": "riposte",
                "POWERTOOLS_METRICS_NAMESPACE": "Riposte",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(5),
                report_batch_item_failures=True,
                max_concurrency=2,
            )
        )
        self.table.grant_read_write_data(self.function)
        for secret in self.secrets.values():
            secret.grant_read(self.function)

        cloudwatch.Alarm(
            self,
            "DlqNotEmpty",
            alarm_description="Riposte could not process some events; inspect and redrive the dead-letter queue",
            metric=self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Only for ec2:Describe* calls (block_ip reads NACL entries), which support no resource-level "
            "permissions; every write is scoped to the configured NACLs.",
        )
        for kms_action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(
                policy,
                f"AwsSolutions::AwsSolutions-IAM5[Action::{kms_action}]",
                "CDK's grant on Riposte's own key (state table, secrets); the resource is that one key.",
            )
        if config.nacl.vpc_ids:
            acknowledge(
                policy,
                "AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-acl/*]",
                "Network ACLs of the configured VPCs only: the statement carries an ec2:Vpc condition.",
            )
        acknowledge(
            self.function,
            "AwsSolutions::AwsSolutions-L1",
            "Pinned to python3.13 to match the AWS-published Powertools layer it runs with; move with the layer.",
        )
