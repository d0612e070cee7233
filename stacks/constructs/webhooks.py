"""The webhook front door: API Gateway REST API -> the webhook Lambda (``riposte.handlers.webhooks``) -> its own
queue, which the responder reads as a second event source.

Why a REST API (Lambda proxy integration) rather than an HTTP API: AWS WAF attaches to REST API stages and not to
HTTP APIs, and the WAF's per-address rate rule is the edge defence that matters for a public endpoint; REST APIs
also pass the body through untouched (binary media type ``*/*``), which the HMAC check needs. Authentication is
in the function (a bearer token or HMAC per tool, SNS's own signature): tools cannot use Cognito or IAM, and
SNS cannot send a token at all.

Edge limits: stage throttling (``webhooks.throttle_rate``/``throttle_burst``), a WAF rate-based rule per source
address (``webhooks.waf_rate_limit`` per 5 minutes), and WAF size rules on the path and query string. The 1 MiB
body limit is the function's: WAF inspects at most the first 64 KiB of a body, and no managed rule group that
inspects bodies is used, because alerts legitimately quote attack payloads.

The queue accepts messages from the webhook function's role only (plus ``webhooks.redrive_role_arns``): an
explicit deny for everyone else, so the responder can trust every record of this queue as a webhook the
front door authenticated.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from riposte.core.config import Config
from riposte.handlers import environment
from riposte.sources.webhooks import ADAPTERS
from stacks.constructs.function import function_logs, riposte_function
from stacks.constructs.queues import dead_letter_queue, event_queue
from stacks.nag import acknowledge

STAGE = "v1"
FUNCTION_TIMEOUT_WEBHOOKS = Duration.seconds(15)  # answer quickly: senders time out at 10-15 s
MAX_URI_PATH_BYTES = 128
MAX_QUERY_STRING_BYTES = 256
SECRET_TEMPLATE = '{"hmac_secret": ""}'  # noqa: S105 - the shape; the token is generated at deploy


def secret_tools(config: Config) -> list[str]:
    """Enabled tools authenticated by a shared secret (SNS signs its messages instead)."""
    return [name for name, adapter in ADAPTERS if adapter.auth == "secret" and name in config.webhooks.tools]


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _size_over(field: wafv2.CfnWebACL.FieldToMatchProperty, size: int) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
            field_to_match=field,
            comparison_operator="GT",
            size=size,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


class Webhooks(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        hooks = config.webhooks
        self.key = key
        self._queues(key)
        self.secrets = self._secrets(config, key)
        self.log_group = function_logs(self, "WebhookLogs", key)
        self.role = self._role(key)
        self.function = riposte_function(
            self,
            "Webhook",
            config=config,
            handler=environment.WEBHOOKS_HANDLER,
            description="Riposte webhook front door: authenticate, validate and queue alerts from alerting tools",
            role=self.role,
            log_group=self.log_group,
            variables={environment.WEBHOOK_QUEUE_URL: self.queue.queue_url},
            timeout=FUNCTION_TIMEOUT_WEBHOOKS,
        )
        self._queue_policy(config)
        self.api = self._api(config)
        self.web_acl = self._firewall(hooks.waf_rate_limit)
        # Its dead-letter queue is watched by the stack's Alarms construct, which notifies the alarm topic.
        CfnOutput(self, "WebhookUrl", value=self.api.url_for_path("/webhooks"), description="POST <this>/<tool>")
        CfnOutput(self, "WebhookSecretPrefix", value=hooks.secret_prefix, description="Secret per tool: <prefix><tool>")
        self._acknowledge()

    def _queues(self, key: kms.IKey) -> None:
        self.dlq = dead_letter_queue(self, "WebhookEventsDlq", key)
        self.queue = event_queue(self, "WebhookEvents", key, self.dlq)

    def _secrets(self, config: Config, key: kms.IKey) -> dict[str, secretsmanager.Secret]:
        secrets = {}
        for tool in secret_tools(config):
            secret = secretsmanager.Secret(
                self,
                f"{tool.title()}Secret",
                secret_name=f"{config.webhooks.secret_prefix}{tool}",
                description=f"Riposte webhooks: credentials {ADAPTERS.get(tool).label} must present "
                '({"token": bearer token, "hmac_secret": optional HMAC key})',
                encryption_key=key,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=SECRET_TEMPLATE,
                    generate_string_key="token",
                    password_length=48,
                    exclude_punctuation=True,
                ),
                removal_policy=RemovalPolicy.RETAIN,
            )
            acknowledge(
                secret,
                "AwsSolutions::AwsSolutions-SMG4",
                f"Shared with {ADAPTERS.get(tool).label}, where a person configures it by hand; rotating it here "
                "alone would lock the tool out. Rotate by putting a new value here and in the tool.",
            )
            secrets[tool] = secret
        return secrets

    def _role(self, key: kms.IKey) -> iam.Role:
        role = iam.Role(
            self,
            "WebhookRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Riposte webhook front door: read its secrets, send to its queue, write its logs",
        )
        statements = [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
            ),
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]),
            # SQS encrypts with the key (GenerateDataKey, Decrypt); Secrets Manager decrypts the secrets.
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]),
        ]
        if self.secrets:
            statements.append(
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[secret.secret_arn for secret in self.secrets.values()],
                )
            )
        for statement in statements:
            role.add_to_policy(statement)
        return role

    def _queue_policy(self, config: Config) -> None:
        senders = [self.role.role_arn, *config.webhooks.redrive_role_arns]
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheWebhookFunctionSends",
                effect=iam.Effect.DENY,
                principals=[iam.StarPrincipal()],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": senders}},
            )
        )

    def _api(self, config: Config) -> apigw.RestApi:
        hooks = config.webhooks
        self.access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name="riposte-webhooks",
            description="Riposte: webhooks from alerting tools (POST /webhooks/{tool})",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            # Every body reaches the function as the exact bytes sent: HMAC signatures cover them.
            binary_media_types=["*/*"],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=hooks.throttle_rate,
                throttling_burst_limit=hooks.throttle_burst,
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        validator = api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
        tool = api.root.add_resource("webhooks").add_resource("{tool}")
        self.method = tool.add_method(
            "POST",
            apigw.LambdaIntegration(self.function, proxy=True),
            authorization_type=apigw.AuthorizationType.NONE,
            request_parameters={"method.request.path.tool": True},
            request_validator=validator,
        )
        return api

    def _firewall(self, rate_limit: int) -> wafv2.CfnWebACL:
        uri_path = wafv2.CfnWebACL.FieldToMatchProperty(uri_path={})
        query = wafv2.CfnWebACL.FieldToMatchProperty(query_string={})
        acl = wafv2.CfnWebACL(
            self,
            "Firewall",
            scope="REGIONAL",
            description="Riposte webhooks: per-address rate limit and request size limits",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("RiposteWebhooks"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerAddress",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                        )
                    ),
                    visibility_config=_visibility("RiposteWebhooksRateLimit"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="RequestSizeLimits",
                    priority=1,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        or_statement=wafv2.CfnWebACL.OrStatementProperty(
                            statements=[
                                _size_over(uri_path, MAX_URI_PATH_BYTES),
                                _size_over(query, MAX_QUERY_STRING_BYTES),
                            ]
                        )
                    ),
                    visibility_config=_visibility("RiposteWebhooksSizeLimits"),
                ),
            ],
        )
        association = wafv2.CfnWebACLAssociation(
            self, "FirewallAssociation", resource_arn=self.api.deployment_stage.stage_arn, web_acl_arn=acl.attr_arn
        )
        association.node.add_dependency(self.api.deployment_stage)
        return acl

    def _acknowledge(self) -> None:
        reason = (
            "Every request is authenticated in the function: a per-tool bearer token or HMAC signature from "
            "Secrets Manager, or SNS's own message signature; alerting tools can use neither IAM nor Cognito."
        )
        for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
            acknowledge(self.method, rule, reason)
        acknowledge(
            self.api.deployment_stage,
            "AwsSolutions::AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), a "
            "singleton Riposte must not overwrite; access logs record every request and the function logs why.",
        )
