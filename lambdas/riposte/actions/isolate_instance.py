"""isolate_instance: cut one of our instances that a finding says is compromised off the network, keep it for
forensics, and make the isolation reversible.

On every network interface of the instance, its security groups are replaced by one quarantine group with no
rule at all (created once per VPC, tagged, reused); the groups each interface had are recorded first, so that
``undo`` (``riposte release INSTANCE``) puts them back. Termination protection goes on, the instance is tagged
``riposte:isolated=<event id>``, and each EBS volume is snapshotted once per event.

Never on an instance listed in ``isolation.exempt_instances`` or carrying one of ``isolation.exempt_tags``.

Targets are the instances whose role in the event is COMPROMISED (a C2 callback, mining, a Tor client, a
runtime finding), whatever the finding's name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from riposte.actions import ACTIONS
from riposte.actions.accounts import AccountPorts, Instance, MemberAccessError, NoAccountAccessError
from riposte.actions.base import Action, ActionContext, Permission
from riposte.actions.support import mode_note, reach
from riposte.core.config import Config
from riposte.core.model import Outcome, Role, SecurityEvent, Status

ISOLATED_TAG = "riposte:isolated"
TAG_VALUE_MAX = 256
GONE_STATES = ("shutting-down", "terminated")


def record_key(instance_id: str) -> str:
    # Instance IDs are unique across accounts and regions, so ``riposte release i-...`` needs nothing else.
    return f"isolate_instance#{instance_id}"


def _groups(groups: tuple[str, ...] | list[str]) -> str:
    return ", ".join(groups) or "none"


@ACTIONS.register
class IsolateInstance(Action):
    name: ClassVar[str] = "isolate_instance"
    target_kind: ClassVar[str] = "instance"
    permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(
            (
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceAttribute",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSnapshots",
            ),
            "*",
        ),
        Permission(("ec2:CreateSecurityGroup",), "vpc_security_group"),
        Permission(("ec2:RevokeSecurityGroupEgress",), "security_group"),
        Permission(("ec2:ModifyNetworkInterfaceAttribute",), "network_interface"),
        Permission(("ec2:ModifyInstanceAttribute",), "instance"),
        Permission(("ec2:CreateTags",), "ec2_taggable"),
        Permission(("ec2:CreateSnapshot",), "volume_snapshot"),
    )
    mutating_calls: ClassVar[tuple[str, ...]] = (
        "CreateSecurityGroup",
        "RevokeSecurityGroupEgress",
        "ModifyNetworkInterfaceAttribute",
        "ModifyInstanceAttribute",
        "CreateTags",
        "CreateSnapshot",
    )
    # What ``undo`` needs besides the above (run by a person, or granted to an undo role): removing the tag.
    undo_permissions: ClassVar[tuple[Permission, ...]] = (Permission(("ec2:DeleteTags",), "instance"),)

    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        return event.entities.having("instance", Role.COMPROMISED)

    # --- execute -------------------------------------------------------------------------------------------

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        if target in ctx.config.isolation.exempt_instances:
            return self._outcome(target, Status.REFUSED, "listed in isolation.exempt_instances")
        aws = reach(self.name, target, ctx, f"isolate {target}")
        if isinstance(aws, Outcome):
            return aws
        instance = aws.instances.instance(target)
        if instance is None or instance.state in GONE_STATES:
            where = f"account {aws.account} region {aws.region}"
            missing = f"no instance {target} in {where}" if instance is None else f"instance is {instance.state}"
            return self._outcome(target, Status.FAILED, f"{missing}: nothing to isolate")
        if why := self._exempt(instance, ctx.config):
            return self._outcome(target, Status.REFUSED, why)
        group = aws.instances.quarantine_group(instance.vpc_id)
        if ctx.dry_run_for(self.name):
            return self._outcome(target, Status.DRY_RUN, self._intent(instance, group, ctx) + mode_note(ctx, self.name))
        return self._isolate(instance, group, aws, ctx)

    def _exempt(self, instance: Instance, config: Config) -> str | None:
        for key, value in config.isolation.exempt_tags.items():
            if instance.tags.get(key) == value:
                return f"exempt: tagged {key}={value}"
        return None

    def _intent(self, instance: Instance, group: str | None, ctx: ActionContext) -> str:
        quarantine = group or f"a new quarantine group in {instance.vpc_id}"
        moves = [
            f"{i.id} (was {_groups(i.groups)})" for i in instance.interfaces if group is None or i.groups != (group,)
        ]
        parts = [f"would put {quarantine} on {', '.join(moves) or 'no interface'}"]
        if not instance.termination_protected:
            parts.append("turn termination protection on")
        parts.append(f"tag {ISOLATED_TAG}")
        if ctx.config.isolation.snapshot_volumes and instance.volumes:
            parts.append(f"snapshot {', '.join(instance.volumes)}")
        return "; ".join(parts)

    def _isolate(self, instance: Instance, group: str | None, aws: AccountPorts, ctx: ActionContext) -> Outcome:
        target = instance.id
        records = ctx.ports.records
        if records is None:
            return self._outcome(target, Status.FAILED, "no state store to record the groups it replaces: not isolated")
        # Record first, and never overwrite what an earlier isolation recorded: an interface that already
        # carries only the quarantine group would otherwise be "remembered" as quarantined, with no way back.
        # The instance is read before the record, so a concurrent isolation's record is always seen here.
        record = records.recall(record_key(target)) or {
            "account": aws.account,
            "region": aws.region,
            "event_id": ctx.event.id,
            "isolated_at": ctx.now.isoformat(),
            "termination_protected": instance.termination_protected,
            "interfaces": {},
        }
        interfaces: dict[str, Any] = record["interfaces"]
        unknown = []
        for interface in instance.interfaces:
            if interface.id in interfaces:
                continue
            if group is not None and interface.groups == (group,):
                unknown.append(interface.id)  # quarantined by someone else's hand: no groups to give back
                continue
            interfaces[interface.id] = list(interface.groups)
        if group is None:
            group = aws.instances.create_quarantine_group(instance.vpc_id, ctx.config.isolation.quarantine_group_name)
        record["quarantine_group"] = group
        records.remember(record_key(target), record)

        moved = []
        for interface in instance.interfaces:
            if interface.groups != (group,):
                aws.instances.set_groups(interface.id, (group,))
                moved.append(f"{interface.id}: {_groups(interface.groups)} -> {group}")
        parts = ["; ".join(moved) if moved else f"already on {group}"]
        if not instance.termination_protected:
            aws.instances.set_termination_protection(target, True)
            parts.append("termination protection on")
        if instance.tags.get(ISOLATED_TAG) is None:
            aws.instances.tag(target, {ISOLATED_TAG: ctx.event.id[:TAG_VALUE_MAX]})
        if ctx.config.isolation.snapshot_volumes and instance.volumes:
            parts.append("snapshots " + ", ".join(self._snapshots(instance, aws, ctx)))
        if unknown:
            parts.append(f"{', '.join(unknown)} already quarantined with no recorded groups")
        parts.append(f"previous groups recorded; undo: riposte release {target}")
        return self._outcome(target, Status.DONE, "; ".join(parts))

    def _snapshots(self, instance: Instance, aws: AccountPorts, ctx: ActionContext) -> list[str]:
        taken = []
        for volume in instance.volumes:
            tags = {
                "riposte:event": ctx.event.id[:TAG_VALUE_MAX],
                "riposte:instance": instance.id,
                "riposte:volume": volume,
            }
            # One snapshot per volume and event: a redelivered event finds the one it took.
            existing = aws.instances.snapshots(tags)
            snapshot = (
                existing[0]
                if existing
                else aws.instances.snapshot(
                    volume, f"Riposte forensic snapshot of {volume} ({instance.id}), event {ctx.event.id}", tags
                )
            )
            taken.append(f"{snapshot} ({volume})")
        return taken

    # --- undo ----------------------------------------------------------------------------------------------

    def undo(self, target: str, ctx: ActionContext) -> Outcome:
        """Give every interface back the groups it had, if it still carries only the quarantine group (a person
        may have changed it since: that is left alone), restore termination protection, remove the tag. The
        forensic snapshots are kept."""
        records = ctx.ports.records
        record = records.recall(record_key(target)) if records is not None else None
        if records is None or record is None:
            return self._outcome(target, Status.FAILED, f"no isolation record for {target}: nothing to restore")
        try:
            aws = ctx.aws(record["account"], record["region"])
        except (NoAccountAccessError, MemberAccessError) as error:
            return self._outcome(target, Status.FAILED, f"cannot release {target}: {error}")
        instance = aws.instances.instance(target)
        if instance is None:
            return self._outcome(target, Status.FAILED, f"no instance {target} in account {aws.account}")
        group = record.get("quarantine_group", "")
        current = {i.id: i.groups for i in instance.interfaces}
        plan: list[tuple[str, tuple[str, ...]]] = []
        notes = []
        for interface, groups in record["interfaces"].items():
            if interface not in current:
                notes.append(f"{interface}: no longer attached")
            elif current[interface] != (group,):
                notes.append(f"{interface}: changed since isolation ({_groups(current[interface])}), left alone")
            else:
                plan.append((interface, tuple(groups)))
        restore_protection = not record["termination_protected"] and instance.termination_protected
        if ctx.dry_run_for(self.name):
            moves = [f"{i} -> {_groups(g)}" for i, g in plan]
            text = f"would restore {'; '.join(moves) or 'no interface'}" + "; ".join(["", *notes])
            return self._outcome(target, Status.DRY_RUN, text + mode_note(ctx, self.name))
        for interface, groups in plan:
            aws.instances.set_groups(interface, groups)
        if restore_protection:
            aws.instances.set_termination_protection(target, False)
        aws.instances.untag(target, (ISOLATED_TAG,))
        records.forget(record_key(target))
        parts = [f"{i}: {group} -> {_groups(g)}" for i, g in plan] + notes
        if restore_protection:
            parts.append("termination protection off again")
        parts.append("forensic snapshots kept")
        return self._outcome(target, Status.DONE, "; ".join(parts))

    def _outcome(self, target: str, status: Status, detail: str) -> Outcome:
        return Outcome(self.name, target, status, detail)
