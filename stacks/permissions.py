"""Least-privilege IAM built from what each enabled action declares (``riposte.actions``).

A permission's ``scope`` is resolved against the configuration and the stack's account:
- "network_acl": the ARNs of the configured NACLs, plus ``network-acl/*`` limited by an ``ec2:Vpc`` condition for
  configured VPCs;
- "*": calls with no resource-level permissions (Describe*, account-wide settings);
- "waf_ip_set": the configured WAF IP sets' ARNs;
- the resource scopes in ``ACCOUNT_SCOPES`` ("instance", "iam_role", "trail"...): that kind of resource in the
  stack's own account, in every region (a finding names the resource at run time, in the region it happened).

An action enabled with nothing to act on gets no write permission at all; an action whose configuration enables
only part of it (``heal.controls``) gets only that part (``Action.permissions_for``). Each wildcard resource is
acknowledged to cdk-nag here, next to the reason it exists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from riposte.actions import ACTIONS
from riposte.core.config import Config, WafScope
from stacks.nag import acknowledge, resource_finding


@dataclass(frozen=True)
class ResourceType:
    service: str
    resource: str  # "instance/*" style, or "*" for a service whose ARNs have no resource type (s3)
    regional: bool = True
    in_account: bool = True


# Scope -> the resource types it covers, in the stack's account.
ACCOUNT_SCOPES: dict[str, tuple[ResourceType, ...]] = {
    "instance": (ResourceType("ec2", "instance/*"),),
    "network_interface": (ResourceType("ec2", "network-interface/*"), ResourceType("ec2", "security-group/*")),
    "security_group": (ResourceType("ec2", "security-group/*"),),
    "vpc_security_group": (ResourceType("ec2", "security-group/*"), ResourceType("ec2", "vpc/*")),
    "ec2_taggable": (
        ResourceType("ec2", "instance/*"),
        ResourceType("ec2", "security-group/*"),
        ResourceType("ec2", "snapshot/*", in_account=False),
    ),
    # Snapshot ARNs carry no account (arn:aws:ec2:region::snapshot/id).
    "volume_snapshot": (ResourceType("ec2", "volume/*"), ResourceType("ec2", "snapshot/*", in_account=False)),
    "iam_user": (ResourceType("iam", "user/*", regional=False),),
    "iam_role": (ResourceType("iam", "role/*", regional=False),),
    "trail": (ResourceType("cloudtrail", "trail/*"),),
    "detector": (ResourceType("guardduty", "detector/*"),),
    # Bucket ARNs carry neither region nor account: any bucket, the finding names it.
    "bucket": (ResourceType("s3", "*", regional=False, in_account=False),),
    "kms_key": (ResourceType("kms", "key/*"),),
}

WILDCARD_REASON = (
    "Riposte acts on the resource a finding names, known only at run time: limited to this account, to this "
    "resource type, and to the calls the enabled actions declare (stacks/permissions.py)."
)
STAR_REASON = (
    "Calls with no resource-level permissions (Describe*, Get*, account- and region-wide settings) that the "
    "enabled actions declare; every call on a resource is scoped to its resource type in this account."
)


DESCRIBE_CALLS = (
    "Only for ec2:Describe* calls (block_ip reads NACL entries; the guard discovers the account's own "
    "addresses), which support no resource-level permissions; every write is scoped to the configured NACLs."
)


def _acl_arn(stack: Stack, name: str) -> str:
    return stack.format_arn(service="ec2", resource="network-acl", resource_name=name)


def vpc_scoped_acl_arn(stack: Stack) -> str:
    """Every NACL ARN in the account and region; only ever granted with an ``ec2:Vpc`` condition."""
    return _acl_arn(stack, "*")


def acknowledge_key_grant(policy: Construct, holds: str) -> None:
    """CDK's grant on Riposte's own key writes ``kms:GenerateDataKey*`` and ``kms:ReEncrypt*``."""
    for kms_action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        acknowledge(policy, f"AwsSolutions::AwsSolutions-IAM5[Action::{kms_action}]", holds)


def acknowledge_function_policy(policy: Construct, stack: Stack, config: Config, *, describes: str, key: str) -> None:
    """What every Riposte function's role shares with cdk-nag: Describe calls on ``Resource::*`` (``describes``
    says which and why), CDK's grant on Riposte's own key (``key``: what it encrypts), and, with VPCs
    configured, the NACL statement that an ec2:Vpc condition scopes."""
    acknowledge(policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", describes)
    acknowledge_key_grant(policy, f"CDK's grant on Riposte's own key ({key}); the resource is that one key.")
    if config.nacl.vpc_ids:
        acknowledge(
            policy,
            resource_finding(stack, "AwsSolutions-IAM5", vpc_scoped_acl_arn(stack)),
            "Network ACLs of the configured VPCs only: the statement carries an ec2:Vpc condition.",
        )


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


def resource_arn(stack: Stack, kind: ResourceType) -> str:
    region = "*" if kind.regional else ""
    account = None if kind.in_account else ""
    if kind.resource == "*":
        return stack.format_arn(
            service=kind.service, resource="*", region=region, account=account, arn_format=ArnFormat.NO_RESOURCE_NAME
        )
    resource, _, name = kind.resource.partition("/")
    return stack.format_arn(service=kind.service, resource=resource, resource_name=name, region=region, account=account)


def scope_arns(stack: Stack, scope: str) -> list[str]:
    return [resource_arn(stack, kind) for kind in ACCOUNT_SCOPES[scope]]


def _declared(config: Config) -> dict[str, set[str]]:
    by_scope: defaultdict[str, set[str]] = defaultdict(set)
    for name in config.actions:
        for permission in ACTIONS.get(name).permissions_for(config):
            by_scope[permission.scope].update(permission.actions)
    return by_scope


def _nacl_statements(stack: Stack, config: Config, actions: list[str]) -> list[iam.PolicyStatement]:
    statements = []
    if config.nacl.network_acl_ids:
        statements.append(
            iam.PolicyStatement(
                actions=actions,
                resources=[_acl_arn(stack, acl) for acl in config.nacl.network_acl_ids],
            )
        )
    if config.nacl.vpc_ids:
        vpcs = [stack.format_arn(service="ec2", resource="vpc", resource_name=v) for v in config.nacl.vpc_ids]
        statements.append(
            iam.PolicyStatement(
                actions=actions,
                resources=[vpc_scoped_acl_arn(stack)],
                conditions={"ArnEquals": {"ec2:Vpc": vpcs}},
            )
        )
    return statements


def declared_statements(stack: Stack, config: Config) -> list[iam.PolicyStatement]:
    """What the enabled actions declare, resolved in ``stack``'s account (the member role's whole policy)."""
    statements = []
    for scope, actions in sorted(_declared(config).items()):
        sorted_actions = sorted(actions)
        if scope == "*":
            statements.append(iam.PolicyStatement(actions=sorted_actions, resources=["*"]))
        elif scope == "network_acl":
            statements.extend(_nacl_statements(stack, config, sorted_actions))
        elif scope == "waf_ip_set":
            if config.waf.ip_sets:
                statements.append(iam.PolicyStatement(actions=sorted_actions, resources=waf_ip_set_arns(stack, config)))
        elif scope in ACCOUNT_SCOPES:
            arns = scope_arns(stack, scope)
            statements.append(iam.PolicyStatement(actions=sorted_actions, resources=arns))
            for arn in arns:
                acknowledge(stack, resource_finding(stack, "AwsSolutions-IAM5", arn), WILDCARD_REASON)
        else:
            raise ValueError(f"no IAM resource mapping for permission scope {scope!r}")
    return statements


def member_role_arns(stack: Stack, config: Config) -> list[str]:
    org = config.organization
    return [
        stack.format_arn(service="iam", region="", account=account, resource="role", resource_name=org.member_role_name)
        for account in org.member_accounts
    ]


def action_statements(stack: Stack, config: Config) -> list[iam.PolicyStatement]:
    """The responder's: what the enabled actions declare, and assuming the member role in each member account
    (exact role ARNs, no wildcard) to do the same there."""
    statements = declared_statements(stack, config)
    if config.organization.member_accounts:
        statements.append(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=member_role_arns(stack, config)))
    return statements


def star_actions(config: Config) -> list[str]:
    """The declared calls granted on "*" (for assertions and the member stack's acknowledgment)."""
    return sorted(_declared(config).get("*", set()))
