"""Alarms on what must never go unnoticed: events waiting in the dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class Alarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, dlq: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self.dlq_not_empty = cloudwatch.Alarm(
            self,
            "DlqNotEmpty",
            alarm_description="Riposte could not process some events; inspect and redrive the dead-letter queue",
            metric=dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
