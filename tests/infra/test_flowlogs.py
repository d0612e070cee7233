"""The flow-log construct: flow logs (1-minute aggregation, the configured format) into an encrypted log group with
retention, a subscription to the flow-log Lambda (direct) or to an encrypted Kinesis stream the Lambda reads in
bisected batches (kinesis), failures kept in an alarmed dead-letter queue, least-privilege IAM; cdk-nag clean."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app as cdk_app
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers.environment import FLOWLOGS_HANDLER
from stacks.constructs.flowlogs import DIRECT_CONCURRENCY, FLOWLOGS_TABLE_CALLS, MEMORY_MB
from stacks.names import STATE_TABLE_CALLS
from tests.conftest import ROOT

VPC = "vpc-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"
ENI = "eni-0a0b0c0d0e0f10010"
CUSTOM = (
    "${version} ${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${packets} ${bytes} ${start} ${action}"
    " ${flow-direction}"
)
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


def flow_config(**flowlogs: Any) -> cfg.Config:
    return setup.parse(
        {
            "mode": "enforce",
            "nacl": {"vpc_ids": [VPC]},
            "flowlogs": {"vpc_ids": [VPC], "log_retention_days": 14, **flowlogs},
        }
    )


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    outdir = tmp_path_factory.mktemp("flowlogs-direct")
    config = flow_config(subnet_ids=[SUBNET], interface_ids=[ENI], log_format=CUSTOM)
    return synth(config, outdir, {"CDK_DEFAULT_ACCOUNT": ACCOUNT, "CDK_DEFAULT_REGION": REGION}), outdir


@pytest.fixture(scope="module")
def kinesis(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    outdir = tmp_path_factory.mktemp("flowlogs-kinesis")
    config = flow_config(
        delivery="kinesis",
        kinesis_shards=4,
        kinesis_batch_size=50,
        kinesis_batching_window_seconds=10,
        kinesis_parallelization_factor=3,
    )
    return synth(config, outdir, {}), outdir


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def function_id(template: dict[str, Any]) -> str:
    (found,) = [
        k
        for k, r in resources(template, "AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == FLOWLOGS_HANDLER
    ]
    return found


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = [
        r for r in resources(template, "AWS::IAM::Policy").values() if {"Ref": role} in r["Properties"]["Roles"]
    ]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def function_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"][function_id(template)]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_statements(template, role)


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def flow_log_group(template: dict[str, Any]) -> str:
    (found,) = [k for k in resources(template, "AWS::Logs::LogGroup") if k.startswith("FlowLogsFlowLogGroup")]
    return found


def dlq_id(template: dict[str, Any]) -> str:
    (found,) = [k for k in resources(template, "AWS::SQS::Queue") if k.startswith("FlowLogsFlowLogsDlq")]
    return found


def test_without_flowlogs_configured_nothing_is_deployed(tmp_path: Path) -> None:
    template = synth(setup.check(cfg.Config()), tmp_path, {})
    assert resources(template, "AWS::EC2::FlowLog") == {}
    assert resources(template, "AWS::Logs::SubscriptionFilter") == {}
    assert all(
        r["Properties"]["Handler"] != FLOWLOGS_HANDLER for r in resources(template, "AWS::Lambda::Function").values()
    )


def test_one_flow_log_per_vpc_subnet_and_interface_at_one_minute_in_the_configured_format(
    direct: tuple[dict[str, Any], Path],
) -> None:
    template, _ = direct
    group = flow_log_group(template)
    flow_logs = {
        r["Properties"]["ResourceId"]: r["Properties"] for r in resources(template, "AWS::EC2::FlowLog").values()
    }
    assert {k: v["ResourceType"] for k, v in flow_logs.items()} == {
        VPC: "VPC",
        SUBNET: "Subnet",
        ENI: "NetworkInterface",
    }
    for props in flow_logs.values():
        assert props["MaxAggregationInterval"] == 60
        assert props["TrafficType"] == "ALL"
        assert props["LogFormat"] == CUSTOM
        assert props["LogDestinationType"] == "cloud-watch-logs"
        assert props["LogGroupName"] == {"Ref": group}
    # The delivery role: trusted by the flow-logs service for this account only, writing only to that group.
    role = next(iter(flow_logs.values()))["DeliverLogsPermissionArn"]["Fn::GetAtt"][0]
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (statement,) = role_statements(template, role)
    assert sorted(actions_of(statement)) == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert statement["Resource"] == {"Fn::GetAtt": [group, "Arn"]}


def test_the_flow_log_group_is_encrypted_and_kept_for_the_configured_days(direct: tuple[dict[str, Any], Path]) -> None:
    template, _ = direct
    props = template["Resources"][flow_log_group(template)]["Properties"]
    assert props["RetentionInDays"] == 14
    assert props["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"  # Riposte's key


def test_direct_delivery_subscribes_the_function_and_keeps_failures_in_an_alarmed_queue(
    direct: tuple[dict[str, Any], Path],
) -> None:
    template, _ = direct
    t = Template.from_json(template)
    function = function_id(template)
    (subscription,) = resources(template, "AWS::Logs::SubscriptionFilter").values()
    assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": [function, "Arn"]}
    assert subscription["Properties"]["LogGroupName"] == {"Ref": flow_log_group(template)}
    assert subscription["Properties"]["FilterPattern"] == ""
    t.has_resource_properties(
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [function, "Arn"]}, "Principal": "logs.amazonaws.com"},
    )
    dlq = dlq_id(template)
    t.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}},
        },
    )
    assert "KmsMasterKeyId" in template["Resources"][dlq]["Properties"]
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
        },
    )
    assert resources(template, "AWS::Kinesis::Stream") == {}
    props = template["Resources"][function]["Properties"]
    assert (props["MemorySize"], props["ReservedConcurrentExecutions"]) == (MEMORY_MB, DIRECT_CONCURRENCY)


def test_kinesis_delivery_streams_through_an_encrypted_stream_read_in_bisected_batches(
    kinesis: tuple[dict[str, Any], Path],
) -> None:
    template, _ = kinesis
    t = Template.from_json(template)
    function = function_id(template)
    ((stream, props),) = resources(template, "AWS::Kinesis::Stream").items()
    assert props["Properties"]["ShardCount"] == 4
    assert props["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    (subscription,) = resources(template, "AWS::Logs::SubscriptionFilter").values()
    assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": [stream, "Arn"]}
    role = subscription["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "logs.amazonaws.com"}
    assert "aws:SourceArn" in trust[0]["Condition"]["StringLike"]
    granted = {a for s in role_statements(template, role) for a in actions_of(s)}
    assert {a for a in granted if a.startswith("kinesis:")} <= {
        "kinesis:PutRecord",
        "kinesis:PutRecords",
        "kinesis:ListShards",
    }
    assert {"kinesis:PutRecord", "kinesis:PutRecords"} & granted
    for statement in role_statements(template, role):
        if any(a.startswith("kinesis:") for a in actions_of(statement)):
            assert statement["Resource"] == {"Fn::GetAtt": [stream, "Arn"]}
    t.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [stream, "Arn"]},
            "FunctionName": {"Ref": function},
            "BatchSize": 50,
            "MaximumBatchingWindowInSeconds": 10,
            "ParallelizationFactor": 3,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 3,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id(template), "Arn"]}}},
        },
    )
    assert all(
        c["Properties"]["FunctionName"] != {"Ref": function}
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    )
    assert not [
        p
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "logs.amazonaws.com"
    ]
    alarm = next(
        a
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "IteratorAge"
    )
    assert alarm["Properties"]["Threshold"] == 600_000
    assert alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    assert alarm["Properties"]["AlarmActions"]  # to the stack's alarm topic
    # One concurrent batch per shard and parallelization slot, never fewer.
    assert template["Resources"][function]["Properties"]["ReservedConcurrentExecutions"] == 4 * 3


def test_the_function_gets_exactly_the_table_calls_of_its_two_adapters(direct: tuple[dict[str, Any], Path]) -> None:
    template, _ = direct
    source = (ROOT / "lambdas" / "riposte" / "adapters" / "aws" / "flowstate.py").read_text()
    made = {"dynamodb:" + "".join(p.title() for p in m.split("_")) for m in re.findall(r"_client\.(\w+)\(", source)}
    assert made == set(FLOWLOGS_TABLE_CALLS)
    granted = {a for s in function_statements(template) for a in actions_of(s) if a.startswith("dynamodb:")}
    assert granted == set(FLOWLOGS_TABLE_CALLS) | set(STATE_TABLE_CALLS)  # no Scan, no DeleteTable, no streams


def test_the_function_role_is_least_privilege(direct: tuple[dict[str, Any], Path]) -> None:
    template, _ = direct
    for statement in function_statements(template):
        assert not any(a.endswith(":*") or a == "*" for a in actions_of(statement)), statement
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in actions_of(statement)), statement
    logs = [s for s in function_statements(template) if any(a.startswith("logs:") for a in actions_of(s))]
    assert [sorted(actions_of(s)) for s in logs] == [["logs:CreateLogStream", "logs:PutLogEvents"]]
    writes = {
        a for s in function_statements(template) for a in actions_of(s) if a.startswith("ec2:") and "Describe" not in a
    }
    assert writes == {"ec2:CreateNetworkAclEntry", "ec2:ReplaceNetworkAclEntry", "ec2:DeleteNetworkAclEntry"}
    for statement in function_statements(template):
        if set(actions_of(statement)) & writes:
            assert "ec2:Vpc" in json.dumps(statement.get("Condition", {}))  # only NACLs of the configured VPC


@pytest.mark.parametrize("which", ["direct", "kinesis"])
def test_cdk_nag_passes_with_a_reason_for_every_acknowledgment(which: str, request: pytest.FixtureRequest) -> None:
    _, outdir = request.getfixturevalue(which)
    (plugin,) = json.loads((outdir / "validation-report.json").read_text())["pluginReports"]
    assert (plugin["conclusion"], plugin["violations"]) == ("success", [])
    mine = [s for s in plugin["suppressedViolations"] if "/FlowLogs/" in json.dumps(s)]
    assert {s["ruleName"] for s in mine} >= {"AwsSolutions-SQS3", "AwsSolutions-L1"}
    for suppressed in mine:
        assert len(suppressed["reason"]) > 40, suppressed["ruleName"]
