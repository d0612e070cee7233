"""heal: switch a security control back on when a detection says it was switched off.

One explicit map says which detection heals what (``DETECTIONS``): the detection's id is the event's ``type``
(or its "Detection" evidence), and the resource it names is the event's AFFECTED party of the kind the map
gives. Each heal is a small ``Control``; ``heal.controls`` enables them one by one and the stack grants only
the permissions of the enabled ones.

- trail_logging (cloudtrail_stop_logging): StartLogging.
- guardduty_detector (guardduty_detector_disabled): UpdateDetector(Enable=true).
- admin_port_ingress (sg_ingress_open_to_world, sg_rule_modified_open_to_world): revoke exactly the world-open
  inbound rule on an admin port.
- bucket_public_access_block (s3_bucket_public_access_block_weakened): all four settings on.
- account_public_access_block (s3_account_public_access_block_weakened, and GuardDuty's
  Policy:S3/AccountBlockPublicAccessDisabled): all four settings on.
- ebs_default_encryption (ebs_default_encryption_disabled): EnableEbsEncryptionByDefault in the region.
- kms_key_deletion (kms_key_scheduled_deletion): CancelKeyDeletion, then EnableKey.

A target reads ``<control>:<account>/<region>[/<resource>]`` (``trail_logging:111122223333/eu-west-1/main``),
so that an undo needs nothing but the target. Every heal reads the control first (already on: nothing to do),
records the state it found, and only then changes it. Undo puts the recorded state back, only while the
control is still as the heal left it; a cancelled KMS key deletion is never re-scheduled by Riposte.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from riposte.actions import ACTIONS
from riposte.actions.accounts import (
    AccountPorts,
    IngressRule,
    MemberAccessError,
    NoAccountAccessError,
    PublicAccessBlock,
    protocol_name,
)
from riposte.actions.base import Action, ActionContext, Permission
from riposte.actions.support import matching, mode_note, reach
from riposte.core.config import Config
from riposte.core.guard import world_wide
from riposte.core.model import Outcome, Role, SecurityEvent, Status

DETECTION_EVIDENCE = "Detection"

# Detection id -> (control, kind of the AFFECTED party naming the resource). "account" parties name the
# account itself (account- or region-wide controls).
DETECTIONS: dict[str, tuple[str, str]] = {
    "cloudtrail_stop_logging": ("trail_logging", "trail"),
    "guardduty_detector_disabled": ("guardduty_detector", "detector"),
    "sg_ingress_open_to_world": ("admin_port_ingress", "security_group_rule"),
    # A rule rewritten in place; the request does not say inbound or outbound: the control reads the group's
    # inbound rules, so an outbound one is never found, never revoked.
    "sg_rule_modified_open_to_world": ("admin_port_ingress", "security_group_rule"),
    "s3_bucket_public_access_block_weakened": ("bucket_public_access_block", "bucket"),
    "s3_account_public_access_block_weakened": ("account_public_access_block", "account"),
    # GuardDuty's own finding for the same switched-off control.
    "Policy:S3/AccountBlockPublicAccessDisabled": ("account_public_access_block", "account"),
    "ebs_default_encryption_disabled": ("ebs_default_encryption", "account"),
    "kms_key_scheduled_deletion": ("kms_key_deletion", "kms_key"),
}


class Refused(Exception):
    """The control is in a state this heal must not touch; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    control: str
    account: str | None
    region: str | None
    resource: str

    @classmethod
    def parse(cls, text: str) -> Target:
        control, _, rest = text.partition(":")
        account, _, rest = rest.partition("/")
        region, _, resource = rest.partition("/")
        if control not in CONTROLS or not account or not region:
            raise ValueError(f"not a heal target: {text!r} (expected <control>:<account>/<region>[/<resource>])")
        return cls(control, None if account == "-" else account, None if region == "-" else region, resource)

    def __str__(self) -> str:
        where = f"{self.account or '-'}/{self.region or '-'}"
        return f"{self.control}:{where}" + (f"/{self.resource}" if self.resource else "")


def _arn_region(value: str) -> str | None:
    """The region of an ARN (a trail's or a key's home region, where the call must go)."""
    parts = value.split(":")
    return parts[3] or None if value.startswith("arn:") and len(parts) > 5 else None


def detection_of(event: SecurityEvent) -> str | None:
    if event.type in DETECTIONS:
        return event.type
    return next((value for label, value in event.evidence if label == DETECTION_EVIDENCE and value in DETECTIONS), None)


# --- the controls ------------------------------------------------------------------------------------------


class Control(ABC):
    """One heal. ``read`` returns the control's state as a record (None: the resource does not exist)."""

    name: ClassVar[str]
    permissions: ClassVar[tuple[Permission, ...]]
    undo_permissions: ClassVar[tuple[Permission, ...]] = ()
    mutating_calls: ClassVar[tuple[str, ...]]

    @abstractmethod
    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def healthy(self, state: dict[str, Any]) -> bool: ...

    def check(self, state: dict[str, Any], config: Config) -> None:  # noqa: B027 - an optional hook
        """Raise ``Refused`` when the state must be left alone (default: never)."""

    @abstractmethod
    def intent(self, resource: str, state: dict[str, Any]) -> str:
        """What the fix does, as "start logging on trail x"."""

    @abstractmethod
    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None: ...

    @abstractmethod
    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        """Put ``before`` back (the heal's state is checked by the caller); return what was done."""


class TrailLogging(Control):
    name = "trail_logging"
    permissions = (Permission(("cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"), "trail"),)
    undo_permissions = (Permission(("cloudtrail:StopLogging",), "trail"),)
    mutating_calls = ("StartLogging",)

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        logging = aws.controls.trail_logging(resource)
        return None if logging is None else {"logging": logging}

    def healthy(self, state: dict[str, Any]) -> bool:
        return bool(state["logging"])

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        return f"start logging on trail {resource}"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.start_trail_logging(resource)

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        aws.controls.stop_trail_logging(resource)
        return f"stopped logging on trail {resource} again"


class GuardDutyDetector(Control):
    name = "guardduty_detector"
    permissions = (Permission(("guardduty:GetDetector", "guardduty:UpdateDetector"), "detector"),)
    mutating_calls = ("UpdateDetector",)

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        enabled = aws.controls.detector_enabled(resource)
        return None if enabled is None else {"enabled": enabled}

    def healthy(self, state: dict[str, Any]) -> bool:
        return bool(state["enabled"])

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        return f"re-enable GuardDuty detector {resource}"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.set_detector_enabled(resource, True)

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        aws.controls.set_detector_enabled(resource, False)
        return f"suspended GuardDuty detector {resource} again"


def parse_rule_reference(resource: str) -> tuple[str, IngressRule | str]:
    """``sg-1/sgr-2`` -> (group, rule id); ``sg-1/tcp/22-22/0.0.0.0/0`` or ``sg-1/-1/all/::/0`` (every protocol
    and port) -> (group, the rule)."""
    group, _, rest = resource.partition("/")
    if not group.startswith("sg-") or not rest:
        raise ValueError(f"not a security group rule reference: {resource!r}")
    if rest.startswith("sgr-"):
        return group, rest
    protocol, _, rest = rest.partition("/")
    ports, _, cidr = rest.partition("/")
    low, _, high = ("-1", "", "-1") if ports in ("all", "-1") else ports.partition("-")
    try:
        return group, IngressRule(protocol_name(protocol), int(low), int(high or low), cidr)
    except ValueError:
        raise ValueError(f"not a security group rule reference: {resource!r}") from None


class AdminPortIngress(Control):
    """Revokes exactly the world-open rule the detection names (by its rule id, or protocol, ports and CIDR),
    and only if it is world-open on a port of ``heal.admin_ports``: other rules of the group stay."""

    name = "admin_port_ingress"
    permissions = (
        Permission(("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"), "*"),
        Permission(("ec2:RevokeSecurityGroupIngress",), "security_group"),
    )
    undo_permissions = (Permission(("ec2:AuthorizeSecurityGroupIngress",), "security_group"),)
    mutating_calls = ("RevokeSecurityGroupIngress",)

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        group, wanted = parse_rule_reference(resource)
        rules = aws.controls.ingress_rules(group)
        if rules is None:
            return None
        for rule in rules:
            if (rule.rule_id == wanted) if isinstance(wanted, str) else self._same(rule, wanted):
                return {"present": True, "rule": asdict(rule)}
        return {"present": False}

    @staticmethod
    def _same(rule: IngressRule, wanted: IngressRule) -> bool:
        return (rule.protocol, rule.from_port, rule.to_port, rule.cidr) == (
            wanted.protocol,
            wanted.from_port,
            wanted.to_port,
            wanted.cidr,
        )

    def healthy(self, state: dict[str, Any]) -> bool:
        return not state["present"]

    def check(self, state: dict[str, Any], config: Config) -> None:
        rule = IngressRule(**state["rule"])
        if not world_wide(rule.cidr):
            raise Refused(f"rule {rule.describe()} is not open to the world: left alone")
        everything = rule.protocol == "-1" or (rule.from_port <= 0 and rule.to_port >= 65535)
        if not everything and not any(rule.from_port <= p <= rule.to_port for p in config.heal.admin_ports):
            raise Refused(f"rule {rule.describe()} covers no port of heal.admin_ports: left alone")

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        group = resource.partition("/")[0]
        return f"revoke {IngressRule(**state['rule']).describe()} from {group} (only that rule)"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.revoke_ingress(resource.partition("/")[0], IngressRule(**state["rule"]))

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        rule = IngressRule(**before["rule"])
        aws.controls.authorize_ingress(resource.partition("/")[0], rule)
        return f"authorized {rule.describe()} again"


def _block_state(block: PublicAccessBlock | None) -> dict[str, Any]:
    return {"block": None if block is None else block.as_dict()}


def _block(state: dict[str, Any]) -> PublicAccessBlock | None:
    return None if state["block"] is None else PublicAccessBlock(**state["block"])


class BucketPublicAccessBlock(Control):
    name = "bucket_public_access_block"
    permissions = (Permission(("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"), "bucket"),)
    mutating_calls = ("PutBucketPublicAccessBlock",)

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        return _block_state(aws.controls.bucket_public_access_block(resource))

    def healthy(self, state: dict[str, Any]) -> bool:
        block = _block(state)
        return block is not None and block.complete

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        return f"turn all four public access block settings on for bucket {resource}"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.put_bucket_public_access_block(resource, PublicAccessBlock())

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        aws.controls.put_bucket_public_access_block(resource, _block(before))
        return f"bucket {resource} public access block as before ({before['block'] or 'none'})"


class AccountPublicAccessBlock(Control):
    name = "account_public_access_block"
    permissions = (Permission(("s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"), "*"),)
    mutating_calls = ("PutAccountPublicAccessBlock",)

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        return _block_state(aws.controls.account_public_access_block(aws.account))

    def healthy(self, state: dict[str, Any]) -> bool:
        block = _block(state)
        return block is not None and block.complete

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        return "turn all four account-level S3 public access block settings on"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.put_account_public_access_block(aws.account, PublicAccessBlock())

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        aws.controls.put_account_public_access_block(aws.account, _block(before))
        return f"account public access block as before ({before['block'] or 'none'})"


class EbsDefaultEncryption(Control):
    name = "ebs_default_encryption"
    permissions = (Permission(("ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault"), "*"),)
    undo_permissions = (Permission(("ec2:DisableEbsEncryptionByDefault",), "*"),)
    mutating_calls = ("EnableEbsEncryptionByDefault",)

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        return {"enabled": aws.controls.ebs_default_encryption()}

    def healthy(self, state: dict[str, Any]) -> bool:
        return bool(state["enabled"])

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        return "re-enable EBS encryption by default in this region"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.set_ebs_default_encryption(True)

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        aws.controls.set_ebs_default_encryption(False)
        return "EBS encryption by default disabled again"


class KmsKeyDeletion(Control):
    """A key scheduled for deletion comes back Disabled when the deletion is cancelled: it is enabled again,
    as it was before the deletion was scheduled (the usual attack on an enabled key)."""

    name = "kms_key_deletion"
    permissions = (Permission(("kms:DescribeKey", "kms:CancelKeyDeletion", "kms:EnableKey"), "kms_key"),)
    mutating_calls = ("CancelKeyDeletion", "EnableKey")

    def read(self, aws: AccountPorts, resource: str) -> dict[str, Any] | None:
        state = aws.controls.key_state(resource)
        return None if state is None else {"state": state.state, "deletion_date": state.deletion_date}

    def healthy(self, state: dict[str, Any]) -> bool:
        return bool(state["state"] != "PendingDeletion")

    def intent(self, resource: str, state: dict[str, Any]) -> str:
        return f"cancel the deletion of KMS key {resource} (due {state['deletion_date'] or '?'}) and enable it"

    def fix(self, aws: AccountPorts, resource: str, state: dict[str, Any]) -> None:
        aws.controls.cancel_key_deletion(resource)
        aws.controls.enable_key(resource)

    def restore(self, aws: AccountPorts, resource: str, before: dict[str, Any]) -> str:
        raise Refused("Riposte never schedules a key deletion (it destroys data); schedule it yourself if intended")


CONTROLS: dict[str, Control] = {
    control.name: control
    for control in (
        TrailLogging(),
        GuardDutyDetector(),
        AdminPortIngress(),
        BucketPublicAccessBlock(),
        AccountPublicAccessBlock(),
        EbsDefaultEncryption(),
        KmsKeyDeletion(),
    )
}


def record_key(target: str) -> str:
    return f"heal#{target}"


# --- the action --------------------------------------------------------------------------------------------


@ACTIONS.register
class Heal(Action):
    name: ClassVar[str] = "heal"
    target_kind: ClassVar[str] = "control"
    permissions: ClassVar[tuple[Permission, ...]] = tuple(p for c in CONTROLS.values() for p in c.permissions)
    mutating_calls: ClassVar[tuple[str, ...]] = tuple(m for c in CONTROLS.values() for m in c.mutating_calls)
    undo_permissions: ClassVar[tuple[Permission, ...]] = tuple(p for c in CONTROLS.values() for p in c.undo_permissions)

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        if not config.heal.controls:
            return ["heal.controls: the heal action is enabled with no control to heal; enable one or remove it"]
        return []

    @classmethod
    def permissions_for(cls, config: Config) -> tuple[Permission, ...]:
        return tuple(p for name in dict.fromkeys(config.heal.controls) for p in CONTROLS[name].permissions)

    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        detection = detection_of(event)
        if detection is None:
            return ()
        control, kind = DETECTIONS[detection]
        if control not in config.heal.controls:
            return ()
        found = []
        for value in event.entities.having(kind, Role.AFFECTED):
            if kind == "account":
                found.append(Target(control, value, event.region, ""))
            else:
                found.append(Target(control, event.account, _arn_region(value) or event.region, value))
        return tuple(str(t) for t in found)

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        try:
            where = Target.parse(target)
        except ValueError as error:
            return self._outcome(target, Status.FAILED, str(error))
        if where.control not in ctx.config.heal.controls:
            return self._outcome(target, Status.REFUSED, f"{where.control} is not in heal.controls")
        # A break-glass principal switching a control off is a person's deliberate act: never reverted.
        actors = ctx.event.entities.having("principal", Role.ACTOR)
        if pattern := matching(actors, ctx.config.credentials.break_glass):
            why = f"the change was made by a break-glass principal ({pattern}, credentials.break_glass): not reverted"
            return self._outcome(target, Status.REFUSED, why)
        control = CONTROLS[where.control]
        aws = reach(self.name, target, ctx, f"heal {where.control}", account=where.account, region=where.region)
        if isinstance(aws, Outcome):
            return aws
        try:
            return self._heal(control, where, aws, ctx)
        except (Refused, ValueError) as error:
            return self._outcome(target, Status.REFUSED, str(error))

    def _heal(self, control: Control, where: Target, aws: AccountPorts, ctx: ActionContext) -> Outcome:
        target = str(where)
        state = control.read(aws, where.resource)
        if state is None:
            return self._outcome(target, Status.FAILED, f"{where.resource or where.control}: not found")
        if control.healthy(state):
            return self._outcome(target, Status.DONE, "already as it should be: nothing to heal")
        control.check(state, ctx.config)
        intent = control.intent(where.resource, state)
        if ctx.dry_run_for(self.name):
            return self._outcome(target, Status.DRY_RUN, f"would {intent}{mode_note(ctx, self.name)}")
        records = ctx.ports.records
        if records is None:
            return self._outcome(target, Status.FAILED, "no state store to record the state it changes: not healed")
        records.remember(
            record_key(target),
            {"event_id": ctx.event.id, "at": ctx.now.isoformat(), "before": state},
        )
        control.fix(aws, where.resource, state)
        return self._outcome(target, Status.DONE, f"{intent}: done (before state recorded)")

    def undo(self, target: str, ctx: ActionContext) -> Outcome:
        """Put the recorded before state back, only if the control is still as the heal left it."""
        records = ctx.ports.records
        record = records.recall(record_key(target)) if records is not None else None
        if records is None or record is None:
            return self._outcome(target, Status.FAILED, f"Riposte recorded no heal of {target}: nothing to undo")
        where = Target.parse(target)
        control = CONTROLS[where.control]
        try:
            aws = ctx.aws(where.account, where.region)
        except (NoAccountAccessError, MemberAccessError) as error:
            return self._outcome(target, Status.FAILED, f"cannot undo {target}: {error}")
        state = control.read(aws, where.resource)
        if state is None or not control.healthy(state):
            return self._outcome(target, Status.REFUSED, "changed since the heal: left alone")
        if ctx.dry_run_for(self.name):
            return self._outcome(target, Status.DRY_RUN, f"would restore {record['before']}{mode_note(ctx, self.name)}")
        try:
            done = control.restore(aws, where.resource, record["before"])
        except Refused as error:
            return self._outcome(target, Status.REFUSED, str(error))
        records.forget(record_key(target))
        return self._outcome(target, Status.DONE, done)

    def _outcome(self, target: str, status: Status, detail: str) -> Outcome:
        return Outcome(self.name, target, status, detail)
