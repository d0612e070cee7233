"""Logical IDs that stateful resources had when the stack was one class (v0.1). Keeping them means an
existing deployment updates in place: its table, queues, key, log group and named secrets are not replaced
(a replaced named secret would even fail the deploy: the name is taken by the retained original)."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import Construct

LOGICAL_IDS = {
    "key": "Key961B73FD",
    "dlq": "EventsDlqACDA5DFF",
    "queue": "EventsD32975C2",
    "table": "State1C20CC9A",
    "secret:slack_webhook_url": "SlackWebhookUrl754D14AD",
    "secret:pagerduty_routing_key": "PagerDutyRoutingKeyF3827563",
    "responder_logs": "ResponderLogsECA256E1",
}


def keep_logical_id(construct: Construct, name: str) -> None:
    if (logical_id := LOGICAL_IDS.get(name)) is None:
        return
    child = construct.node.default_child
    assert isinstance(child, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    child.override_logical_id(logical_id)
