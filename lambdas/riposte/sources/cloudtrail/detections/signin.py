"""Console sign-ins of IAM users: without MFA, and bursts of failures (guessing and spraying). NACLs do not filter
traffic to the AWS sign-in endpoint, so the remedies are credentials and sign-in policies, never a block."""

from __future__ import annotations

from riposte.sources.cloudtrail.detections.base import (
    HIGH,
    MEDIUM,
    Burst,
    Context,
    Hit,
    Outcome,
    detection,
    sign_in,
)
from riposte.sources.cloudtrail.record import Record, text


@detection(
    id="console_login_without_mfa",
    title="IAM user signed in to the console without MFA",
    severity=MEDIUM,
    listens=(sign_in(),),
    rationale=(
        "A password alone is phishable and reusable; CIS wants MFA on every console user. Federated sign-ins "
        "(SAML, Identity Center) always log MFAUsed=No because MFA happens at the identity provider, and are left "
        "out."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.2 / v1.4 4.2 (Security Hub CloudWatch.3)",
        "MITRE ATT&CK T1078.004",
        "Stratus Red Team aws.initial-access.console-login-without-mfa",
        "Sigma: AWS Successful Console Login Without MFA",
    ),
    playbook=(
        "Ask the user whether it was them; enforce MFA (an IAM policy denying everything without MFA)",
        "If not them: reset the password, revoke sessions, review the session's calls",
    ),
    remediation="Require MFA for the user; reset the password if the sign-in was not theirs.",
    benign="Sign-ins with MFA and federated sign-ins never fire.",
)
def console_login_without_mfa(r: Record, ctx: Context) -> Hit | None:
    if r.user_identity.type != "IAMUser" or text(r.extra.get("MFAUsed")).lower() == "yes":
        return None
    return Hit(f"{r.user_identity.user_name or r.actor} signed in without MFA", facts=(("MFA used", "no"),))


def _source_address(r: Record) -> str | None:
    return r.source_ip_address or None


@detection(
    id="console_login_failure_burst",
    title="Burst of failed console sign-ins",
    severity=MEDIUM,
    listens=(sign_in(),),
    outcome=Outcome.ANY,
    burst=Burst(
        _source_address,
        window_seconds=300,
        threshold=5,
        counted="failed console sign-ins",
        per="source address",
    ),
    rationale=(
        "Five or more failed sign-ins from one address within five minutes is password guessing or spraying; high "
        "when the target is the root user. A later success from the same address does not cancel it."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.6 / v1.4 4.6 (Security Hub CloudWatch.6)",
        "MITRE ATT&CK T1110",
        "MITRE ATT&CK T1110.003",
        "Sigma: AWS ConsoleLogin Failed Authentication",
        "Panther: AWS.Console.LoginFailed / AWS.Console.RootLoginFailed",
    ),
    playbook=(
        "Check whether any sign-in from the address succeeded; if so, treat that user as compromised",
        "Make sure the targeted users have MFA; consider a sign-in IP condition for IAM users",
    ),
    remediation="Enforce MFA on the targeted users; NACLs cannot block the AWS sign-in endpoint.",
    benign="A few typos before a successful sign-in from the office stay below the threshold.",
)
def console_login_failure_burst(r: Record, ctx: Context) -> Hit | None:
    if r.console_login != "Failure":
        return None
    identity = r.user_identity
    target = "root" if identity.type == "Root" else (identity.user_name or "an unknown user")
    return Hit(
        f"failed sign-in as {target} from {r.source_ip_address}",
        severity=HIGH if identity.type == "Root" else MEDIUM,
        facts=(("Error", text(r.error_message) or "Failed authentication"),),
    )
