"""The CloudTrail trail: each security property asserted on the synthesized template, with and without
``create_trail``, cdk-nag clean without acknowledgments, and the EventBridge rules generated from the catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs

import app as cdk_app
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.sources.cloudtrail import CloudTrailSource, patterns
from riposte.sources.cloudtrail.detections.base import Context
from stacks.constructs.trail import RETENTION
from stacks.nag import flatten

ROOT = Path(__file__).resolve().parents[2]
TRAIL_ARN = "arn:<AWS::Partition>:cloudtrail:<AWS::Region>:<AWS::AccountId>:trail/Riposte-trail"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]


def synth(config: cfg.Config, outdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    app = cdk.App(outdir=str(outdir))
    _, stack = cdk_app.build(app, config)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    report = json.loads((outdir / "validation-report.json").read_text())
    return template, report


@pytest.fixture(scope="module")
def with_trail(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    config = setup.parse({"cloudtrail": {"log_retention_days": 731, "bucket_retention_days": 2557}})
    return synth(config, tmp_path_factory.mktemp("trail"))


@pytest.fixture(scope="module")
def without_trail(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    return synth(setup.parse({"cloudtrail": {"create_trail": False}}), tmp_path_factory.mktemp("no-trail"))


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: dict[str, Any], kind: str, prefix: str = "Trail") -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v["Properties"]) for k, v in resources(template, kind).items() if k.startswith(prefix)]
    return found


def text(value: Any) -> str:
    return json.dumps(value)


def logs_bucket(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return one(template, "AWS::S3::Bucket", "TrailCloudTrailLogs")


def access_log_bucket(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return one(template, "AWS::S3::Bucket", "TrailCloudTrailAccessLogs")


def bucket_statements(template: dict[str, Any], bucket: str) -> list[dict[str, Any]]:
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    return list(policy)


def test_the_trail_is_multi_region_with_global_events_validation_and_all_management_events(with_trail: Any) -> None:
    _, trail = one(with_trail[0], "AWS::CloudTrail::Trail")
    assert trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["EventSelectors"] == [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]
    assert trail["TrailName"] == "Riposte-trail"


def test_the_trail_is_encrypted_with_a_rotating_key_of_its_own(with_trail: Any) -> None:
    template = with_trail[0]
    key_id, key = one(template, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True
    assert template["Resources"][key_id]["DeletionPolicy"] == "Retain"
    _, trail = one(template, "AWS::CloudTrail::Trail")
    assert trail["KMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _, group = one(template, "AWS::Logs::LogGroup")
    assert group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    _, bucket = logs_bucket(template)
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }


def test_cloudtrail_may_use_the_key_for_this_trail_only_and_logs_for_this_stack_only(with_trail: Any) -> None:
    _, key = one(with_trail[0], "AWS::KMS::Key")
    statements = key["KeyPolicy"]["Statement"]
    for_cloudtrail = [s for s in statements if s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}]
    assert {s["Action"] for s in for_cloudtrail} == {"kms:GenerateDataKey*", "kms:DescribeKey"}
    for statement in for_cloudtrail:
        assert flatten(statement["Condition"]["StringEquals"]["aws:SourceArn"]) == TRAIL_ARN
    encrypt = next(s for s in for_cloudtrail if s["Action"] == "kms:GenerateDataKey*")
    context = encrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"]
    assert flatten(context) == "arn:<AWS::Partition>:cloudtrail:*:<AWS::AccountId>:trail/*"
    (for_logs,) = [s for s in statements if "logs." in text(s["Principal"])]
    groups = flatten(for_logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert groups == "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:Riposte-*"


def test_the_log_bucket_is_private_versioned_logged_and_kept_for_the_configured_time(with_trail: Any) -> None:
    template = with_trail[0]
    bucket_id, bucket = logs_bucket(template)
    access_id, _ = access_log_bucket(template)
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": access_id}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["ExpirationInDays"], rule["NoncurrentVersionExpiration"]) == (2557, {"NoncurrentDays": 2557})
    assert rule["Status"] == "Enabled"
    assert template["Resources"][bucket_id]["DeletionPolicy"] == "Retain"


def test_the_log_bucket_refuses_plain_http_and_old_tls_and_writes_for_other_trails(with_trail: Any) -> None:
    template = with_trail[0]
    bucket_id, _ = logs_bucket(template)
    statements = bucket_statements(template, bucket_id)
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == "s3:*" for s in denies)
    assert any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies)
    (other_trails,) = [s for s in denies if s.get("Sid") == "OnlyThisTrailWrites"]
    assert other_trails["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert other_trails["Action"] == "s3:PutObject"
    assert flatten(other_trails["Condition"]["StringNotEquals"]["aws:SourceArn"]) == TRAIL_ARN
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in allows} == {"cloudtrail.amazonaws.com"}


def test_access_logs_go_to_a_separate_private_bucket_written_by_s3_logging_only(with_trail: Any) -> None:
    template = with_trail[0]
    access_id, access = access_log_bucket(template)
    bucket_id, _ = logs_bucket(template)
    # Server access logging delivers only to buckets encrypted with S3-managed keys.
    assert access["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert all(access["PublicAccessBlockConfiguration"].values())
    assert access["VersioningConfiguration"] == {"Status": "Enabled"}
    assert access["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 2557
    statements = bucket_statements(template, access_id)
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    (writer,) = [s for s in statements if s["Effect"] == "Allow"]
    assert writer["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert writer["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert "aws:SourceAccount" in writer["Condition"]["StringEquals"]


def test_cloudwatch_logs_delivery_is_encrypted_retained_and_scoped(with_trail: Any) -> None:
    template = with_trail[0]
    group_id, group = one(template, "AWS::Logs::LogGroup")
    assert group["RetentionInDays"] == 731
    _, trail = one(template, "AWS::CloudTrail::Trail")
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [group_id, "Arn"]}
    role_id, role = one(template, "AWS::IAM::Role")
    assert trail["CloudWatchLogsRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    _, policy = one(template, "AWS::IAM::Policy")
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]}


def test_generated_names_carry_the_markers_log_tampering_detections_protect(with_trail: Any) -> None:
    # CloudFormation names these "<stack>-<logical id>-<suffix>": the detections recognise them as log stores.
    bucket_id, _ = logs_bucket(with_trail[0])
    group_id, _ = one(with_trail[0], "AWS::Logs::LogGroup")
    context = Context()
    assert context.log_bucket(f"riposte-{bucket_id.lower()}-1a2b3c4d5e6f")
    assert any(m in f"Riposte-{group_id}-AbCdEf".lower() for m in context.protected_log_group_markers)


def test_without_create_trail_nothing_of_the_trail_is_deployed_but_the_rules_are(without_trail: Any) -> None:
    template = without_trail[0]
    assert resources(template, "AWS::CloudTrail::Trail") == {}
    assert not [k for k in template["Resources"] if k.startswith("Trail")]
    assert len(resources(template, "AWS::KMS::Key")) == 1  # Riposte's own key only
    assert resources(template, "AWS::S3::Bucket") == {}


@pytest.mark.parametrize("synthesized", ["with_trail", "without_trail"])
def test_every_generated_pattern_is_a_rule_to_the_queue(synthesized: str, request: pytest.FixtureRequest) -> None:
    template = request.getfixturevalue(synthesized)[0]
    # Pattern rules (the schedule of the maintenance function is a rule too, without a pattern).
    rules = [r for r in resources(template, "AWS::Events::Rule").values() if "EventPattern" in r["Properties"]]
    deployed = [r["Properties"]["EventPattern"] for r in rules]
    for pattern in CloudTrailSource.event_patterns:
        assert json.loads(json.dumps(pattern)) in deployed
    for rule in rules:
        assert patterns.size(rule["Properties"]["EventPattern"]) <= patterns.MAX_PATTERN_CHARS
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target


@pytest.mark.parametrize("synthesized", ["with_trail", "without_trail"])
def test_cdk_nag_passes_and_the_trail_needs_no_acknowledgment(synthesized: str, request: pytest.FixtureRequest) -> None:
    (plugin,) = request.getfixturevalue(synthesized)[1]["pluginReports"]
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    suppressed = [s for s in plugin["suppressedViolations"] for c in s["violatingConstructs"] if "/Trail/" in text(c)]
    assert suppressed == []


def test_every_retention_period_the_config_accepts_maps_to_cloudwatch_s() -> None:
    assert tuple(RETENTION) == cfg.LOG_RETENTION_DAYS
    assert set(RETENTION.values()) == set(logs.RetentionDays) - {logs.RetentionDays.INFINITE}
