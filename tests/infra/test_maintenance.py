"""The maintenance construct: its schedule, least-privilege role (deletes only in the configured NACLs, WAF
only on the configured sets, no create), encrypted logs, the dead-letter queue and alarms; cdk-nag clean."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

import app as cdk_app
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers.environment import MAINTENANCE_HANDLER, RESPONDER_HANDLER
from stacks.constructs.maintenance import MAINTENANCE_TABLE_CALLS, SCHEDULE
from stacks.nag import flatten
from stacks.names import STATE_TABLE_CALLS

ACL = "acl-0123456789abcdef0"
VPC = "vpc-0123456789abcdef0"
V4 = {"name": "riposte-v4", "id": "3c9248bb-52cc-47e0-a27b-08ec2b70786e"}
CF6 = {"name": "riposte-cf-v6", "id": "2d9ea024-cbaf-46a2-913f-030ae2c15c23", "scope": "CLOUDFRONT"}
ACCOUNT, REGION = "111122223333", "eu-west-1"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]


def synth(config: cfg.Config, outdir: Path, environment: dict[str, str]) -> dict[str, Any]:
    saved = {k: os.environ.pop(k, None) for k in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")}
    os.environ.update(environment)
    try:
        app = cdk.App(outdir=str(outdir))
        _, stack = cdk_app.build(app, config)
        template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    return template


@pytest.fixture(scope="module")
def enforce(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    config = setup.parse(
        {
            "mode": "enforce",
            "actions": ["block_ip", "block_waf"],
            "nacl": {"network_acl_ids": [ACL], "vpc_ids": [VPC]},
            "waf": {"ip_sets": [V4, CF6]},
        }
    )
    outdir = tmp_path_factory.mktemp("maintenance-enforce")
    return synth(config, outdir, {"CDK_DEFAULT_ACCOUNT": ACCOUNT, "CDK_DEFAULT_REGION": REGION}), outdir


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return synth(setup.check(cfg.Config()), tmp_path_factory.mktemp("maintenance-default"), {})


def function_id(template: dict[str, Any], handler: str) -> str:
    (found,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == handler
    ]
    return found


def role_statements(template: dict[str, Any], handler: str) -> list[dict[str, Any]]:
    role = template["Resources"][function_id(template, handler)]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    ]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def resources_of(statement: dict[str, Any]) -> list[str]:
    """The statement's resources as cdk-nag spells them (``arn:<AWS::Partition>:...``)."""
    resources = statement["Resource"]
    return [flatten(r) for r in (resources if isinstance(resources, list) else [resources])]


def state_table_id(template: dict[str, Any]) -> str:
    (found,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"]
    return found


def granted(template: dict[str, Any], handler: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for statement in role_statements(template, handler):
        for action in actions_of(statement):
            if action.startswith(prefix):
                found.setdefault(action, []).append(statement)
    return found


def test_a_schedule_invokes_the_maintenance_function_with_a_dead_letter_queue(
    enforce: tuple[dict[str, Any], Path],
) -> None:
    template, _ = enforce
    t = Template.from_json(template)
    function = function_id(template, MAINTENANCE_HANDLER)
    assert SCHEDULE.to_minutes() == 5
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(5 minutes)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [function, "Arn"]},
                        "DeadLetterConfig": {
                            "Arn": {"Fn::GetAtt": [Match.string_like_regexp("MaintenanceDlq"), "Arn"]}
                        },
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 3}),
                    }
                )
            ],
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("MaintenanceDlq"), "Arn"]}}
            },
        },
    )
    props = template["Resources"][function]["Properties"]
    assert cfg.from_json(props["Environment"]["Variables"][cfg.ENV_VAR]).waf.ip_sets
    assert props["Handler"] == MAINTENANCE_HANDLER
    assert props["Environment"]["Variables"]["RIPOSTE_TABLE"] == {"Ref": state_table_id(template)}


def test_its_logs_and_dead_letter_queue_are_encrypted_and_watched(enforce: tuple[dict[str, Any], Path]) -> None:
    template, _ = enforce
    resources = template["Resources"]
    function = resources[function_id(template, MAINTENANCE_HANDLER)]["Properties"]
    log_group = resources[function["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
    assert log_group["RetentionInDays"] == 365
    assert "KmsKeyId" in log_group
    (dlq_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and "MaintenanceDlq" in k]
    assert "KmsMasterKeyId" in resources[dlq_id]["Properties"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    on_dlq = [
        a for a in alarms if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}} in a["Dimensions"]
    ]
    on_errors = [a for a in alarms if a.get("MetricName") == "Errors"]
    assert len(on_dlq) == 1
    assert len(on_errors) == 1
    assert on_errors[0]["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": function_id(template, MAINTENANCE_HANDLER)}}
    ]
    for alarm in on_dlq + on_errors:
        assert alarm["Threshold"] == 0
        (action,) = alarm["AlarmActions"]
        assert resources[action["Ref"]]["Type"] == "AWS::SNS::Topic"


def test_nacl_deletes_reach_only_the_configured_acls_and_nothing_creates_an_entry(
    enforce: tuple[dict[str, Any], Path],
) -> None:
    template, _ = enforce
    ec2 = granted(template, MAINTENANCE_HANDLER, "ec2:")
    assert set(ec2) == {"ec2:DescribeNetworkAcls", "ec2:DeleteNetworkAclEntry"}
    (describe,) = ec2["ec2:DescribeNetworkAcls"]
    assert resources_of(describe) == ["*"]
    by_acl, by_vpc = sorted(ec2["ec2:DeleteNetworkAclEntry"], key=lambda s: "Condition" in s)
    assert actions_of(by_acl) == actions_of(by_vpc) == ["ec2:DeleteNetworkAclEntry"]
    assert resources_of(by_acl) == [f"arn:<AWS::Partition>:ec2:{REGION}:{ACCOUNT}:network-acl/{ACL}"]
    assert resources_of(by_vpc) == [f"arn:<AWS::Partition>:ec2:{REGION}:{ACCOUNT}:network-acl/*"]
    assert [flatten(v) for v in by_vpc["Condition"]["ArnEquals"]["ec2:Vpc"]] == [
        f"arn:<AWS::Partition>:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"
    ]


def test_waf_calls_reach_only_the_configured_sets_in_their_scopes_region(enforce: tuple[dict[str, Any], Path]) -> None:
    template, _ = enforce
    expected = {
        f"arn:<AWS::Partition>:wafv2:{REGION}:{ACCOUNT}:regional/ipset/{V4['name']}/{V4['id']}",
        f"arn:<AWS::Partition>:wafv2:us-east-1:{ACCOUNT}:global/ipset/{CF6['name']}/{CF6['id']}",
    }
    for handler in (MAINTENANCE_HANDLER, RESPONDER_HANDLER):  # block_waf is enabled: the responder too
        waf = granted(template, handler, "wafv2:")
        assert set(waf) == {"wafv2:GetIPSet", "wafv2:UpdateIPSet"}, handler
        for statements in waf.values():
            assert {r for s in statements for r in resources_of(s)} == expected


def test_only_the_table_calls_maintenance_makes_and_nothing_wider(enforce: tuple[dict[str, Any], Path]) -> None:
    template, _ = enforce
    dynamodb = granted(template, MAINTENANCE_HANDLER, "dynamodb:")
    assert set(dynamodb) == set(MAINTENANCE_TABLE_CALLS)
    assert set(MAINTENANCE_TABLE_CALLS) <= set(STATE_TABLE_CALLS)
    for statement in role_statements(template, MAINTENANCE_HANDLER):
        assert not any(a.endswith(":*") or a == "*" for a in actions_of(statement)), statement
        if statement["Resource"] == "*":
            assert actions_of(statement) == ["ec2:DescribeNetworkAcls"], statement
    logs = granted(template, MAINTENANCE_HANDLER, "logs:")
    assert set(logs) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    sqs = granted(template, MAINTENANCE_HANDLER, "sqs:")
    assert set(sqs) <= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    for statements in sqs.values():
        assert all("MaintenanceDlq" in json.dumps(s["Resource"]) for s in statements)


def test_without_configured_targets_it_may_delete_nothing(default: dict[str, Any]) -> None:
    assert set(granted(default, MAINTENANCE_HANDLER, "ec2:")) == {"ec2:DescribeNetworkAcls"}
    assert granted(default, MAINTENANCE_HANDLER, "wafv2:") == {}
    assert granted(default, RESPONDER_HANDLER, "wafv2:") == {}


def test_cdk_nag_passes_with_a_reason_for_every_acknowledgment(enforce: tuple[dict[str, Any], Path]) -> None:
    _, outdir = enforce
    (plugin,) = json.loads((outdir / "validation-report.json").read_text())["pluginReports"]
    assert (plugin["conclusion"], plugin["violations"]) == ("success", [])
    mine = [s for s in plugin["suppressedViolations"] if "/Maintenance/" in json.dumps(s)]
    assert {s["ruleName"] for s in mine} >= {"AwsSolutions-SQS3", "AwsSolutions-L1"}
    for suppressed in mine:
        assert len(suppressed["reason"]) > 40, suppressed["ruleName"]
