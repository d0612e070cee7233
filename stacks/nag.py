"""cdk-nag acknowledgments, every one with a reason, and finding ids that do not depend on how the
environment was resolved."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import Construct


def acknowledge(scope: Construct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def flatten(node: Any) -> str:  # noqa: PLR0911 - one return per CloudFormation function, as in cdk-nag
    """A resolved CloudFormation value as cdk-nag spells it in granular finding ids (its
    ``flattenCfnReference``): ``{"Ref": "AWS::Region"}`` -> ``<AWS::Region>``, joins joined, strings as is."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(flatten(item) for item in items)
        if "Fn::Sub" in node:
            return flatten(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten(node['Ref'])}>"
    raise ValueError(f"cannot flatten {node!r} the way cdk-nag does")


def resource_finding(stack: Stack, rule: str, resource: str) -> str:
    """The granular finding id for ``resource`` (an ARN, possibly with tokens) under ``rule``. With
    ``cdk synth`` the CLI sets CDK_DEFAULT_REGION/ACCOUNT and ARNs come out concrete; without, as tokens:
    resolving the same value cdk-nag sees gives the right id either way."""
    return f"AwsSolutions::{rule}[Resource::{flatten(stack.resolve(resource))}]"
