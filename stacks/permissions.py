"""Least-privilege IAM built from what each enabled action declares (``riposte.actions``).

A permission's ``scope`` is resolved against the configuration: "network_acl" becomes the ARNs of the
configured NACLs, plus ``network-acl/*`` limited by an ``ec2:Vpc`` condition for configured VPCs; "waf_ip_set"
the ARNs of the configured WAF IP sets; "*" is for calls with no resource-level permissions (Describe*). An
action enabled with nothing to act on gets no write permission at all.
"""

from __future__ import annotations

from collections import defaultdict

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam

from riposte.actions import ACTIONS
from riposte.core.config import Config, WafScope


def _acl_arn(stack: Stack, name: str) -> str:
    return stack.format_arn(service="ec2", resource="network-acl", resource_name=name)


def vpc_scoped_acl_arn(stack: Stack) -> str:
    """Every NACL ARN in the account and region; only ever granted with an ``ec2:Vpc`` condition."""
    return _acl_arn(stack, "*")


def waf_ip_set_arns(stack: Stack, config: Config) -> list[str]:
    """The configured WAF IP sets' ARNs ("waf_ip_set"); CLOUDFRONT sets live in us-east-1."""
    return [
        stack.format_arn(
            service="wafv2",
            region="us-east-1" if ip_set.scope is WafScope.CLOUDFRONT else None,
            resource="global" if ip_set.scope is WafScope.CLOUDFRONT else "regional",
            resource_name=f"ipset/{ip_set.name}/{ip_set.id}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for ip_set in config.waf.ip_sets
    ]


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
        elif scope == "waf_ip_set":
            if config.waf.ip_sets:
                statements.append(iam.PolicyStatement(actions=sorted_actions, resources=waf_ip_set_arns(stack, config)))
        else:
            raise ValueError(f"no IAM resource mapping for permission scope {scope!r}")
    return statements
