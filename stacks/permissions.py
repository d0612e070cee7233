"""Least-privilege IAM built from what each enabled action declares (``riposte.actions``).

A permission's ``scope`` is resolved against the configuration: "network_acl" becomes the ARNs of the
configured NACLs, plus ``network-acl/*`` limited by an ``ec2:Vpc`` condition for configured VPCs; "*" is for
calls with no resource-level permissions (Describe*). An action enabled with nothing to act on gets no write
permission at all.
"""

from __future__ import annotations

from collections import defaultdict

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from riposte.actions import ACTIONS
from riposte.core.config import Config


def _acl_arn(stack: Stack, name: str) -> str:
    return stack.format_arn(service="ec2", resource="network-acl", resource_name=name)


def vpc_scoped_acl_arn(stack: Stack) -> str:
    """Every NACL ARN in the account and region; only ever granted with an ``ec2:Vpc`` condition."""
    return _acl_arn(stack, "*")


def action_statements(stack: Stack, config: Config) -> list[iam.PolicyStatement]:
    by_scope: defaultdict[str, set[str]] = defaultdict(set)
    for name in config.actions:
        for permission in ACTIONS.get(name).permissions:
            by_scope[permission.scope].update(permission.actions)

    statements = []
    for scope, actions in sorted(by_scope.items()):
        sorted_actions = sorted(actions)
        if scope == "*":
            statements.append(iam.PolicyStatement(actions=sorted_actions, resources=["*"]))
        elif scope == "network_acl":
            if config.nacl.network_acl_ids:
                statements.append(
                    iam.PolicyStatement(
                        actions=sorted_actions,
                        resources=[_acl_arn(stack, acl) for acl in config.nacl.network_acl_ids],
                    )
                )
            if config.nacl.vpc_ids:
                vpcs = [stack.format_arn(service="ec2", resource="vpc", resource_name=v) for v in config.nacl.vpc_ids]
                statements.append(
                    iam.PolicyStatement(
                        actions=sorted_actions,
                        resources=[vpc_scoped_acl_arn(stack)],
                        conditions={"ArnEquals": {"ec2:Vpc": vpcs}},
                    )
                )
        else:
            raise ValueError(f"no IAM resource mapping for permission scope {scope!r}")
    return statements
