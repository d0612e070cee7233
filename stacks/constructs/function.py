"""How every Riposte function is built: the package as its asset, the pinned Powertools layer, python3.13, its
own role and encrypted log group, the validated configuration in its environment. One place, so the responder,
the webhook, the maintenance and the flow-log functions cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from riposte.core.config import Config
from riposte.handlers import environment
from stacks.nag import acknowledge
from stacks.names import ASSET_EXCLUDE, FUNCTION_TIMEOUT, LAMBDAS_DIR, POWERTOOLS_PARAMETER


def powertools_layer(scope: Construct, config: Config) -> lambda_.ILayerVersion:
    if config.lambda_.powertools_layer_arn:
        arn = config.lambda_.powertools_layer_arn
    else:
        arn = ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", arn)


def riposte_function(
    scope: Construct,
    construct_id: str,
    *,
    config: Config,
    handler: str,
    description: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    variables: Mapping[str, str],
    timeout: Duration = FUNCTION_TIMEOUT,
    memory_size: int = 256,
    reserved_concurrency: int | None = None,
) -> lambda_.Function:
    function = lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.X86_64,
        handler=handler,
        code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=ASSET_EXCLUDE),
        layers=[powertools_layer(scope, config)],
        timeout=timeout,
        memory_size=memory_size,
        reserved_concurrent_executions=reserved_concurrency,
        role=role,
        log_group=log_group,
        environment={
            environment.CONFIG: config.to_json(),
            **variables,
            "POWERTOOLS_SERVICE_NAME": "riposte",
            "POWERTOOLS_METRICS_NAMESPACE": "Riposte",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        },
    )
    acknowledge(
        function,
        "AwsSolutions::AwsSolutions-L1",
        "Pinned to python3.13 to match the AWS-published Powertools layer it runs with; move with the layer.",
    )
    return function


def function_logs(scope: Construct, construct_id: str, key: kms.IKey) -> logs.LogGroup:
    """A function's own log group: a year, encrypted with Riposte's key, kept when the stack goes (evidence)."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=RemovalPolicy.RETAIN,
    )
