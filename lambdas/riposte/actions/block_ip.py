"""block_ip: deny all traffic from a hostile address in every network ACL Riposte may modify.

Why ingress only: NACLs are stateless, so denying inbound packets from an address also drops the replies to
any connection our hosts open to it; TCP to and from it stops with one rule per address, which matters with
a quota of 20 rules per direction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from riposte.actions import ACTIONS
from riposte.actions.base import Action, ActionContext, Permission
from riposte.core.config import Config, Mode
from riposte.core.model import Outcome, Role, SecurityEvent, Status
from riposte.core.nacl import BlockVerdict, host_cidr, plan_block
from riposte.core.ports import BlockRecord, RuleNumberTakenError

# A concurrent invocation may take the number we picked; re-read and re-plan this many times.
ATTEMPTS = 3


@ACTIONS.register
class BlockIp(Action):
    name: ClassVar[str] = "block_ip"
    target_kind: ClassVar[str] = "ip"
    permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(("ec2:DescribeNetworkAcls",), "*"),
        Permission(("ec2:CreateNetworkAclEntry",), "network_acl"),
    )
    mutating_calls: ClassVar[tuple[str, ...]] = ("CreateNetworkAclEntry",)

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        if config.mode is Mode.ENFORCE and not (config.nacl.vpc_ids or config.nacl.network_acl_ids):
            return [f"nacl: mode 'enforce' with action '{cls.name}' needs nacl.vpc_ids or nacl.network_acl_ids"]
        return []

    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        # Network ACLs filter VPC traffic: only addresses whose traffic crosses them (an address that only
        # calls AWS or Kubernetes APIs never does). Attackers acting on us; by config, the peers our
        # compromised hosts reach out to.
        roles = (Role.ACTOR, Role.PEER) if config.blocks.outbound_peers else (Role.ACTOR,)
        return event.entities.having("ip", *roles, network=True)

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        acls = ctx.ports.nacl.target_acls()
        if not acls:
            return Outcome(
                self.name,
                target,
                Status.FAILED,
                "no network ACL to modify: set nacl.network_acl_ids or nacl.vpc_ids",
            )
        cidr = host_cidr(target)
        results = [self._block_in(acl, cidr, ctx) for acl in acls]
        detail = "; ".join(f"{acl}: {text}" for acl, (_, text, _) in zip(acls, results, strict=True))
        if any(status is Status.FAILED for status, _, _ in results):
            retryable = any(again for _, _, again in results)
            return Outcome(self.name, target, Status.FAILED, detail, retryable=retryable)
        return Outcome(self.name, target, Status.DRY_RUN if ctx.dry_run else Status.DONE, detail)

    def _block_in(self, acl: str, cidr: str, ctx: ActionContext) -> tuple[Status, str, bool]:
        """(status, detail, retryable) for one ACL."""
        nacl_cfg = ctx.config.nacl
        for _ in range(ATTEMPTS):
            plan = plan_block(
                ctx.ports.nacl.entries(acl),
                cidr,
                egress=False,
                rule_range=nacl_cfg.rule_range,
                quota=nacl_cfg.rule_quota,
            )
            if plan.verdict is BlockVerdict.ALREADY:
                return Status.DONE, plan.detail, False
            if plan.verdict is not BlockVerdict.ADD or plan.rule_number is None:
                return Status.FAILED, plan.detail, False
            if ctx.dry_run:
                return Status.DRY_RUN, f"would {plan.detail} (dry run)", False
            # Record first: if this write fails, nothing was changed; if the entry then fails, expiry finds a
            # record without a matching entry and skips it. The other order could leave a rule nobody owns.
            ctx.ports.state.record_block(
                BlockRecord(
                    acl_id=acl,
                    cidr=cidr,
                    rule_number=plan.rule_number,
                    egress=False,
                    event_id=ctx.event.id,
                    created_at=ctx.now.isoformat(),
                    expires_at=(ctx.now + timedelta(hours=ctx.config.blocks.ttl_hours)).isoformat(),
                )
            )
            try:
                ctx.ports.nacl.add_deny(acl, plan.rule_number, cidr, egress=False)
            except RuleNumberTakenError:
                continue  # the next attempt rewrites the same record (keyed by ACL and address)
            return (
                Status.DONE,
                f"added {plan.detail.removeprefix('deny ')}, expires in {ctx.config.blocks.ttl_hours}h",
                False,
            )
        return Status.FAILED, f"rule numbers kept being taken concurrently ({ATTEMPTS} attempts)", True
