"""CDK assertions on the security-relevant properties, cdk-nag, cfn-lint, and synth-time validation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

import app as cdk_app
from riposte.actions import ACTIONS
from riposte.adapters.aws.own import DISCOVERY_CALLS
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers.environment import RESPONDER_HANDLER as HANDLER
from riposte.notifiers import NOTIFIERS
from stacks.constructs.legacy import LOGICAL_IDS
from stacks.names import MAX_RECEIVE_COUNT, POWERTOOLS_VERSION, STATE_TABLE_CALLS

ROOT = Path(__file__).resolve().parents[2]
ACL = "acl-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]


def synth(config: cfg.Config, outdir: Path) -> tuple[dict[str, Any], Path]:
    """Synthesize like `cdk synth` does, cdk-nag included: raises if any rule is violated."""
    app = cdk.App(outdir=str(outdir))
    _, stack = cdk_app.build(app, config)
    assembly = app.synth()
    return assembly.get_stack_by_name(stack.stack_name).template, outdir


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return synth(cfg.load(ROOT / "riposte.example.toml"), tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def enforce(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    config = setup.parse({"mode": "enforce", "nacl": {"network_acl_ids": [ACL], "vpc_ids": [VPC]}})
    return synth(config, tmp_path_factory.mktemp("enforce"))


def template(synthesized: tuple[dict[str, Any], Path]) -> Template:
    return Template.from_json(synthesized[0])


def role_statements(synthesized: tuple[dict[str, Any], Path]) -> list[dict[str, Any]]:
    policies = template(synthesized).find_resources("AWS::IAM::Policy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_guardduty_findings_are_routed_to_the_queue_with_a_dead_letter_queue(default: Any) -> None:
    t = template(default)
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]},
            "Targets": [Match.object_like({"DeadLetterConfig": Match.object_like({"Arn": Match.any_value()})})],
        },
    )
    t.has_resource_properties(
        "AWS::SQS::Queue",
        {"RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": MAX_RECEIVE_COUNT}},
    )
    t.has_resource_properties("AWS::GuardDuty::Detector", {"Enable": True})
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 0}
    )


def test_data_at_rest_is_encrypted_with_the_rotating_customer_key(default: Any) -> None:
    t = template(default)
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    key = {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}
    for queue in t.find_resources("AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in queue["Properties"]
    for policy in t.find_resources("AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
    t.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
        },
    )
    for secret in t.find_resources("AWS::SecretsManager::Secret").values():
        assert "KmsKeyId" in secret["Properties"]
    t.has_resource_properties("AWS::Logs::LogGroup", {"KmsKeyId": key, "RetentionInDays": 365})


def test_function_runs_the_package_with_the_pinned_powertools_layer_and_the_validated_config(
    default: Any,
) -> None:
    t = template(default)
    functions = t.find_resources("AWS::Lambda::Function").values()
    (function,) = [f for f in functions if f["Properties"]["Handler"] == HANDLER]
    props = function["Properties"]
    assert props["Handler"] == HANDLER
    env = props["Environment"]["Variables"]
    assert cfg.from_json(env[cfg.ENV_VAR]) == cfg.load(ROOT / "riposte.example.toml")
    (layer,) = props["Layers"]
    parameters = default[0]["Parameters"]
    assert parameters[layer["Ref"]]["Default"].endswith(f"/python3.13/{POWERTOOLS_VERSION}")
    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10},
    )


def test_powertools_layer_version_matches_the_tested_requirements() -> None:
    pinned = re.search(r"aws-lambda-powertools\[[^\]]*\]==([\d.]+)", (ROOT / "requirements.txt").read_text())
    assert pinned is not None
    assert pinned.group(1) == POWERTOOLS_VERSION


def test_dry_run_without_targets_gets_no_nacl_write_permission(default: Any) -> None:
    statements = role_statements(default)
    granted = {a for s in statements for a in actions_of(s)}
    assert "ec2:DescribeNetworkAcls" in granted
    assert "ec2:CreateNetworkAclEntry" not in granted
    for role in template(default).find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]  # no AWSLambdaBasicExecutionRole: logs are scoped


def test_nacl_writes_reach_only_the_configured_acls_and_vpcs(enforce: Any) -> None:
    statements = [s for s in role_statements(enforce) if "ec2:CreateNetworkAclEntry" in actions_of(s)]
    assert len(statements) == 2
    by_acl = next(s for s in statements if "Condition" not in s)
    assert json.dumps(by_acl["Resource"]).count("network-acl/") == 1
    assert f"network-acl/{ACL}" in json.dumps(by_acl["Resource"])
    by_vpc = next(s for s in statements if "Condition" in s)
    assert "network-acl/*" in json.dumps(by_vpc["Resource"])
    assert f"vpc/{VPC}" in json.dumps(by_vpc["Condition"]["ArnEquals"]["ec2:Vpc"])


def test_wildcard_resources_only_for_calls_without_resource_level_permissions(enforce: Any) -> None:
    for statement in role_statements(enforce):
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in actions_of(statement)), statement
        assert not any(a.endswith(":*") for a in actions_of(statement))


def test_every_enabled_action_gets_exactly_what_it_declares(enforce: Any) -> None:
    granted = {a for s in role_statements(enforce) for a in actions_of(s)}
    for name in ("block_ip",):
        for permission in ACTIONS.get(name).permissions:
            assert set(permission.actions) <= granted
    ec2 = {a for a in granted if a.startswith("ec2:")}
    declared = {a for _, action in ACTIONS for p in action.permissions for a in p.actions}
    assert ec2 <= declared | set(DISCOVERY_CALLS)  # and the guard's read-only discovery of our own addresses


@pytest.mark.parametrize("synthesized", ["default", "enforce"])
def test_cdk_nag_passes_and_every_acknowledgment_has_a_reason(synthesized: str, request: pytest.FixtureRequest) -> None:
    _, outdir = request.getfixturevalue(synthesized)
    report = json.loads((outdir / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["pluginName"] == "AwsSolutions"
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    for suppressed in plugin["suppressedViolations"]:
        assert len(suppressed["reason"]) > 40, suppressed["ruleName"]
    # A new acknowledgment is a decision: it must be added here on purpose.
    expected = {
        "AwsSolutions-SMG4",
        "AwsSolutions-L1",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        "AwsSolutions-SQS3",  # the maintenance dead-letter queue is itself a DLQ (of a schedule and a function)
    }
    if synthesized == "enforce":
        expected.add(
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-acl/*]"
        )
    assert {s["ruleName"] for s in plugin["suppressedViolations"]} == expected


def test_cdk_nag_fails_synth_on_a_violation(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bad")
    cdk.aws_sqs.Queue(stack, "Unencrypted", encryption=cdk.aws_sqs.QueueEncryption.UNENCRYPTED)
    cdk.Validations.of(app).add_plugins(cdk_app.AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


@pytest.mark.parametrize("synthesized", ["default", "enforce"])
def test_cfn_lint_finds_nothing(synthesized: str, request: pytest.FixtureRequest) -> None:
    _, outdir = request.getfixturevalue(synthesized)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            str(outdir / "Riposte.template.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_config_fails_synth_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('mode = "enforce"\n[nacl]\nrule_range = [0, 10]\n')
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"riposte:config": str(bad)}),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "nacl.rule_range" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_lambda_asset_is_the_package_alone_and_imports_on_its_own(default: Any) -> None:
    _, outdir = default
    manifest = json.loads((outdir / "Riposte.assets.json").read_text())
    (asset,) = [
        outdir / f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"
    ]
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert "riposte/handlers/responder.py" in files
    assert not [f for f in files if "__pycache__" in f or ".egg-info" in f or not f.startswith("riposte/")]
    code = (
        f"import sys; sys.path.insert(0, {str(asset)!r}); import riposte.handlers.responder as r; "
        f"assert r.__file__.startswith({str(asset)!r}), r.__file__"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_stateful_resources_keep_their_logical_ids_so_an_existing_deployment_updates_in_place(default: Any) -> None:
    resources = default[0]["Resources"]
    for name, logical_id in LOGICAL_IDS.items():
        assert logical_id in resources, name
    kinds = {resources[i]["Type"] for i in LOGICAL_IDS.values()}
    assert kinds == {
        "AWS::KMS::Key",
        "AWS::SQS::Queue",
        "AWS::DynamoDB::Table",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
    }


def test_one_secret_per_registered_notifier_named_by_its_declaration(default: Any) -> None:
    secrets = template(default).find_resources("AWS::SecretsManager::Secret")
    names = sorted(s["Properties"]["Name"] for s in secrets.values())
    assert names == sorted(cls.secret.default for _, cls in NOTIFIERS)


def test_synthesizing_loads_nothing_of_the_lambda_runtime(tmp_path: Path) -> None:
    code = (
        "import sys, aws_cdk as cdk, app\n"
        f"application, _ = app.build(cdk.App(outdir={str(tmp_path)!r}))\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'urllib3', "
        "'aws_lambda_powertools'})\n"
        "sys.exit(f'synth loaded {loaded}' if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_responder_gets_exactly_the_table_calls_its_adapter_makes(default: Any) -> None:
    source = (ROOT / "lambdas" / "riposte" / "adapters" / "aws" / "dynamodb.py").read_text()
    made = {"dynamodb:" + "".join(p.title() for p in m.split("_")) for m in re.findall(r"_table\.(\w+)\(", source)}
    assert made == set(STATE_TABLE_CALLS)
    granted = {a for s in role_statements(default) for a in actions_of(s) if a.startswith("dynamodb:")}
    assert granted == set(STATE_TABLE_CALLS)  # no Scan, BatchWriteItem or stream reads


def test_alarms_notify_an_encrypted_topic_and_an_email_when_configured(tmp_path: Path) -> None:
    t = Template.from_json(synth(setup.parse({"alarms": {"email": "secops@example.com"}}), tmp_path)[0])
    (topic_id,) = t.find_resources("AWS::SNS::Topic")
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateNumberOfMessagesVisible", "AlarmActions": [{"Ref": topic_id}]},
    )
    t.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "secops@example.com", "TopicArn": {"Ref": topic_id}}
    )


def test_no_email_subscription_unless_configured(default: Any) -> None:
    assert template(default).find_resources("AWS::SNS::Subscription") == {}


def test_only_riposte_rules_may_send_to_the_events_queue(default: Any) -> None:
    t = template(default)
    rules = {k for k, v in t.find_resources("AWS::Events::Rule").items() if "EventPattern" in v["Properties"]}
    (queue_policy,) = [
        p
        for p in t.find_resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": LOGICAL_IDS["queue"]}]
    ]
    (deny,) = [
        s
        for s in queue_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "OnlyRiposteRulesMaySend"
    ]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "sqs:SendMessage", {"AWS": "*"})
    pinned = deny["Condition"]["ArnNotEquals"]["aws:SourceArn"]
    assert {ref["Fn::GetAtt"][0] for ref in pinned if "Fn::GetAtt" in ref and ref["Fn::GetAtt"][1] == "Arn"} >= rules


def test_rules_for_read_only_cloudtrail_events_receive_them(default: Any) -> None:
    rules = template(default).find_resources("AWS::Events::Rule").values()

    def wants_read_only(rule: Any) -> bool:
        pattern = rule["Properties"].get("EventPattern", {})
        detail = pattern.get("detail", {})
        named = "eventName" in detail or pattern.get("detail-type") != ["AWS API Call via CloudTrail"]
        return bool(detail.get("readOnly") == [True] or (detail and not named))

    read_only = [r for r in rules if wants_read_only(r)]
    # Read-only events by name, root usage and refused calls (root's ListBuckets is read-only).
    assert {json.dumps(r["Properties"]["EventPattern"]["detail"].get("userIdentity", {})) for r in read_only} >= {
        json.dumps({"type": ["Root"], "invokedBy": [{"exists": False}]})
    }
    assert any("errorCode" in r["Properties"]["EventPattern"]["detail"] for r in read_only)
    assert {r["Properties"]["State"] for r in read_only} == {"ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}
    others = [r for r in rules if r not in read_only and "EventPattern" in r["Properties"]]
    assert {r["Properties"]["State"] for r in others} == {"ENABLED"}


def test_the_responder_knows_ripostes_own_roles(default: Any) -> None:
    functions = template(default).find_resources("AWS::Lambda::Function").values()
    (responder,) = [f for f in functions if f["Properties"]["Handler"] == HANDLER]
    joined = responder["Properties"]["Environment"]["Variables"]["RIPOSTE_SELF_ARNS"]
    assert joined["Fn::Join"][0] == ","
    assert len(joined["Fn::Join"][1]) == 2  # the responder's and the maintenance function's (no flow logs here)
