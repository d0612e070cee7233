"""Maintenance: an EventBridge schedule -> the maintenance Lambda (``riposte.handlers.maintenance``), which
expires Riposte's blocks and reconciles its records with the live NACLs and WAF IP sets.

Its role is scoped like the responder's, to what the handler calls: it reads NACLs (``ec2:DescribeNetworkAcls``,
which has no resource-level permissions) and may delete entries only in the configured NACLs (by ARN, or by an
``ec2:Vpc`` condition for configured VPCs), never create one; it reads and updates only the configured WAF IP
sets; on the table, only the calls its adapter makes. A run that fails is retried by Lambda, then lands in an
encrypted dead-letter queue; an alarm fires on that queue and on the function's errors.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from riposte.core.config import Config
from riposte.handlers import environment
from stacks.constructs.function import function_logs, riposte_function
from stacks.constructs.queues import dead_letter_queue
from stacks.nag import acknowledge
from stacks.permissions import (
    acknowledge_function_policy,
    vpc_scoped_acl_arn,
    waf_ip_set_arns,
)

# How often blocks are expired and records reconciled: a block outlives its expiry by at most this much.
SCHEDULE = Duration.minutes(5)
# The table calls the maintenance run makes through riposte.adapters.aws.dynamodb: list_blocks (Query),
# record_block/acquire_lock/record_audit (PutItem), forget_block/discard_block/release_lock (DeleteItem).
MAINTENANCE_TABLE_CALLS = ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query")
NACL_CALLS = ("ec2:DeleteNetworkAclEntry",)
WAF_CALLS = ("wafv2:GetIPSet", "wafv2:UpdateIPSet")


class Maintenance(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        key: kms.IKey,
        table: dynamodb.ITable,
        secrets: list[secretsmanager.ISecret] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = function_logs(self, "MaintenanceLogs", key)
        self.dlq = dead_letter_queue(self, "MaintenanceDlq", key)
        self.role = iam.Role(
            self,
            "MaintenanceRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Riposte maintenance: expire and reconcile blocks in the configured NACLs and WAF IP sets",
        )
        for statement in self._statements(stack, config):
            self.role.add_to_policy(statement)

        self.function = riposte_function(
            self,
            "Maintenance",
            config=config,
            handler=environment.MAINTENANCE_HANDLER,
            description="Riposte maintenance: remove expired blocks, reconcile records with NACLs and WAF IP sets",
            role=self.role,
            log_group=self.log_group,
            variables={environment.TABLE: table.table_name},
        )
        # A failed run is retried twice by Lambda, then recorded in the dead-letter queue (never silently lost).
        self.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.dlq),
        )
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Riposte: expire blocks and reconcile records with the live NACLs and WAF IP sets",
            schedule=events.Schedule.rate(SCHEDULE),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dlq,
                retry_attempts=3,
                max_event_age=Duration.hours(1),
            )
        )
        table.grant(self.function, *MAINTENANCE_TABLE_CALLS)
        key.grant_encrypt_decrypt(self.function)
        # It resolves PagerDuty incidents whose blocks expired and sends Slack digests: the notifiers' secrets.
        for secret in secrets or []:
            secret.grant_read(self.function)
        self.alarms = self._alarms()
        self._acknowledge(stack, config)

    def _statements(self, stack: Stack, config: Config) -> list[iam.PolicyStatement]:
        statements = [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            ),
            # Reading entries and listing the NACLs of configured VPCs; no resource-level permissions exist.
            iam.PolicyStatement(actions=["ec2:DescribeNetworkAcls"], resources=["*"]),
        ]
        if config.nacl.network_acl_ids:
            acls = [
                stack.format_arn(service="ec2", resource="network-acl", resource_name=a)
                for a in config.nacl.network_acl_ids
            ]
            statements.append(iam.PolicyStatement(actions=list(NACL_CALLS), resources=acls))
        if config.nacl.vpc_ids:
            vpcs = [stack.format_arn(service="ec2", resource="vpc", resource_name=v) for v in config.nacl.vpc_ids]
            statements.append(
                iam.PolicyStatement(
                    actions=list(NACL_CALLS),
                    resources=[vpc_scoped_acl_arn(stack)],
                    conditions={"ArnEquals": {"ec2:Vpc": vpcs}},
                )
            )
        if config.waf.ip_sets:
            statements.append(iam.PolicyStatement(actions=list(WAF_CALLS), resources=waf_ip_set_arns(stack, config)))
        return statements

    def _alarms(self) -> list[cloudwatch.Alarm]:
        failed = cloudwatch.Alarm(
            self,
            "MaintenanceFailed",
            alarm_description="Riposte maintenance failed (blocks may not expire); see its log and dead-letter queue",
            metric=self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        errors = cloudwatch.Alarm(
            self,
            "MaintenanceErrors",
            alarm_description="Riposte maintenance runs are failing (retried; then kept in its dead-letter queue)",
            metric=self.function.metric_errors(period=Duration.minutes(15)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        return [failed, errors]

    def notify(self, topic: sns.ITopic) -> None:
        """Send this construct's alarms to ``topic`` (the stack's alarm topic)."""
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))

    def _acknowledge(self, stack: Stack, config: Config) -> None:
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_function_policy(
            policy,
            stack,
            config,
            describes="Only for ec2:DescribeNetworkAcls (the maintenance run reads NACL entries), which supports no "
            "resource-level permissions; every delete is scoped to the configured NACLs.",
            key="state table, dead-letter queue",
        )
        acknowledge(
            self.dlq,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue: the schedule's target and the function's on-failure "
            "destination send to it; it is watched by an alarm and needs no dead-letter queue of its own.",
        )
