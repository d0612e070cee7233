"""The handlers' environment: variable names, handler paths and the models that read them.

The stack imports this module to set what the functions read, so it must stay light: no Powertools, no boto3,
nothing of the runtime (a test checks that synthesizing imports none of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from riposte.core import config as cfg

CONFIG = cfg.ENV_VAR  # the validated configuration, as JSON

TABLE = "RIPOSTE_TABLE"  # the state table's name

RESPONDER_HANDLER = "riposte.handlers.responder.handler"
MAINTENANCE_HANDLER = "riposte.handlers.maintenance.handler"  # expiry and reconciliation, on a schedule

WEBHOOKS_HANDLER = "riposte.handlers.webhooks.handler"

# The flow-log function: CloudWatch Logs subscription events, or Kinesis batches of the same payloads.
FLOWLOGS_HANDLER = "riposte.handlers.flowlogs.handler"
# "dynamodb" (the default: windows and baselines in the state table) or "memory": in-memory state and, without
# RIPOSTE_CONFIG, the default configuration (benchmarks and local trials; nothing leaves the process).
STATE = "RIPOSTE_STATE"
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


class FlowLogsEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    state: Literal["dynamodb", "memory"] = Field(default="dynamodb", alias=STATE)
    config: str = Field(default="", alias=CONFIG)
    table: str = Field(default="", alias=TABLE)

    @model_validator(mode="after")
    def _table_state(self) -> Self:
        if self.state == "dynamodb" and (len(self.config) < 2 or len(self.table) < 3):
            raise ValueError(f"{CONFIG} and {TABLE} must be set unless {STATE}=memory")
        return self


def read_flowlogs(environ: Mapping[str, str]) -> FlowLogsEnvironment:
    """The flow-log function's settings; a missing or invalid variable is a ``ValueError`` naming it."""
    try:
        return FlowLogsEnvironment.model_validate(dict(environ))
    except ValidationError as error:
        problems = "; ".join(
            f"{e['loc'][0]}: {e['msg']}" if e["loc"] else str(e["msg"]).removeprefix("Value error, ")
            for e in error.errors()
        )
        raise ValueError(problems) from None
