"""disable_access_key: stop a credential an attacker holds, reversibly.

Targets, by role: every long-term access key (``AKIA...``) the event says is COMPROMISED is set Inactive (never
deleted: a person decides that, after looking). Temporary credentials (``ASIA...``: an instance role's, stolen
through IMDS or SSRF) cannot be switched off; when one is COMPROMISED, the COMPROMISED principal that issued them
(a role, or a user's session) gets an inline policy denying every action to sessions issued before now
(``aws:TokenIssueTime``), which is how AWS revokes role sessions. New sessions, such as the instance's next
credentials from IMDS, keep working.

Never on Riposte's own roles (the responder's, the member role) or on a break-glass principal
(``credentials.break_glass``). Undo (``riposte enable-key KEY``, or with the principal as target): the key active
again, the inline policy removed (or the one it replaced put back); only what Riposte itself changed.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, ClassVar

from riposte.actions import ACTIONS
from riposte.actions.accounts import (
    AccountPorts,
    MemberAccessError,
    NoAccountAccessError,
    Principal,
    RecordsPort,
    identity,
)
from riposte.actions.base import Action, ActionContext, Permission
from riposte.actions.support import matching, mode_note, reach
from riposte.core.config import Config
from riposte.core.model import Outcome, Role, SecurityEvent, Status

LONG_TERM_KEY = re.compile(r"^AKIA[0-9A-Z]{12,124}$")
TEMPORARY_KEY_PREFIX = "ASIA"
REVOKE_POLICY = "riposte-revoke-sessions"
REVOKE_SID = "RiposteRevokeSessionsIssuedBefore"


def record_key(target: str) -> str:
    return f"disable_access_key#{target}"


def revoke_document(cutoff: datetime) -> str:
    issued_before = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
    statement = {
        "Sid": REVOKE_SID,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def same_policy(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return bool(json.loads(a) == json.loads(b))


@ACTIONS.register
class DisableAccessKey(Action):
    name: ClassVar[str] = "disable_access_key"
    target_kind: ClassVar[str] = "credential"
    key_permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(
            ("iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:GetUser"), "iam_user"
        ),
    )
    session_permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(("iam:GetUser", "iam:GetUserPolicy", "iam:PutUserPolicy"), "iam_user"),
        Permission(("iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy"), "iam_role"),
    )
    permissions: ClassVar[tuple[Permission, ...]] = key_permissions + session_permissions
    mutating_calls: ClassVar[tuple[str, ...]] = ("UpdateAccessKey", "PutRolePolicy", "PutUserPolicy")
    # Undo also removes the deny policy: a person's credentials (or an undo role) need these.
    undo_permissions: ClassVar[tuple[Permission, ...]] = (
        Permission(("iam:DeleteUserPolicy",), "iam_user"),
        Permission(("iam:DeleteRolePolicy",), "iam_role"),
    )

    @classmethod
    def permissions_for(cls, config: Config) -> tuple[Permission, ...]:
        return cls.permissions if config.credentials.revoke_sessions else cls.key_permissions

    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        keys = event.entities.having("access_key", Role.COMPROMISED)
        long_term = tuple(k for k in keys if LONG_TERM_KEY.match(k))
        if not config.credentials.revoke_sessions or not any(k.startswith(TEMPORARY_KEY_PREFIX) for k in keys):
            return long_term
        # Stolen session credentials: revoke the sessions of whoever issued them.
        return long_term + event.entities.having("principal", Role.COMPROMISED)

    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        if pattern := matching([target], ctx.config.credentials.break_glass):
            return self._outcome(target, Status.REFUSED, f"break-glass principal ({pattern})")
        is_key = bool(LONG_TERM_KEY.match(target))
        if not is_key and not ctx.config.credentials.revoke_sessions:
            return self._outcome(target, Status.REFUSED, "credentials.revoke_sessions is false")
        intent = f"set access key {target} Inactive" if is_key else f"revoke the sessions of {target}"
        aws = reach(self.name, target, ctx, intent)
        if isinstance(aws, Outcome):
            return aws
        if is_key:
            return self._disable_key(target, aws, ctx)
        return self._revoke_sessions(target, aws, ctx)

    def _protected(self, principal: Principal, aws: AccountPorts, config: Config) -> str | None:
        """Why ``principal`` must never be touched, or None."""
        ours = {identity(arn) for arn in aws.own_principals} | {("role", config.organization.member_role_name)}
        if config.organization.responder_role_arn:
            ours.add(identity(config.organization.responder_role_arn))
        if identity(principal.arn) in ours or (principal.kind, principal.name) in ours:
            return f"Riposte's own {principal.kind} {principal.name}"
        if pattern := matching([principal.name, principal.arn], config.credentials.break_glass):
            return f"break-glass principal {principal.arn} ({pattern})"
        return None

    # --- long-term keys ------------------------------------------------------------------------------------

    def _disable_key(self, target: str, aws: AccountPorts, ctx: ActionContext) -> Outcome:
        key = aws.iam.access_key(target)
        if key is None:
            return self._outcome(target, Status.FAILED, f"no user of account {aws.account} owns access key {target}")
        owner = Principal("user", key.user, key.user_arn)
        if why := self._protected(owner, aws, ctx.config):
            return self._outcome(target, Status.REFUSED, why)
        if key.status == "Inactive":
            return self._outcome(target, Status.DONE, f"already inactive (user {key.user})")
        if ctx.dry_run_for(self.name):
            text = f"would set {target} of user {key.user} Inactive (now {key.status})"
            return self._outcome(target, Status.DRY_RUN, text + mode_note(ctx, self.name))
        records = ctx.ports.records
        if records is None:
            return self._outcome(target, Status.FAILED, "no state store to record the change: refusing to act")
        records.remember(
            record_key(target),
            {
                "account": aws.account,
                "region": aws.region,
                "event_id": ctx.event.id,
                "at": ctx.now.isoformat(),
                "user": key.user,
                "status": key.status,
            },
        )
        aws.iam.set_access_key_status(key.user, target, "Inactive")
        return self._outcome(
            target, Status.DONE, f"set Inactive (user {key.user}; not deleted); undo: riposte enable-key {target}"
        )

    # --- sessions of a role or user ------------------------------------------------------------------------

    def _revoke_sessions(self, target: str, aws: AccountPorts, ctx: ActionContext) -> Outcome:
        principal = aws.iam.principal(target)
        if principal is None:
            return self._outcome(target, Status.FAILED, f"no role or user {target} in account {aws.account}")
        if why := self._protected(principal, aws, ctx.config):
            return self._outcome(target, Status.REFUSED, why)
        current = aws.iam.inline_policy(principal, REVOKE_POLICY)
        records = ctx.ports.records
        record = records.recall(record_key(target)) if records is not None else None
        if record is not None and record["event_id"] == ctx.event.id and same_policy(current, record["document"]):
            # A redelivery: moving the cutoff would also cut sessions issued since, such as the instance's
            # fresh credentials.
            return self._outcome(target, Status.DONE, f"sessions issued before {record['cutoff']} already denied")
        document = revoke_document(ctx.now)
        cutoff = json.loads(document)["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        if ctx.dry_run_for(self.name):
            text = f"would deny {principal.kind} {principal.arn} every action for sessions issued before {cutoff}"
            return self._outcome(target, Status.DRY_RUN, text + mode_note(ctx, self.name))
        if records is None:
            return self._outcome(target, Status.FAILED, "no state store to record the change: refusing to act")
        # What undo puts back is what was there before Riposte's first deny, however many events followed.
        previous = record["previous"] if record is not None else current
        records.remember(
            record_key(target),
            {
                "account": aws.account,
                "region": aws.region,
                "event_id": ctx.event.id,
                "at": ctx.now.isoformat(),
                "kind": principal.kind,
                "name": principal.name,
                "arn": principal.arn,
                "cutoff": cutoff,
                "document": document,
                "previous": previous,
            },
        )
        aws.iam.put_inline_policy(principal, REVOKE_POLICY, document)
        return self._outcome(
            target,
            Status.DONE,
            f"denied sessions of {principal.kind} {principal.arn} issued before {cutoff} "
            f"(inline policy {REVOKE_POLICY}); new sessions work",
        )

    # --- undo ----------------------------------------------------------------------------------------------

    def undo(self, target: str, ctx: ActionContext) -> Outcome:
        records = ctx.ports.records
        record = records.recall(record_key(target)) if records is not None else None
        if records is None or record is None:
            return self._outcome(target, Status.FAILED, f"Riposte recorded no change to {target}: nothing to undo")
        try:
            aws = ctx.aws(record["account"], record["region"])
        except (NoAccountAccessError, MemberAccessError) as error:
            return self._outcome(target, Status.FAILED, f"cannot undo {target}: {error}")
        if "user" in record:
            return self._enable_key(target, aws, records, ctx)
        return self._restore_policy(target, record, aws, records, ctx)

    def _enable_key(self, target: str, aws: AccountPorts, records: RecordsPort, ctx: ActionContext) -> Outcome:
        key = aws.iam.access_key(target)
        if key is None:
            return self._outcome(target, Status.FAILED, f"access key {target} no longer exists")
        if ctx.dry_run_for(self.name):
            text = f"would set {target} of user {key.user} Active (now {key.status})"
            return self._outcome(target, Status.DRY_RUN, text + mode_note(ctx, self.name))
        if key.status != "Active":
            aws.iam.set_access_key_status(key.user, target, "Active")
        records.forget(record_key(target))
        return self._outcome(target, Status.DONE, f"active again (user {key.user})")

    def _restore_policy(
        self, target: str, record: dict[str, Any], aws: AccountPorts, records: RecordsPort, ctx: ActionContext
    ) -> Outcome:
        principal = Principal(record["kind"], record["name"], record["arn"])
        current = aws.iam.inline_policy(principal, REVOKE_POLICY)
        if current is not None and not same_policy(current, record["document"]):
            return self._outcome(
                target, Status.REFUSED, f"inline policy {REVOKE_POLICY} was changed since Riposte wrote it: left alone"
            )
        previous = record["previous"]
        action = "put back the policy it replaced" if previous else f"remove inline policy {REVOKE_POLICY}"
        if ctx.dry_run_for(self.name):
            return self._outcome(target, Status.DRY_RUN, f"would {action}{mode_note(ctx, self.name)}")
        if previous:
            aws.iam.put_inline_policy(principal, REVOKE_POLICY, previous)
        elif current is not None:
            aws.iam.delete_inline_policy(principal, REVOKE_POLICY)
        records.forget(record_key(target))
        done = "put back the policy it replaced" if previous else f"removed inline policy {REVOKE_POLICY}"
        return self._outcome(target, Status.DONE, f"{done}: older sessions allowed again")

    def _outcome(self, target: str, status: Status, detail: str) -> Outcome:
        return Outcome(self.name, target, status, detail)
