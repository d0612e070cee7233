"""The responder: SQS -> Lambda (``riposte.handlers.responder``), its own role with only what the enabled
actions declare, its encrypted log group, and the grants it needs on the table and secrets."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from riposte.adapters.aws.own import DISCOVERY_CALLS
from riposte.core.config import Config
from riposte.handlers import environment
from stacks.constructs.function import function_logs, riposte_function
from stacks.constructs.legacy import keep_logical_id
from stacks.names import STATE_TABLE_CALLS
from stacks.permissions import (
    DESCRIBE_CALLS,
    acknowledge_function_policy,
    action_statements,
)


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
        self.log_group = function_logs(self, "ResponderLogs", key)
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

        self.function = riposte_function(
            self,
            "Responder",
            config=config,
            handler=environment.RESPONDER_HANDLER,
            description="Riposte responder: score findings, block hostile IPs, notify",
            role=self.role,
            log_group=self.log_group,
            variables={
                environment.TABLE: table.table_name,
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
        acknowledge_function_policy(policy, stack, config, describes=DESCRIBE_CALLS, key="state table, secrets")
