"""The member stack: what each account of an organization needs so that the central responder can act there.

Deploy it with ``npx cdk deploy -c riposte:member=true RiposteMember`` in each member account, or roll it out to
an organization with CloudFormation StackSets (docs/organizations.md). It holds one IAM role (global: deploy it
in one region per account), needs no asset and no CDK bootstrap (so a StackSet can deploy its template as is).
"""

from __future__ import annotations

from aws_cdk import BootstraplessSynthesizer, CfnOutput, Stack
from constructs import Construct

from riposte.core.config import Config, ConfigError
from stacks.constructs.forwarding import MemberForwarding
from stacks.constructs.member_role import MemberRole


def check_member_config(config: Config) -> None:
    """The member stack needs to know whom to trust; an error names the field."""
    org = config.organization
    problems = []
    if not org.responder_role_arn:
        problems.append("organization.responder_role_arn: required for the member stack (the responder's role ARN)")
    if not org.external_id:
        problems.append("organization.external_id: required for the member stack (the member role demands it)")
    if problems:
        raise ConfigError("invalid configuration\n" + "\n".join(problems))


class MemberStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, **kwargs: object) -> None:
        check_member_config(config)
        kwargs.setdefault("synthesizer", BootstraplessSynthesizer())
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        self.member = MemberRole(self, "Member", config=config)
        # CloudTrail events reach EventBridge in the account where the call was made: forward what Riposte listens
        # to (per region: deploy the stack, or this part of it, in each region you use).
        self.forwarding = MemberForwarding(self, "Forwarding", config=config)
        CfnOutput(self, "MemberRoleArn", value=self.member.role.role_arn, description="Assumed by the responder")
