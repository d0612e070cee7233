"""One Secrets Manager secret per registered notifier, named by the configuration (or the notifier's
default), filled in by the user after deploy."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from riposte.core.config import Config
from riposte.notifiers import NOTIFIERS
from stacks.constructs.legacy import keep_logical_id
from stacks.nag import acknowledge


def _construct_id(field: str) -> str:
    # slack_webhook_url -> SlackWebhookUrl; pagerduty_routing_key -> PagerdutyRoutingKey
    return "".join(part.title() for part in field.split("_"))


class NotifierSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for name, notifier in NOTIFIERS:
            spec = notifier.secret
            secret = secretsmanager.Secret(
                self,
                _construct_id(spec.field),
                secret_name=config.secret_name(spec.field, spec.default),
                description=spec.description,
                encryption_key=key,
                removal_policy=RemovalPolicy.RETAIN,
            )
            keep_logical_id(secret, f"secret:{spec.field}")
            acknowledge(
                secret,
                "AwsSolutions::AwsSolutions-SMG4",
                f"Holds a third-party credential for the {name} notifier, issued by that service; it is rotated "
                "there by the user, and no Lambda can rotate it.",
            )
            self.secrets[name] = secret
