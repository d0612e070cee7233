"""The root user: any use of it, its access keys, and its console sign-ins (CIS 1.7 and 4.3: root is for the few
tasks only root can do, with MFA, announced)."""

from __future__ import annotations

from riposte.sources.cloudtrail.detections.base import (
    CRITICAL,
    HIGH,
    IAM,
    Context,
    Hit,
    Outcome,
    Response,
    any_call,
    calls,
    compromised,
    detection,
    sign_in,
)
from riposte.sources.cloudtrail.record import Record, dig, text


def _root_creates_own_key(r: Record) -> bool:
    return r.event_source == IAM and r.event_name == "CreateAccessKey" and not r.param("userName")


@detection(
    id="root_account_usage",
    title="Root user used",
    severity=HIGH,
    response=Response.PAGE,
    listens=(any_call({"userIdentity": {"type": ["Root"], "invokedBy": [{"exists": False}]}}),),
    outcome=Outcome.ANY,
    rationale=(
        "Root cannot be restricted by IAM or (in the management account) by SCPs; day-to-day use is a CIS failure "
        "and unexpected use usually means its password or an access key leaked. Critical from an address outside "
        "the corporate networks."
    ),
    references=(
        "CIS AWS Foundations v1.2 1.1 & 3.3 / v1.4 1.7 & 4.3 (Security Hub CloudWatch.1)",
        "MITRE ATT&CK T1078.004",
        "Sigma: AWS Root Credentials",
    ),
    playbook=(
        "Confirm with the root credential owner whether this was them",
        "If not: reset the root password, re-register its MFA, delete any root access keys",
        "Review everything root did in the session (same accessKeyId)",
    ),
    remediation="Reset the root password and MFA; delete root access keys (only root can).",
    benign="Announced break-glass tasks that only root can do, from the office, with MFA.",
)
def root_account_usage(r: Record, ctx: Context) -> Hit | None:
    if r.user_identity.type != "Root" or r.user_identity.invoked_by:
        return None
    if (r.event_type or "").lower() in ("awsserviceevent", "awsconsolesignin") or r.event_name == "ConsoleLogin":
        return None  # sign-ins are root_console_login; service events have no human behind them
    if _root_creates_own_key(r):
        return None  # root_access_key_created says it, at critical
    where = "outside the corporate networks" if not ctx.corporate(r.source_ip_address) else "from inside"
    return Hit(
        f"root called {r.event_name} {where}",
        severity=HIGH if ctx.corporate(r.source_ip_address) else CRITICAL,
    )


@detection(
    id="root_access_key_created",
    title="Access key created for the root user",
    severity=CRITICAL,
    response=Response.PAGE,
    listens=(calls(IAM, "CreateAccessKey"),),
    rationale=(
        "A root access key is long-lived, unrestrictable and not covered by MFA: it is the most valuable persistence "
        "an attacker with a root session can create (CIS 1.4: no root access keys)."
    ),
    references=(
        "CIS AWS Foundations v1.4 1.4 (no root access keys)",
        "MITRE ATT&CK T1098.001",
        "Panther: AWS.IAM.RootAccessKeyCreated",
    ),
    playbook=(
        "Delete the key (only root can) and reset the root password and MFA",
        "Review everything root did around its creation",
    ),
    remediation="Delete the new root access key (iam:DeleteAccessKey as root).",
    benign="None: AWS recommends no root access keys at all.",
)
def root_access_key_created(r: Record, ctx: Context) -> Hit | None:
    if r.user_identity.type != "Root" or r.param("userName"):
        return None
    key = text(dig(r.response, "accessKey", "accessKeyId"))
    return Hit(f"root created access key {key or '(id not logged)'}", parties=compromised("access_key", key))


@detection(
    id="root_console_login",
    title="Root user signed in to the console",
    severity=HIGH,
    response=Response.PAGE,
    listens=(sign_in(),),
    rationale="A root console session can do anything, including closing the account; critical without MFA.",
    references=(
        "CIS AWS Foundations v1.2 3.3 / v1.4 4.3 (Security Hub CloudWatch.1)",
        "MITRE ATT&CK T1078.004",
        "Panther: AWS.Console.RootLogin",
    ),
    playbook=(
        "Confirm with the root credential owner whether this was them",
        "If not: reset the root password and MFA and review the session's calls",
    ),
    remediation="Reset the root password and MFA if the sign-in was not announced.",
    benign="Announced break-glass sign-ins with MFA (still reported, at high).",
)
def root_console_login(r: Record, ctx: Context) -> Hit | None:
    if r.user_identity.type != "Root":
        return None
    mfa = text(r.extra.get("MFAUsed")).lower() == "yes"
    return Hit(
        f"root signed in {'with' if mfa else 'WITHOUT'} MFA",
        severity=HIGH if mfa else CRITICAL,
        facts=(("MFA used", "yes" if mfa else "no"),),
    )
