"""The responder: SQS -> Lambda (``riposte.handlers.responder``), its own role with only what the enabled
actions declare, its encrypted log group, and the grants it needs on the table and secrets."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from riposte.adapters.aws.own import DISCOVERY_CALLS
from riposte.core.config import Config
from riposte.handlers import environment
from stacks.constructs.legacy import keep_logical_id
from stacks.nag import acknowledge, resource_finding
from stacks.names import ASSET_EXCLUDE, FUNCTION_TIMEOUT, LAMBDAS_DIR, POWERTOOLS_PARAMETER, STATE_TABLE_CALLS
from stacks.permissions import action_statements, vpc_scoped_acl_arn


def powertools_layer(scope: Construct, config: Config) -> lambda_.ILayerVersion:
    if config.lambda_.powertools_layer_arn:
        arn = config.lambda_.powertools_layer_arn
    else:
        arn = ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", arn)


class Responder(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        key: kms.IKey,
        queue: sqs.IQueue,
        table: dynamodb.ITable,
        secrets: list[secretsmanager.ISecret],
        webhook_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "ResponderLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        keep_logical_id(self.log_group, "responder_logs")
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
        for statement in action_statements(stack, config):
            self.role.add_to_policy(statement)
        # Discovery of the account's own addresses (riposte.adapters.aws.own), which the guard protects.
        self.role.add_to_policy(iam.PolicyStatement(actions=list(DISCOVERY_CALLS), resources=["*"]))

        self.function = lambda_.Function(
            self,
            "Responder",
            description="Riposte responder: score findings, block hostile IPs, notify",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.X86_64,
            handler=environment.RESPONDER_HANDLER,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=ASSET_EXCLUDE),
            layers=[powertools_layer(self, config)],
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
            environment={
                environment.CONFIG: config.to_json(),
                environment.TABLE: table.table_name,
                "POWERTOOLS_SERVICE_NAME": "riposte",
                "POWERTOOLS_METRICS_NAMESPACE": "Riposte",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **({environment.WEBHOOK_QUEUE_ARN: webhook_queue.queue_arn} if webhook_queue else {}),
            },
        )
        for source in [queue] + ([webhook_queue] if webhook_queue else []):
            self.function.add_event_source(
                event_sources.SqsEventSource(
                    source,
                    batch_size=10,
                    max_batching_window=Duration.seconds(5),
                    report_batch_item_failures=True,
                    max_concurrency=2,
                )
            )
        # Exactly the calls riposte.adapters.aws.dynamodb makes (no Scan, BatchWrite or stream reads).
        table.grant(self.function, *STATE_TABLE_CALLS)
        key.grant_encrypt_decrypt(self.function)
        for secret in secrets:
            secret.grant_read(self.function)

        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Only for ec2:Describe* calls (block_ip reads NACL entries; the guard discovers the account's own "
            "addresses), which support no resource-level permissions; every write is scoped to the configured NACLs.",
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
                resource_finding(stack, "AwsSolutions-IAM5", vpc_scoped_acl_arn(stack)),
                "Network ACLs of the configured VPCs only: the statement carries an ec2:Vpc condition.",
            )
        acknowledge(
            self.function,
            "AwsSolutions::AwsSolutions-L1",
            "Pinned to python3.13 to match the AWS-published Powertools layer it runs with; move with the layer.",
        )
