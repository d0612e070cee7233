"""Ingest: one EventBridge rule per registered source that declares a pattern -> the encrypted events queue,
with a dead-letter queue for what cannot be delivered or processed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from riposte.sources import SOURCES
from riposte.sources.cloudtrail.patterns import needs_every_management_event
from stacks.constructs.legacy import keep_logical_id
from stacks.constructs.queues import dead_letter_queue, event_queue


class Ingest(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(self, "EventsDlq", key)
        keep_logical_id(self.dlq, "dlq")
        self.queue = event_queue(self, "Events", key, self.dlq)
        keep_logical_id(self.queue, "queue")

        self.rules: list[events.Rule] = []
        for name, source in SOURCES:
            for index, pattern in enumerate(source.event_patterns):
                self._rule(f"{name.title()}Rule{index or ''}", name, pattern)
        self._pin_senders()

    def _pin_senders(self) -> None:
        """Only this construct's rules may put events on the queue. CDK's own statement allows any rule of the
        account (aws:SourceAccount); this deny narrows it to these rules' ARNs, and keeps out every principal
        that would send directly (no aws:SourceArn at all): the responder acts on what the queue holds, so
        nobody may write to it but EventBridge for these rules (and the dead-letter queue's redrive)."""
        allowed = [rule.rule_arn for rule in self.rules] + [self.dlq.queue_arn]
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyRiposteRulesMaySend",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnNotEquals": {"aws:SourceArn": allowed}},
            )
        )

    def _rule(self, construct_id: str, name: str, pattern: Mapping[str, Any]) -> None:
        rule = events.Rule(
            self,
            construct_id,
            description=f"Riposte: {name} events to the responder queue",
            event_pattern=events.EventPattern(
                source=list(pattern["source"]),
                detail_type=list(pattern["detail-type"]),
                detail=pattern.get("detail"),
            ),
        )
        receive_read_only_calls(rule, pattern)
        rule.add_target(
            targets.SqsQueue(
                self.queue,
                dead_letter_queue=self.dlq,
                retry_attempts=185,
                max_event_age=Duration.hours(24),
            )
        )
        self.rules.append(rule)


def receive_read_only_calls(rule: events.Rule, pattern: Mapping[str, Any]) -> None:
    """Put the rule in the state in which EventBridge delivers read-only CloudTrail calls, when its pattern
    needs them (GetSecretValue, root's ListBuckets, a refused DescribeInstances: see the predicate)."""
    if needs_every_management_event(pattern):
        cfn = rule.node.default_child
        assert isinstance(cfn, events.CfnRule)
        cfn.add_property_override("State", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
