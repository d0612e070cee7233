"""The role the central responder assumes in a member account: trusts only the responder's role, only with the
external ID, and holds only what the enabled actions declare (``stacks.permissions``), resolved in the member
account. It can never change its own trust or permissions."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from riposte.core.config import Config
from stacks.nag import acknowledge
from stacks.permissions import STAR_REASON, declared_statements, star_actions

# Everything by which a role could widen itself (or stop being what the trust policy says).
SELF_CHANGES = (
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
)


class MemberRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config) -> None:
        super().__init__(scope, construct_id)
        org = config.organization
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=org.member_role_name,
            assumed_by=iam.ArnPrincipal(org.responder_role_arn).with_conditions(
                {"StringEquals": {"sts:ExternalId": org.external_id}}
            ),
            # The responder's sessions are chained from its Lambda role: AWS caps them at one hour anyway.
            max_session_duration=Duration.hours(1),
            description="Riposte member role: assumed by the central responder only, to act in this account",
        )
        self.policy = iam.Policy(
            self,
            "Permissions",
            statements=[
                *declared_statements(stack, config),
                iam.PolicyStatement(effect=iam.Effect.DENY, actions=list(SELF_CHANGES), resources=[self.role.role_arn]),
            ],
            roles=[self.role],
        )
        if star_actions(config):
            acknowledge(self.policy, "AwsSolutions::AwsSolutions-IAM5[Resource::*]", STAR_REASON)
