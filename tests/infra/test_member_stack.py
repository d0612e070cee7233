"""The member stack: a role that trusts only the central responder's role with the external ID, holds only what
the enabled actions declare (in its own account), cannot change itself, passes cdk-nag and cfn-lint, and needs no
CDK bootstrap (a StackSet deploys its template as is). And the responder side: it may assume exactly the member
roles of the listed accounts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import app as cdk_app
from riposte.actions import ACTIONS
from riposte.core import config as cfg
from riposte.engine import setup
from stacks.constructs.member_role import SELF_CHANGES

ROOT = Path(__file__).resolve().parents[2]
RESPONDER = "arn:aws:iam::123456789012:role/riposte-responder"
EXTERNAL_ID = "riposte-ext-0001"
MEMBERS = ["111111111111", "222222222222"]
ORGANIZATION = {"member_accounts": MEMBERS, "external_id": EXTERNAL_ID, "responder_role_arn": RESPONDER}
ACCOUNT_ACTIONS = ["isolate_instance", "disable_access_key", "heal"]
# Account- and region-wide settings: no resource-level permission exists for them.
STAR_WRITES = {"ec2:EnableEbsEncryptionByDefault", "s3:PutAccountPublicAccessBlock"}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]


def synth_member(config: cfg.Config, outdir: Path) -> dict[str, Any]:
    app = cdk.App(outdir=str(outdir))
    _, stack = cdk_app.build_member(app, config)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    config = setup.parse({"mode": "enforce", "actions": ACCOUNT_ACTIONS, "organization": ORGANIZATION})
    outdir = tmp_path_factory.mktemp("member")
    return synth_member(config, outdir), outdir


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def member_role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The remediation role (the stack's other roles are EventBridge's, for forwarding events)."""
    ((logical_id, role),) = [
        (k, r)
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and "RoleName" in r["Properties"]
    ]
    return logical_id, role


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role_id, _ = member_role(template)
    return [
        s
        for p in resources(template, "AWS::IAM::Policy")
        if {"Ref": role_id} in p["Properties"].get("Roles", [])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_role_trusts_only_the_responder_role_and_only_with_the_external_id(member: Any) -> None:
    _, role = member_role(member[0])
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": RESPONDER}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
    assert role["Properties"]["RoleName"] == "riposte-member"
    assert role["Properties"]["MaxSessionDuration"] == 3600
    assert "ManagedPolicyArns" not in role["Properties"]


def test_it_holds_exactly_what_the_enabled_actions_declare_in_its_own_account(member: Any) -> None:
    config = setup.parse({"actions": ACCOUNT_ACTIONS, "organization": ORGANIZATION})
    declared = {a for name in ACCOUNT_ACTIONS for p in ACTIONS.get(name).permissions_for(config) for a in p.actions}
    allowed = [s for s in statements(member[0]) if s["Effect"] == "Allow"]
    granted = {a for s in allowed for a in listed(s["Action"])}
    assert granted == declared
    assert "sts:AssumeRole" not in granted  # a member role reaches no further
    for statement in allowed:
        assert not any(a.endswith("*") for a in listed(statement["Action"]))
        for resource in listed(statement["Resource"]):
            text = json.dumps(resource)
            if resource == "*":
                assert all(":Describe" in a or ":Get" in a or a in STAR_WRITES for a in listed(statement["Action"]))
            elif ":s3:::" not in text and ":snapshot/" not in text:
                assert "AWS::AccountId" in text, text  # its own account only


def test_it_can_never_change_its_own_trust_or_permissions(member: Any) -> None:
    (deny,) = [s for s in statements(member[0]) if s["Effect"] == "Deny"]
    assert set(deny["Action"]) == set(SELF_CHANGES)
    assert {"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy"} <= set(deny["Action"])
    assert deny["Resource"] == {"Fn::GetAtt": [next(iter(_role_ids(member[0]))), "Arn"]}


def _role_ids(template: dict[str, Any]) -> list[str]:
    return [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]


def test_only_the_enabled_heals_are_granted(tmp_path: Path) -> None:
    config = setup.parse({"actions": ["heal"], "heal": {"controls": ["trail_logging"]}, "organization": ORGANIZATION})
    granted = {
        a for s in statements(synth_member(config, tmp_path)) if s["Effect"] == "Allow" for a in listed(s["Action"])
    }
    assert granted == {"cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"}


def test_cdk_nag_passes_with_a_reason_for_every_acknowledgment(member: Any) -> None:
    report = json.loads((member[1] / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    for suppressed in plugin["suppressedViolations"]:
        assert len(suppressed["reason"]) > 40, suppressed["ruleName"]
    names = {s["ruleName"] for s in plugin["suppressedViolations"]}
    assert names <= {"AwsSolutions-IAM5[Resource::*]"} | {
        n for n in names if n.startswith("AwsSolutions-IAM5[Resource::arn:")
    }


def test_no_cdk_bootstrap_is_needed_so_stacksets_can_deploy_it(member: Any) -> None:
    template = member[0]
    assert "BootstrapVersion" not in template.get("Parameters", {})
    assert "CheckBootstrapVersion" not in template.get("Rules", {})
    assert "MemberRoleArn" in template["Outputs"]


def test_cfn_lint_finds_nothing(member: Any) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            str(member[1] / "RiposteMember.template.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("organization", "field"),
    [
        ({"external_id": EXTERNAL_ID}, "organization.responder_role_arn"),
        ({"responder_role_arn": RESPONDER}, "organization.external_id"),
    ],
)
def test_a_member_stack_without_whom_to_trust_fails_synth_naming_the_field(
    organization: dict[str, str], field: str, tmp_path: Path
) -> None:
    config = setup.parse({"actions": ["isolate_instance"], "organization": organization})
    with pytest.raises(cfg.ConfigError, match=field.replace(".", r"\.")):
        synth_member(config, tmp_path)


def test_the_responder_may_assume_exactly_the_member_roles_of_the_listed_accounts(tmp_path: Path) -> None:
    config = setup.parse({"mode": "enforce", "actions": ACCOUNT_ACTIONS, "organization": ORGANIZATION})
    app = cdk.App(outdir=str(tmp_path))
    _, stack = cdk_app.build(app, config)
    template = app.synth().get_stack_by_name(stack.stack_name).template  # cdk-nag passes, or this raises
    central = [
        s for p in resources(template, "AWS::IAM::Policy") for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (assume,) = [s for s in central if "sts:AssumeRole" in listed(s["Action"])]
    arns = [json.dumps(r) for r in listed(assume["Resource"])]
    assert len(arns) == len(MEMBERS)
    for account, arn in zip(MEMBERS, arns, strict=True):
        assert f":iam::{account}:role/riposte-member" in arn
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"][0]["violations"] == []


def test_the_member_app_entry_is_chosen_by_context(tmp_path: Path) -> None:
    config = tmp_path / "riposte.toml"
    config.write_text(
        'actions = ["isolate_instance"]\n[organization]\n'
        f'external_id = "{EXTERNAL_ID}"\nresponder_role_arn = "{RESPONDER}"\n'
    )
    context = {"riposte:member": "true", "riposte:config": str(config)}
    code = (
        "import aws_cdk as cdk, app\n"
        f"root = cdk.App(context={context!r}, outdir={str(tmp_path / 'out')!r})\n"
        "application, stack = app.build_member(root) if app.wants_member(root) else app.build(root)\n"
        "print(stack.stack_name)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "RiposteMember"


def test_member_accounts_forward_the_cloudtrail_events_riposte_listens_to(member: tuple[dict[str, Any], Path]) -> None:
    from riposte.sources import SOURCES

    template, _ = member
    rules = resources(template, "AWS::Events::Rule")
    patterns = [r["Properties"]["EventPattern"] for r in rules]
    for pattern in SOURCES.get("cloudtrail").event_patterns:
        assert json.loads(json.dumps(pattern)) in patterns
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert json.dumps(target["Arn"]).endswith(':123456789012:event-bus/default"]]}')  # the central account
        assert "RoleArn" in target  # cross-account bus targets need a role


def test_the_central_bus_accepts_exactly_the_member_accounts(tmp_path: Path) -> None:
    config = setup.parse({"organization": ORGANIZATION})
    app = cdk.App(outdir=str(tmp_path))
    _, stack = cdk_app.build(app, config)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    policies = resources(template, "AWS::Events::EventBusPolicy")
    principals = sorted(json.dumps(p["Properties"]["Statement"]["Principal"]) for p in policies)
    assert len(principals) == len(MEMBERS)
    for account, principal in zip(sorted(MEMBERS), principals, strict=True):
        assert f"iam::{account}:root" in principal
    for policy in policies:
        assert policy["Properties"]["Statement"]["Action"] == "events:PutEvents"
