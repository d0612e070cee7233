"""Alarms on what must never go unnoticed (events waiting in the dead-letter queue), published to an encrypted
SNS topic that people and tools subscribe to (an e-mail address by config; PagerDuty's CloudWatch integration
or any other subscriber by hand)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from riposte.core.config import Config


class Alarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Config,
        key: kms.IKey,
        dlqs: dict[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="Riposte alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # CloudWatch publishes alarm notifications to the encrypted topic through the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        if config.alarms.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarms.email))
        self.alarms: list[cloudwatch.Alarm] = []
        # dlqs: what each dead-letter queue holds ("events", "webhook alerts") -> the queue.
        for index, (what, dlq) in enumerate(dlqs.items()):
            alarm = cloudwatch.Alarm(
                self,
                "DlqNotEmpty" if index == 0 else f"DlqNotEmpty{index}",
                alarm_description=f"Riposte could not process some {what}; inspect and redrive the dead-letter queue",
                metric=dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
            self.alarms.append(alarm)
