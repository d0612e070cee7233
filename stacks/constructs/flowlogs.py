"""Flow logs (when ``[flowlogs]`` lists VPCs, subnets or interfaces): VPC flow logs -> an encrypted CloudWatch
log group -> the flow-log Lambda (``riposte.handlers.flowlogs``), directly through a subscription filter or, with
``delivery = "kinesis"``, through an encrypted Kinesis data stream the Lambda reads in batches.

The function runs the responder's pipeline (score, decide, block, notify, audit), so its role holds what the
enabled actions declare, like the responder's, plus the state table calls of both adapters it uses. Nothing
is lost silently: a direct invocation that fails is retried by Lambda, then kept in a dead-letter queue; a
Kinesis batch that fails is bisected and retried, and the failed range recorded in the same queue (the records
stay in the stream for its retention); an alarm watches the queue.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from riposte.adapters.aws.own import DISCOVERY_CALLS
from riposte.core.config import Config
from riposte.handlers import environment
from stacks.constructs.function import function_logs, riposte_function
from stacks.constructs.queues import dead_letter_queue
from stacks.constructs.trail import RETENTION
from stacks.nag import acknowledge
from stacks.names import STATE_TABLE_CALLS
from stacks.permissions import (
    DESCRIBE_CALLS,
    acknowledge_function_policy,
    acknowledge_key_grant,
    action_statements,
)

# The DynamoDB calls riposte.adapters.aws.flowstate makes (a test keeps the two in step). The function also
# runs the responder's pipeline, so it gets STATE_TABLE_CALLS too.
FLOWLOGS_TABLE_CALLS = ("dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem")

# Sizing, from `make bench` (bench/bench_flowlogs.py; figures in the README): the handler costs ~3-4 us per
# record on one full vCPU, so a 1 MiB subscription event (~27k records) takes ~0.1 s of CPU; a 6 MiB Kinesis
# batch (~200k records) peaks at ~140 MiB of Python heap while decoding, on top of ~100 MiB of runtime. 1024 MB
# buys ~0.6 vCPU (Lambda allocates CPU in proportion to memory): such a batch is read in ~1-2 s and memory is
# never the limit; 512 MB would double the time for no saving (the cost is memory x time).
MEMORY_MB = 1024
# Direct delivery: one invocation per delivered batch of a log stream, ~0.2 s each at this size, so 5 at once
# handle ~25 invocations/s (~600k records/s), more than a single subscription delivers (see the README); a cap
# keeps a flood of flow logs from taking the account's concurrency and the table's write capacity. Throttled
# invocations wait in Lambda's asynchronous queue (up to MAX_EVENT_AGE), they are not lost.
DIRECT_CONCURRENCY = 5
MAX_EVENT_AGE = Duration.hours(6)
RETRY_ATTEMPTS = 2  # direct: Lambda's retries of a failed asynchronous invocation
KINESIS_RETRY_ATTEMPTS = 3  # Kinesis: retries of a failed batch (bisected each time), then the DLQ
KINESIS_MAX_RECORD_AGE = Duration.hours(6)
KINESIS_RETENTION = Duration.hours(24)
ITERATOR_AGE_ALARM = Duration.minutes(10)


class FlowLogs(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        key: kms.IKey,
        table: dynamodb.ITable,
        secrets: list[secretsmanager.ISecret],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        settings = config.flowlogs
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            retention=RETENTION[settings.log_retention_days],
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.flow_logs = self._flow_logs(config)
        self.dlq = dead_letter_queue(self, "FlowLogsDlq", key)
        self.function = self._function(stack, config, key, table, secrets)
        self.stream: kinesis.Stream | None = None
        self.alarms: list[cloudwatch.Alarm] = []
        if settings.delivery == "kinesis":
            self.stream = self._kinesis(config, key)
            # A stream read too slowly (or stuck on a failing batch) delays every block: say so.
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    "FlowLogsBehind",
                    alarm_description="Riposte reads flow logs more than 10 minutes behind; blocks come late",
                    metric=self.function.metric(
                        "IteratorAge",
                        statistic="Maximum",
                        period=Duration.minutes(5),
                        unit=cloudwatch.Unit.MILLISECONDS,
                    ),
                    threshold=ITERATOR_AGE_ALARM.to_milliseconds(),
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    evaluation_periods=2,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        else:
            self._direct()
        self._acknowledge(stack, config)

    def notify(self, topic: sns.ITopic) -> None:
        """Send this construct's own alarms to ``topic`` (the stack's alarm topic; its DLQ is watched there)."""
        for alarm in self.alarms:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))

    def _flow_logs(self, config: Config) -> list[ec2.CfnFlowLog]:
        settings = config.flowlogs
        self.delivery_role = iam.Role(
            self,
            "FlowLogDeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="VPC Flow Logs: write Riposte's flow logs to their log group, nothing else",
        )
        self.delivery_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[self.flow_log_group.log_group_arn],
            )
        )
        targets = [("VPC", v) for v in settings.vpc_ids] + [("Subnet", s) for s in settings.subnet_ids]
        targets += [("NetworkInterface", i) for i in settings.interface_ids]
        return [
            ec2.CfnFlowLog(
                self,
                f"FlowLog-{resource_id}",
                resource_id=resource_id,
                resource_type=kind,
                traffic_type="ALL",  # accepted flows too: floods and brute force are mostly accepted
                log_destination_type="cloud-watch-logs",
                log_group_name=self.flow_log_group.log_group_name,
                deliver_logs_permission_arn=self.delivery_role.role_arn,
                max_aggregation_interval=60,  # one-minute records: a window's traffic arrives within minutes
                log_format=settings.log_format,
            )
            for kind, resource_id in targets
        ]

    def _function(
        self,
        stack: Stack,
        config: Config,
        key: kms.IKey,
        table: dynamodb.ITable,
        secrets: list[secretsmanager.ISecret],
    ) -> lambda_.Function:
        self.log_group = function_logs(self, "FlowLogsFunctionLogs", key)
        self.role = iam.Role(
            self,
            "FlowLogsRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Riposte flow logs: the responder's pipeline on flow-log offenders, and the flow state",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            )
        )
        for statement in action_statements(stack, config):
            self.role.add_to_policy(statement)
        self.role.add_to_policy(iam.PolicyStatement(actions=list(DISCOVERY_CALLS), resources=["*"]))
        settings = config.flowlogs
        concurrency = (
            settings.kinesis_shards * settings.kinesis_parallelization_factor
            if settings.delivery == "kinesis"
            else DIRECT_CONCURRENCY
        )
        function = riposte_function(
            self,
            "FlowLogs",
            config=config,
            handler=environment.FLOWLOGS_HANDLER,
            description="Riposte flow logs: spikes, scans and brute force in VPC flow logs, blocked and notified",
            role=self.role,
            log_group=self.log_group,
            variables={environment.TABLE: table.table_name},
            memory_size=MEMORY_MB,
            # Kinesis: one concurrent batch per shard and parallelization slot, never throttled by its own cap.
            reserved_concurrency=concurrency,
        )
        # The flow state's calls (riposte.adapters.aws.flowstate) and the pipeline's (riposte.adapters.aws.dynamodb).
        table.grant(function, *sorted({*STATE_TABLE_CALLS, *FLOWLOGS_TABLE_CALLS}))
        key.grant_encrypt_decrypt(function)
        for secret in secrets:
            secret.grant_read(function)
        return function

    def _direct(self) -> None:
        # A failed invocation is retried, then its record (with the payload when it fits 256 KB; the records
        # themselves stay in the flow-log group for its retention) lands in the dead-letter queue.
        self.function.configure_async_invoke(
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dlq),
        )
        self.subscription = logs.SubscriptionFilter(
            self,
            "Subscription",
            log_group=self.flow_log_group,
            destination=logs_destinations.LambdaDestination(self.function),
            filter_pattern=logs.FilterPattern.all_events(),
            filter_name="riposte-flowlogs",
        )

    def _kinesis(self, config: Config, key: kms.IKey) -> kinesis.Stream:
        settings = config.flowlogs
        stream = kinesis.Stream(
            self,
            "Stream",
            shard_count=settings.kinesis_shards,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            retention_period=KINESIS_RETENTION,
        )
        # CloudWatch Logs writes to the stream through a role of its own (KinesisDestination makes it, with
        # put-record rights on this stream and the key, and a trust limited to this account's log groups).
        self.subscription_role = iam.Role(
            self,
            "SubscriptionRole",
            assumed_by=iam.ServicePrincipal(
                "logs.amazonaws.com",
                conditions={
                    "StringLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            ),
            description="CloudWatch Logs: put Riposte's flow logs on its Kinesis stream, nothing else",
        )
        self.subscription = logs.SubscriptionFilter(
            self,
            "Subscription",
            log_group=self.flow_log_group,
            destination=logs_destinations.KinesisDestination(stream, role=self.subscription_role),
            filter_pattern=logs.FilterPattern.all_events(),
            filter_name="riposte-flowlogs",
        )
        self.function.add_event_source(
            event_sources.KinesisEventSource(
                stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=settings.kinesis_batch_size,
                max_batching_window=Duration.seconds(settings.kinesis_batching_window_seconds),
                parallelization_factor=settings.kinesis_parallelization_factor,
                bisect_batch_on_error=True,
                retry_attempts=KINESIS_RETRY_ATTEMPTS,
                max_record_age=KINESIS_MAX_RECORD_AGE,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.dlq),
            )
        )
        return stream

    def _acknowledge(self, stack: Stack, config: Config) -> None:
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_function_policy(policy, stack, config, describes=DESCRIBE_CALLS, key="state table, secrets, stream")
        if self.stream is not None:
            acknowledge(
                self.stream,
                "AwsSolutions::AwsSolutions-KDS3",
                "Encrypted with Riposte's own rotating customer-managed key, as its queues, table and logs are: the "
                "key policy, not an AWS-managed key, decides who may read the flow records.",
            )
            acknowledge_key_grant(
                self.subscription_role.node.find_child("DefaultPolicy"),
                "CDK's write grant on the stream includes its key; the resource is that one key.",
            )
        acknowledge(
            self.dlq,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue: the function's on-failure destination (direct) or the "
            "stream mapping's (Kinesis) sends to it; it is watched by an alarm and needs no queue of its own.",
        )
