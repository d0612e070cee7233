"""The handlers' environment: variable names, handler paths and the models that read them.

The stack imports this module to set what the functions read, so it must stay light: no Powertools, no boto3,
nothing of the runtime (a test checks that synthesizing imports none of them).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riposte.core import config as cfg

CONFIG = cfg.ENV_VAR  # the validated configuration, as JSON

TABLE = "RIPOSTE_TABLE"  # the state table's name

RESPONDER_HANDLER = "riposte.handlers.responder.handler"
MAINTENANCE_HANDLER = "riposte.handlers.maintenance.handler"  # expiry and reconciliation, on a schedule

WEBHOOKS_HANDLER = "riposte.handlers.webhooks.handler"
WEBHOOK_QUEUE_URL = "RIPOSTE_WEBHOOK_QUEUE_URL"  # the dedicated queue the webhook function sends events to


# The webhook queue's ARN: the responder trusts webhook events only from records of that queue (the record's
# eventSourceARN is set by Lambda's poller, not by whoever sent the message).
WEBHOOK_QUEUE_ARN = "RIPOSTE_WEBHOOK_QUEUE_ARN"


# Riposte's own roles (comma-separated ARNs): CloudTrail records of their calls never raise detections.
SELF_ARNS = "RIPOSTE_SELF_ARNS"


class ResponderEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    config: str = Field(alias=CONFIG, min_length=2)
    table: str = Field(alias=TABLE, min_length=3)
    self_arns: str = Field(default="", alias=SELF_ARNS)
    webhook_queue_arn: str = Field(default="", alias=WEBHOOK_QUEUE_ARN, pattern=r"^(arn:aws[a-z-]*:sqs:\S+)?$")


def read_responder(environ: Mapping[str, str]) -> ResponderEnvironment:
    """The responder's settings; a missing variable is a ``ValueError`` naming it."""
    try:
        return ResponderEnvironment.model_validate(dict(environ))
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]) for e in error.errors())
        raise ValueError(f"{names} is not set (or empty)") from None


class WebhooksEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    config: str = Field(alias=CONFIG, min_length=2)
    queue_url: str = Field(alias=WEBHOOK_QUEUE_URL, pattern=r"^https?://\S+$")


def read_webhooks(environ: Mapping[str, str]) -> WebhooksEnvironment:
    """The webhook function's settings; a missing variable is a ``ValueError`` naming it."""
    try:
        return WebhooksEnvironment.model_validate(dict(environ))
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]) for e in error.errors())
        raise ValueError(f"{names} is not set (or invalid)") from None


def read_maintenance(environ: Mapping[str, str]) -> ResponderEnvironment:
    """The maintenance function's settings: the same two variables as the responder's."""
    return read_responder(environ)
