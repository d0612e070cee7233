"""The webhook front door's infrastructure: REST API with the Lambda proxy integration, throttling, WAF, access
logs, per-tool secrets, a queue only the webhook function may send to, cdk-nag, cfn-lint, and the OpenAPI
description in docs/ checked against the synthesized routes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template

import app as cdk_app
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers import environment
from riposte.sources.webhooks import ADAPTERS
from riposte.sources.webhooks.generic import GenericReport
from stacks.names import MAX_RECEIVE_COUNT

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "arn:aws:sns:us-east-1:123456789012:riposte-alerts"
REDRIVE = "arn:aws:iam::123456789012:role/ops-redrive"
SETTINGS = {
    "enabled": True,
    "sns_topic_arns": [TOPIC],
    "throttle_rate": 7,
    "throttle_burst": 9,
    "waf_rate_limit": 500,
    "redrive_role_arns": [REDRIVE],
}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, cfg.Config]:
    config = setup.parse({"webhooks": SETTINGS})
    outdir = tmp_path_factory.mktemp("webhooks")
    app = cdk.App(outdir=str(outdir))
    _, stack = cdk_app.build(app, config)
    assembly = app.synth()
    return assembly.get_stack_by_name(stack.stack_name).template, outdir, config


@pytest.fixture(scope="module")
def template(synthesized: tuple[dict[str, Any], Path, cfg.Config]) -> Template:
    return Template.from_json(synthesized[0])


def resources(synthesized: tuple[dict[str, Any], Path, cfg.Config], kind: str) -> dict[str, Any]:
    return {k: v for k, v in synthesized[0]["Resources"].items() if v["Type"] == kind}


def webhook_function(synthesized: Any) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in resources(synthesized, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == environment.WEBHOOKS_HANDLER
    ]
    return found


def webhook_queue(synthesized: Any) -> str:
    (logical_id,) = [k for k in resources(synthesized, "AWS::SQS::Queue") if k.startswith("WebhooksWebhookEvents1")]
    return logical_id


def test_the_api_is_a_regional_rest_api_passing_exact_bytes_to_the_function(
    template: Template, synthesized: Any
) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"BinaryMediaTypes": ["*/*"], "EndpointConfiguration": {"Types": ["REGIONAL"]}},
    )
    function_id, _ = webhook_function(synthesized)
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "AuthorizationType": "NONE",
            "RequestParameters": {"method.request.path.tool": True},
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST"},
        },
    )
    (method,) = resources(synthesized, "AWS::ApiGateway::Method").values()
    assert function_id in json.dumps(method["Properties"]["Integration"]["Uri"])


def test_the_stage_is_throttled_by_config_and_access_logged_to_an_encrypted_group(
    template: Template, synthesized: Any
) -> None:
    (stage,) = resources(synthesized, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "v1"
    (settings,) = props["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (7, 9)
    assert (settings["HttpMethod"], settings["ResourcePath"], settings["DataTraceEnabled"]) == ("*", "/*", False)
    log_group = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert "$context.identity.sourceIp" in props["AccessLogSetting"]["Format"]
    group = synthesized[0]["Resources"][log_group]
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    assert group["Properties"]["RetentionInDays"] == 365


def test_a_waf_rate_rule_by_config_and_size_limits_guard_the_stage(template: Template, synthesized: Any) -> None:
    ((acl_id, acl),) = resources(synthesized, "AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    rate = rules["RateLimitPerAddress"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {
        "Limit": 500,
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
    }
    sizes = rules["RequestSizeLimits"]["Statement"]["OrStatement"]["Statements"]
    fields = {next(iter(s["SizeConstraintStatement"]["FieldToMatch"])) for s in sizes}
    assert fields == {"UriPath", "QueryString"}
    # No managed rule group inspects bodies: alerts quote attack payloads.
    assert not [r for r in props["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]]
    (association,) = resources(synthesized, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (stage_id,) = resources(synthesized, "AWS::ApiGateway::Stage")
    assert stage_id in json.dumps(association["Properties"]["ResourceArn"])


def test_each_tool_but_sns_has_its_own_generated_encrypted_secret(synthesized: Any) -> None:
    secrets = {
        s["Properties"]["Name"]: s["Properties"]
        for s in resources(synthesized, "AWS::SecretsManager::Secret").values()
        if s["Properties"]["Name"].startswith("riposte/webhooks/")
    }
    expected = {f"riposte/webhooks/{name}" for name, a in ADAPTERS if a.auth == "secret"}
    assert set(secrets) == expected
    assert "riposte/webhooks/sns" not in secrets
    for props in secrets.values():
        assert props["KmsKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
        assert props["GenerateSecretString"]["GenerateStringKey"] == "token"
        assert props["GenerateSecretString"]["PasswordLength"] >= 32
        assert json.loads(props["GenerateSecretString"]["SecretStringTemplate"]) == {"hmac_secret": ""}


def test_the_function_role_holds_exactly_what_it_needs(synthesized: Any) -> None:
    _, function = webhook_function(synthesized)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p for p in resources(synthesized, "AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    granted: dict[str, Any] = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            granted[action] = statement["Resource"]
    assert set(granted) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
    }
    assert granted["sqs:SendMessage"] == {"Fn::GetAtt": [webhook_queue(synthesized), "Arn"]}
    secret_refs = {r["Ref"] for r in granted["secretsmanager:GetSecretValue"]}
    webhook_secrets = {
        k for k, s in resources(synthesized, "AWS::SecretsManager::Secret").items() if k.startswith("Webhooks")
    }
    assert secret_refs == webhook_secrets
    (role,) = [r for k, r in resources(synthesized, "AWS::IAM::Role").items() if k == role_id]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_only_the_webhook_function_and_redrive_roles_may_send_to_the_encrypted_queue(
    template: Template, synthesized: Any
) -> None:
    queue_id = webhook_queue(synthesized)
    queue = synthesized[0]["Resources"][queue_id]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": ["Key961B73FD", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
    (policy,) = [
        p
        for p in resources(synthesized, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    (deny,) = [s for s in statements if s.get("Sid") == "OnlyTheWebhookFunctionSends"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:SendMessage")
    _, function = webhook_function(synthesized)
    role = function["Properties"]["Role"]
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [role, REDRIVE]}}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateNumberOfMessagesVisible", "AlarmDescription": Match.string_like_regexp("webhook")},
    )


def test_the_function_runs_the_webhook_handler_with_the_validated_config_and_its_queue(synthesized: Any) -> None:
    _, function = webhook_function(synthesized)
    props = function["Properties"]
    env = props["Environment"]["Variables"]
    assert cfg.from_json(env[cfg.ENV_VAR]) == synthesized[2]
    assert env[environment.WEBHOOK_QUEUE_URL] == {"Ref": webhook_queue(synthesized)}
    assert props["Timeout"] <= 30


def test_cdk_nag_passes_with_reasoned_acknowledgments_for_in_function_authentication(synthesized: Any) -> None:
    report = json.loads((synthesized[1] / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    webhooks = [s for s in plugin["suppressedViolations"] if "Webhooks" in json.dumps(s)]
    for suppressed in webhooks:
        assert len(suppressed["reason"]) > 40, suppressed["ruleName"]
    assert {s["ruleName"] for s in webhooks} == {
        "AwsSolutions-APIG4",
        "AwsSolutions-COG4",
        "AwsSolutions-APIG6",
        "AwsSolutions-L1",
        "AwsSolutions-SMG4",
    }


def test_cfn_lint_finds_nothing(synthesized: Any) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            str(synthesized[1] / "Riposte.template.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_front_door_is_not_deployed_unless_enabled() -> None:
    config = cfg.load(ROOT / "riposte.example.toml")
    assert not config.webhooks.enabled
    app = cdk.App()
    _, stack = cdk_app.build(app, config)
    assert stack.webhooks is None


# The OpenAPI description, against the synthesized API and the code.

OPENAPI = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())


def synthesized_routes(synthesized: Any) -> set[tuple[str, str]]:
    parts = {k: v["Properties"] for k, v in resources(synthesized, "AWS::ApiGateway::Resource").items()}

    def path_of(ref: Any) -> str:
        if isinstance(ref, dict) and "Ref" in ref and ref["Ref"] in parts:
            props = parts[ref["Ref"]]
            return f"{path_of(props['ParentId'])}/{props['PathPart']}"
        return ""  # the API's root resource

    return {
        (path_of(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"].lower())
        for m in resources(synthesized, "AWS::ApiGateway::Method").values()
    }


def test_the_openapi_description_lists_exactly_the_deployed_routes(synthesized: Any) -> None:
    documented = {(path, method) for path, item in OPENAPI["paths"].items() for method in item}
    assert documented == synthesized_routes(synthesized) == {("/webhooks/{tool}", "post")}
    (server,) = OPENAPI["servers"]
    assert server["url"].endswith("/v1")


def test_the_openapi_description_names_every_tool_and_every_error() -> None:
    operation = OPENAPI["paths"]["/webhooks/{tool}"]["post"]
    (tool,) = [p for p in operation["parameters"] if p["name"] == "tool"]
    assert tool["schema"]["enum"] == list(ADAPTERS.names())
    sources = "\n".join(p.read_text() for p in (ROOT / "lambdas" / "riposte").rglob("*.py"))
    raised = re.findall(r'WebhookError\(\s*(\d{3}),\s*"([a-z_]+)"', sources)
    assert set(OPENAPI["components"]["schemas"]["Error"]["properties"]["error"]["enum"]) == {c for _, c in raised}
    statuses = {int(s) for s in operation["responses"]}
    assert {int(s) for s, _ in raised} | {200, 202} == statuses


def test_the_openapi_generic_report_matches_the_model() -> None:
    schema = OPENAPI["components"]["schemas"]["GenericReport"]
    assert set(schema["properties"]) == set(GenericReport.model_fields)
    assert set(schema["required"]) == {n for n, f in GenericReport.model_fields.items() if f.is_required()}
    assert schema["properties"]["severity"]["enum"] == ["low", "medium", "high", "critical"]
