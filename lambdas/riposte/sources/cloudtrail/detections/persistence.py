"""Privilege escalation and persistence through identities: admin policies, other users' passwords and keys, trust
policies opened to other accounts, MFA and permission boundaries removed, new console users, identity providers,
Roles Anywhere trust anchors, federation tokens and Lambda layers from unknown accounts."""

from __future__ import annotations

import re

from riposte.core.model import Party, Severity
from riposte.sources.cloudtrail import policy
from riposte.sources.cloudtrail.detections.base import (
    CRITICAL,
    EC2,
    HIGH,
    IAM,
    LAMBDA,
    MEDIUM,
    ROLESANYWHERE,
    STS,
    Burst,
    Context,
    Hit,
    Response,
    affected,
    calls,
    compromised,
    detection,
    facts,
    foreign,
)
from riposte.sources.cloudtrail.record import Record, as_list, dig, flag, function_name, text

# AWS managed policies that make their holder an administrator (or able to become one).
ADMIN_POLICIES: dict[str, Severity] = {"AdministratorAccess": HIGH, "IAMFullAccess": HIGH, "PowerUserAccess": MEDIUM}
_AWS_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?([^/]+)$")


def target(r: Record) -> tuple[str, str]:
    """The IAM identity a call acts on: ("user"|"role"|"group", name), or ("", "") when none is named."""
    for kind in ("user", "role", "group"):
        if name := text(r.param(f"{kind}Name")):
            return kind, name
    return "", ""


def _target_parties(r: Record) -> tuple[Party, ...]:
    kind, name = target(r)
    return affected("principal", f"{kind}/{name}") if name else ()


@detection(
    id="iam_admin_policy_attached",
    title="Administrator policy attached",
    severity=HIGH,
    listens=(calls(IAM, "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy"),),
    rationale=(
        "Attaching AdministratorAccess or IAMFullAccess (or PowerUserAccess, medium) is the shortest path from a "
        "foothold to full control, and a common first step of attackers with iam:Attach* permissions."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.4 / v1.4 4.4 (Security Hub CloudWatch.4)",
        "MITRE ATT&CK T1098.003",
        "Stratus Red Team aws.persistence.iam-create-admin-user",
        "Sigma: AWS IAM Critical Managed Policy Attachment",
        "Panther: AWS.IAM.AttachAdminUserPolicy / AttachAdminRolePolicy",
    ),
    playbook=(
        "Confirm the change against a ticket; detach the policy if there is none",
        "Contain the actor and the identity that received the policy",
        "Review what the identity did since",
    ),
    remediation="iam:Detach{User,Role,Group}Policy(<target>, PolicyArn)",
    benign="Break-glass roles provisioned through IaC (invoked by CloudFormation: never fires).",
)
def iam_admin_policy_attached(r: Record, ctx: Context) -> Hit | None:
    match = _AWS_MANAGED.match(text(r.param("policyArn")))
    managed = match.group(1) if match else ""
    severity = ADMIN_POLICIES.get(managed)
    if severity is None:
        return None
    kind, name = target(r)
    return Hit(
        f"{managed} attached to {kind} {name}",
        severity=severity,
        parties=_target_parties(r),
        facts=facts(("Policy", text(r.param("policyArn")))),
    )


# Group names that say their members administer the account ("Administrators", "admins", "PlatformAdmin").
_ADMIN_GROUP = re.compile(r"admin", re.IGNORECASE)


@detection(
    id="iam_user_added_to_admin_group",
    title="User added to an administrators group",
    severity=HIGH,
    listens=(calls(IAM, "AddUserToGroup"),),
    rationale=(
        "Adding a user to a group named like Administrators gives it the group's policies at once, without any "
        "policy attachment to notice: the same escalation as attaching AdministratorAccess to the user."
    ),
    references=("MITRE ATT&CK T1098.003",),
    playbook=(
        "Confirm the change against a ticket; remove the user from the group if there is none",
        "Contain the actor and the user that was added",
        "Review what the user did since",
    ),
    remediation="iam:RemoveUserFromGroup(GroupName, UserName)",
    benign="Onboarding an administrator through IaC (invoked by CloudFormation: never fires); other groups.",
)
def iam_user_added_to_admin_group(r: Record, ctx: Context) -> Hit | None:
    group = text(r.param("groupName"))
    if not _ADMIN_GROUP.search(group):
        return None
    user = text(r.param("userName"))
    return Hit(
        f"user {user} added to group {group}",
        parties=affected("principal", f"user/{user}") if user else (),
        facts=facts(("Group", group), ("User", user)),
    )


@detection(
    id="iam_inline_admin_policy",
    title="Inline or default policy version grants everything",
    severity=HIGH,
    listens=(calls(IAM, "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicyVersion"),),
    rationale=(
        "An inline policy (or a new default version of a managed one) allowing every action on every resource is "
        "administrator access that never shows up as an attached AWS managed policy."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.4 / v1.4 4.4 (Security Hub CloudWatch.4)",
        "MITRE ATT&CK T1098.003",
        "Sigma: AWS IAM Privileged Inline Policy Creation",
        "Sigma: AWS IAM Managed Policy Version Created or Default Version Set",
    ),
    playbook=(
        "Delete the inline policy, or set the previous policy version as default",
        "Contain the actor and the identity that received the policy",
    ),
    remediation="iam:Delete{User,Role,Group}Policy, or iam:SetDefaultPolicyVersion(<the previous version>)",
    benign="Deny-everything quarantine policies and scoped policies never fire.",
)
def iam_inline_admin_policy(r: Record, ctx: Context) -> Hit | None:
    if r.event_name == "CreatePolicyVersion" and flag(r.param("setAsDefault")) is not True:
        return None
    if not policy.grants_admin(r.param_document("policyDocument")):
        return None
    kind, name = target(r)
    where = f"{kind} {name} (policy {text(r.param('policyName'))})" if name else text(r.param("policyArn"))
    return Hit(f"allow-everything policy on {where}", parties=_target_parties(r))


@detection(
    id="iam_admin_policy_created",
    title="Customer managed policy created that grants everything",
    severity=HIGH,
    listens=(calls(IAM, "CreatePolicy", "CreatePolicyVersion"),),
    rationale=(
        "A customer managed policy (or a new, not yet default, version of one) allowing every action on every "
        "resource exists to be attached or made default later; neither of those calls shows the document, so "
        "creating it is the one moment it can be recognised."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.4 / v1.4 4.4 (Security Hub CloudWatch.4)",
        "MITRE ATT&CK T1098.003",
        "Sigma: AWS IAM Managed Policy Version Created or Default Version Set",
        "Rhino Security Labs: AWS IAM privilege escalation (iam:CreatePolicyVersion)",
    ),
    playbook=(
        "Confirm the policy against a ticket; delete it (or the version) if there is none",
        "List the identities it is attached to (iam:ListEntitiesForPolicy) and contain the actor",
    ),
    remediation="iam:DeletePolicy(<policy>) after detaching it, or iam:DeletePolicyVersion(<the new version>)",
    benign="Break-glass policies provisioned through IaC (invoked by CloudFormation: never fires); scoped policies.",
)
def iam_admin_policy_created(r: Record, ctx: Context) -> Hit | None:
    # A new default version takes effect at once: iam_inline_admin_policy reports it.
    if r.event_name == "CreatePolicyVersion" and flag(r.param("setAsDefault")) is True:
        return None
    if not policy.grants_admin(r.param_document("policyDocument")):
        return None
    arn = text(dig(r.response, "policy", "arn")) or text(r.param("policyArn"))
    name = text(r.param("policyName")) or arn.rsplit("/", 1)[-1]
    staged = " (a version not yet default)" if r.event_name == "CreatePolicyVersion" else ""
    return Hit(f"allow-everything policy {name} created{staged}", facts=facts(("Policy", arn or name)))


@detection(
    id="iam_policy_default_version_set",
    title="Managed policy default version changed",
    severity=MEDIUM,
    listens=(calls(IAM, "SetDefaultPolicyVersion"),),
    rationale=(
        "Making an older or staged version of a customer managed policy the default changes what every identity "
        "holding it may do, and the record does not show what that version allows: a known escalation path for "
        "anyone with iam:SetDefaultPolicyVersion."
    ),
    references=(
        "MITRE ATT&CK T1098.003",
        "Sigma: AWS IAM Managed Policy Version Created or Default Version Set",
        "Rhino Security Labs: AWS IAM privilege escalation (iam:SetDefaultPolicyVersion)",
    ),
    playbook=(
        "Read the now-default version (iam:GetPolicyVersion) and compare it with the previous one",
        "Set the previous version back as default if the change is not expected",
    ),
    remediation="iam:SetDefaultPolicyVersion(<policy>, <the previous version>)",
    benign="Rolling a policy back by hand during an incident; IaC updates create a new version instead.",
)
def iam_policy_default_version_set(r: Record, ctx: Context) -> Hit | None:
    arn = text(r.param("policyArn"))
    version = text(r.param("versionId"))
    return Hit(
        f"default version of {arn.rsplit('/', 1)[-1] or 'a policy'} set to {version or '?'}",
        facts=facts(("Policy", arn), ("Version", version)),
    )


def _other_user(r: Record) -> str | None:
    """The user the call is about, when it is not the calling IAM user itself."""
    user = text(r.param("userName"))
    return user if user and user != r.caller_user_name else None


@detection(
    id="iam_login_profile_for_other_user",
    title="Console password set for another user",
    severity=HIGH,
    listens=(calls(IAM, "CreateLoginProfile", "UpdateLoginProfile"),),
    rationale=(
        "Giving a programmatic user a console password (high), or resetting someone else's (medium), hands the "
        "caller an interactive way in as that user."
    ),
    references=(
        "MITRE ATT&CK T1098.001",
        "Stratus Red Team aws.persistence.iam-create-user-login-profile",
        "Stratus Red Team aws.privilege-escalation.iam-update-user-login-profile",
        "Panther: AWS.CloudTrail.LoginProfileCreatedOrModified",
    ),
    playbook=(
        "Ask the user's owner; delete the login profile if it was not planned",
        "Contain the actor; review the user's console sessions",
    ),
    remediation="iam:DeleteLoginProfile(UserName) when the password was not planned.",
    benign="Users changing their own password never fire.",
)
def iam_login_profile_for_other_user(r: Record, ctx: Context) -> Hit | None:
    user = _other_user(r)
    if user is None:
        return None
    created = r.event_name == "CreateLoginProfile"
    return Hit(
        f"console password {'created' if created else 'reset'} for user {user}",
        severity=HIGH if created else MEDIUM,
        parties=affected("principal", f"user/{user}"),
    )


@detection(
    id="iam_access_key_for_other_user",
    title="Access key created for another user",
    severity=MEDIUM,
    listens=(calls(IAM, "CreateAccessKey"),),
    rationale=(
        "A new key for someone else's user is a classic backdoor: it survives the caller losing access. High from "
        "an address outside the corporate networks."
    ),
    references=(
        "MITRE ATT&CK T1098.001",
        "Stratus Red Team aws.persistence.iam-backdoor-user",
        "Sigma: AWS IAM Backdoor Users Keys",
        "Pacu iam__backdoor_users_keys",
    ),
    playbook=(
        "Set the new key Inactive unless the user's owner asked for it",
        "Contain the actor; check the user's other keys",
    ),
    remediation="iam:UpdateAccessKey(UserName, AccessKeyId=<the new key>, Status=Inactive)",
    benign="Users creating their own keys never fire; admins issuing keys from the office report at medium.",
)
def iam_access_key_for_other_user(r: Record, ctx: Context) -> Hit | None:
    user = _other_user(r)
    if user is None:
        return None  # the caller's own key (root's is root_access_key_created)
    key = text(dig(r.response, "accessKey", "accessKeyId"))
    return Hit(
        f"access key {key or '(id not logged)'} created for user {user}",
        severity=MEDIUM if ctx.corporate(r.source_ip_address) else HIGH,
        parties=(*affected("principal", f"user/{user}"), *compromised("access_key", key)),
    )


_ASSUME = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity")
# Conditions that limit a "*" trust to known callers.
_TRUST_LIMITS = policy.RESTRICTING_KEYS | {"sts:externalid"}


@detection(
    id="iam_role_trust_policy_opened",
    title="Role trust policy opened to other accounts",
    severity=HIGH,
    response=Response.PAGE,
    listens=(calls(IAM, "UpdateAssumeRolePolicy", "CreateRole"),),
    rationale=(
        "A role that anyone (critical) or an unknown account (high) may assume is a durable backdoor that needs no "
        "credentials in this account at all."
    ),
    references=(
        "MITRE ATT&CK T1098.003",
        "Stratus Red Team aws.persistence.iam-backdoor-role",
        "Stratus Red Team aws.persistence.iam-create-backdoor-role",
        "Sigma: AWS IAM Role Trust Policy Modified",
        "Panther: AWS.IAM.BackdoorRole",
    ),
    playbook=(
        "Restore the trust policy from IaC (or delete the new role)",
        "Revoke the role's sessions (an inline deny on aws:TokenIssueTime)",
        "Look for AssumeRole calls from the foreign account",
    ),
    remediation="iam:UpdateAssumeRolePolicy(RoleName, <the trust policy from IaC>), then revoke the role's sessions.",
    benign="Trust to AWS services, identity providers or the trusted accounts never fires.",
)
def iam_role_trust_policy_opened(r: Record, ctx: Context) -> Hit | None:
    document = r.param_document("policyDocument") or r.param_document("assumeRolePolicyDocument")
    trusts = [s for s in policy.statements(document) if policy.allows(s) and policy.grants(s, *_ASSUME)]
    anyone = [s for s in trusts if "*" in policy.aws_principals(s)]
    accounts = policy.foreign_accounts({"Statement": trusts}, lambda account: ctx.trusted(account, r))
    if anyone:
        # A condition naming an external id, an organization or an account narrows "anyone" somewhat.
        limited = all(policy.restricted(s, _TRUST_LIMITS) for s in anyone)
        severity, who = (HIGH, "anyone meeting a condition") if limited else (CRITICAL, "anyone")
    elif accounts:
        severity, who = HIGH, f"account(s) {', '.join(accounts)}"
    else:
        return None
    role = text(r.param("roleName"))
    role_arn = text(dig(r.response, "role", "arn"))
    return Hit(
        f"role {role} may now be assumed by {who}",
        severity=severity,
        parties=(*affected("principal", role_arn or f"role/{role}"), *foreign(*accounts)),
    )


_MFA_USER = re.compile(r":mfa/(?:.*/)?([^/]+)$")


@detection(
    id="iam_mfa_device_removed",
    title="MFA device removed from another user",
    severity=MEDIUM,
    listens=(calls(IAM, "DeactivateMFADevice", "DeleteVirtualMFADevice"),),
    rationale=(
        "Removing someone else's MFA (or root's, high) turns a stolen password into a working sign-in; users "
        "replacing their own device do not fire."
    ),
    references=(
        "MITRE ATT&CK T1556.006",
        "Panther: AWS.IAM MFA rules",
    ),
    playbook=(
        "Ask the user (or the root credential owner) whether they are replacing the device",
        "If not: re-register MFA, reset the password, contain the actor",
    ),
    remediation="Re-register an MFA device for the user (iam:EnableMFADevice) and reset its password.",
    benign="A user deactivating its own lost device never fires.",
)
def iam_mfa_device_removed(r: Record, ctx: Context) -> Hit | None:
    serial = text(r.param("serialNumber"))
    if serial.endswith(":mfa/root-account-mfa-device") or r.user_identity.type == "Root":
        return Hit(f"root MFA device {serial} removed", severity=HIGH, facts=facts(("MFA device", serial)))
    match = _MFA_USER.search(serial)
    user = text(r.param("userName")) or (match.group(1) if match else "")
    if user and user == r.caller_user_name:
        return None
    return Hit(
        f"MFA device {serial} of user {user or '(unknown)'} removed",
        parties=affected("principal", f"user/{user}" if user else None),
        facts=facts(("MFA device", serial)),
    )


@detection(
    id="iam_permissions_boundary_removed",
    title="Permissions boundary removed",
    severity=HIGH,
    listens=(calls(IAM, "DeleteUserPermissionsBoundary", "DeleteRolePermissionsBoundary"),),
    rationale=(
        "Boundaries are how delegated administrators are kept below full admin; removing one lifts the ceiling on "
        "everything the identity's policies grant."
    ),
    references=(
        "CIS AWS Foundations v1.4 4.4 (IAM policy changes)",
        "MITRE ATT&CK T1098",
    ),
    playbook=(
        "Put the boundary back (Put{User,Role}PermissionsBoundary) from IaC",
        "Contain the actor; review what the identity did without it",
    ),
    remediation="iam:Put{User,Role}PermissionsBoundary(<target>, <the boundary from IaC>)",
    benign="Applying a boundary (tightening) never fires.",
)
def iam_permissions_boundary_removed(r: Record, ctx: Context) -> Hit | None:
    kind, name = target(r)
    return Hit(f"permissions boundary removed from {kind} {name}", parties=_target_parties(r))


def _new_user(r: Record) -> str | None:
    user = text(r.param("userName"))
    return f"{r.our_account}/{user}" if user else None


@detection(
    id="iam_new_console_user",
    title="New IAM user given a console password",
    severity=MEDIUM,
    listens=(calls(IAM, "CreateUser", "CreateLoginProfile"),),
    burst=Burst(
        _new_user,
        window_seconds=3600,
        threshold=2,
        counted="steps creating a console user (CreateUser, CreateLoginProfile)",
        per="new user",
    ),
    rationale=(
        "A user created and given a console password within the hour is an interactive account made to last; high "
        "when the calls come from outside the corporate networks or from a long-term access key."
    ),
    references=(
        "MITRE ATT&CK T1136.003",
        "Stratus Red Team aws.persistence.iam-create-admin-user",
        "Panther: AWS.IAM.CreateUser",
    ),
    playbook=(
        "Confirm the onboarding against a ticket; otherwise delete the login profile and the user",
        "Contain the actor",
    ),
    remediation="iam:DeleteLoginProfile and iam:DeleteUser when the user was not planned.",
    benign="Service users created with access keys only never fire; onboarding from the office reports at medium.",
)
def iam_new_console_user(r: Record, ctx: Context) -> Hit | None:
    user = text(r.param("userName"))
    if not user:
        return None
    risky = not ctx.corporate(r.source_ip_address) or r.long_term_key
    step = "created" if r.event_name == "CreateUser" else "given a console password"
    return Hit(
        f"user {user} {step}",
        severity=HIGH if risky else MEDIUM,
        parties=affected("principal", text(dig(r.response, "user", "arn")) or f"user/{user}"),
    )


@detection(
    id="iam_identity_provider_changed",
    title="SAML or OIDC identity provider created or changed",
    severity=MEDIUM,
    listens=(
        calls(
            IAM,
            "CreateSAMLProvider",
            "UpdateSAMLProvider",
            "CreateOpenIDConnectProvider",
            "AddClientIDToOpenIDConnectProvider",
            "UpdateOpenIDConnectProviderThumbprint",
        ),
    ),
    rationale=(
        "Whoever controls a trusted identity provider can mint sessions for every role that trusts it, without any "
        "credential in the account (a Golden SAML-style backdoor)."
    ),
    references=(
        "MITRE ATT&CK T1484.002",
        "Sigma: AWS SAML provider rules (related)",
    ),
    playbook=(
        "Confirm the provider and its metadata with the identity team; delete it otherwise",
        "List the roles that trust it and their recent sessions",
    ),
    remediation="iam:DeleteSAMLProvider / iam:DeleteOpenIDConnectProvider when not planned.",
    benign="Providers created by CloudFormation (invoked by the service) never fire.",
)
def iam_identity_provider_changed(r: Record, ctx: Context) -> Hit | None:
    provider = (
        text(r.param("name"))
        or text(r.param("url"))
        or text(r.param("sAMLProviderArn"))
        or text(r.param("openIDConnectProviderArn"))
    )
    return Hit(f"{r.event_name}: {provider or '(unnamed provider)'}", facts=facts(("Identity provider", provider)))


@detection(
    id="rolesanywhere_trust_anchor_created",
    title="IAM Roles Anywhere trust anchor created",
    severity=MEDIUM,
    listens=(calls(ROLESANYWHERE, "CreateTrustAnchor"),),
    rationale=(
        "A trust anchor lets holders of certificates from its CA obtain role credentials from anywhere; one built "
        "on an external certificate bundle (high) is a CA the attacker may own."
    ),
    references=(
        "MITRE ATT&CK T1098.001",
        "Stratus Red Team aws.persistence.rolesanywhere-create-trust-anchor",
    ),
    playbook=(
        "Confirm the CA with the PKI owners; disable the anchor otherwise",
        "List the profiles and roles it can reach",
    ),
    remediation="rolesanywhere:DisableTrustAnchor(TrustAnchorId) until confirmed.",
    benign="Anchors on the corporate ACM Private CA report at medium.",
)
def rolesanywhere_trust_anchor_created(r: Record, ctx: Context) -> Hit | None:
    source_type = text(r.param("source", "sourceType"))
    name = text(r.param("name"))
    external = source_type == "CERTIFICATE_BUNDLE"
    return Hit(
        f"trust anchor {name} ({source_type or 'unknown source'})",
        severity=HIGH if external else MEDIUM,
        facts=facts(("Trust anchor", text(dig(r.response, "trustAnchor", "trustAnchorArn")) or name)),
    )


@detection(
    id="sts_federation_token",
    title="Federation token issued to an IAM user",
    severity=MEDIUM,
    listens=(calls(STS, "GetFederationToken"),),
    rationale=(
        "Federation tokens outlive the disabling of the access key that created them (up to 36 hours), a known "
        "persistence trick; high with an allow-everything session policy or from outside the corporate networks."
    ),
    references=(
        "MITRE ATT&CK T1098.001",
        "MITRE ATT&CK T1550.001",
        "Stratus Red Team aws.persistence.sts-federation-token",
    ),
    playbook=(
        "Disabling the key is not enough: deny the IAM user (an inline deny-all) to cut the federated sessions",
        "Review the federated user's calls",
    ),
    remediation="Attach an inline deny-all policy to the IAM user that issued the token.",
    benign="Legacy brokers issuing scoped tokens from the office report at medium.",
)
def sts_federation_token(r: Record, ctx: Context) -> Hit | None:
    if r.user_identity.type not in ("IAMUser", "Root"):
        return None
    admin = policy.grants_admin(r.param_document("policy"))
    outside = not ctx.corporate(r.source_ip_address)
    federated = text(dig(r.response, "federatedUser", "arn"))
    why = f"federation token for {federated or text(r.param('name'))}" + (" allowing everything" if admin else "")
    return Hit(
        why,
        severity=HIGH if admin or outside else MEDIUM,
        parties=compromised("access_key", text(dig(r.response, "credentials", "accessKeyId"))),
        facts=facts(("Federated user", federated)),
    )


def _layer_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[2] == "lambda" else None


@detection(
    id="lambda_layer_foreign_account",
    title="Lambda layer from an unknown account added",
    severity=MEDIUM,
    # The API-version suffix of Lambda event names (CreateFunction20150331) is matched by prefix; "20" keeps
    # CreateFunctionUrlConfig out.
    listens=(calls(LAMBDA, prefixes=("UpdateFunctionConfiguration", "CreateFunction20")),),
    rationale=(
        "A layer (or extension) runs inside the function with its role and sees every invocation's data; one "
        "published by an unknown account is code you do not control."
    ),
    references=(
        "MITRE ATT&CK T1525",
        "MITRE ATT&CK T1648",
        "Stratus Red Team aws.persistence.lambda-layer-extension",
        "Sigma: AWS New Lambda Layer Attached",
    ),
    playbook=(
        "Identify the layer's publisher; remove the layer unless it is a known vendor",
        "Review the function's role and recent invocations",
    ),
    remediation="lambda:UpdateFunctionConfiguration(FunctionName, Layers=<the previous layers>)",
    benign="Layers from our accounts and from the Powertools publisher never fire.",
)
def lambda_layer_foreign_account(r: Record, ctx: Context) -> Hit | None:
    layers = [text(arn) for arn in as_list(r.param("layers"))]
    unknown = [
        arn
        for arn in layers
        if (account := _layer_account(arn))
        and not ctx.trusted(account, r)
        and account not in ctx.trusted_layer_publishers
    ]
    if not unknown:
        return None
    name = function_name(r.param("functionName"))
    owners = sorted({a for arn in unknown if (a := _layer_account(arn))})
    return Hit(
        f"function {name} runs layer(s) {', '.join(unknown)}",
        parties=(*affected("function", name), *foreign(*owners)),
    )


@detection(
    id="ec2_user_data_modified",
    title="Instance user data replaced",
    severity=MEDIUM,
    listens=(calls(EC2, "ModifyInstanceAttribute"),),
    rationale=(
        "User data runs as root when the instance next starts: replacing it on a stopped instance is a way to run "
        "code on it without logging in, and to keep it there. CloudTrail redacts the script. High from an address "
        "outside the corporate networks."
    ),
    references=(
        "MITRE ATT&CK T1059.009",
        "MITRE ATT&CK T1037",
        "Stratus Red Team aws.execution.ec2-user-data",
        "Elastic: EC2 Modify Instance Attribute User Data",
    ),
    playbook=(
        "Read the instance's user data (ec2:DescribeInstanceAttribute userData) and compare it with your IaC",
        "Look for the StopInstances and StartInstances around it, and for the instance's outbound connections since",
        "Contain the actor if the change was not planned",
    ),
    remediation="ec2:ModifyInstanceAttribute(InstanceId, UserData=<the script from IaC>) while the instance is stopped",
    benign="Other attributes (instance type, security groups, source/dest check) never fire.",
)
def ec2_user_data_modified(r: Record, ctx: Context) -> Hit | None:
    # Two request shapes: {"userData": ...} and {"attribute": "userData", "value": ...}.
    named = text(r.param("attribute")).lower() == "userdata"
    if r.param("userData") is None and not named:
        return None
    instance = text(r.param("instanceId"))
    return Hit(
        f"user data of instance {instance or '(not logged)'} replaced",
        severity=MEDIUM if ctx.corporate(r.source_ip_address) else HIGH,
        parties=affected("instance", instance),
        facts=facts(("Instance", instance)),
    )
