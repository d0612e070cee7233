"""Bringing member accounts' CloudTrail events to the central responder.

EventBridge receives a CloudTrail event on the default bus of the account where the call was made, not of the
trail's owner. ``MemberForwarding`` (in the member stack, per region) forwards exactly the events Riposte's
sources listen to, to the central account's default bus; ``CentralBusPolicy`` (in the central stack) lets the
listed member accounts put events there. Forwarded events keep their ``source``, ``detail-type`` and
``account``, so the central rules match them unchanged (GuardDuty needs none of this: a delegated administrator
receives its members' findings on its own bus).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from riposte.core.config import Config
from riposte.sources import SOURCES
from stacks.constructs.ingest import receive_read_only_calls

FORWARDED_SOURCES = ("cloudtrail",)


def central_account(config: Config) -> str:
    """The central account: the one the responder's role lives in."""
    return config.organization.responder_role_arn.split(":")[4]


class CentralBusPolicy(Construct):
    """Member accounts (``organization.member_accounts``) may put events on this account's default bus."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bus = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:event-bus/default"
        self.policies = [
            events.CfnEventBusPolicy(
                self,
                f"Member{account}",
                statement_id=f"RiposteMember{account}",
                statement={
                    "Sid": f"RiposteMember{account}",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{stack.partition}:iam::{account}:root"},
                    "Action": "events:PutEvents",
                    "Resource": bus,
                },
            )
            for account in config.organization.member_accounts
        ]


class MemberForwarding(Construct):
    """One rule per pattern of the forwarded sources, targeting the central default bus in this region."""

    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        central = events.EventBus.from_event_bus_arn(
            self,
            "Central",
            f"arn:{stack.partition}:events:{stack.region}:{central_account(config)}:event-bus/default",
        )
        self.rules: list[events.Rule] = []
        for name in FORWARDED_SOURCES:
            for index, pattern in enumerate(SOURCES.get(name).event_patterns):
                rule = events.Rule(
                    self,
                    f"{name.title()}Forward{index}",
                    description=f"Riposte: {name} events to the central account's bus",
                    event_pattern=events.EventPattern(
                        source=list(pattern["source"]),
                        detail_type=list(pattern["detail-type"]),
                        detail=pattern.get("detail"),
                    ),
                )
                rule.add_target(targets.EventBus(central))
                receive_read_only_calls(rule, pattern)
                self.rules.append(rule)
