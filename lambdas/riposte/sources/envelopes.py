"""Transport envelopes, unwrapped in one place before any source sees its payload.

EventBridge events, SQS message bodies, SNS notifications, Kinesis records, API Gateway proxy requests and
CloudWatch Logs subscription data each carry a payload; these functions check the wrapper and hand the payload
on, raising ``InputError`` with a reason a user can act on. Sources then validate their own payload.

Why not Powertools' parser envelopes: importing ``aws_lambda_powertools.utilities.parser.models`` loads all of
its ~50 models and botocore (measured: +150-250 ms), and ``riposte score`` must stay free of an AWS SDK. The
models below follow Powertools' (``EventBridgeModel``, ``SnsNotificationModel``, ``CloudWatchLogsDecode``) for
the fields Riposte reads.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riposte.sources.base import InputError

EVENTBRIDGE_FIELDS = frozenset({"detail-type", "source", "detail"})


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors())


class EventBridgeEvent(BaseModel):
    """An EventBridge event (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    version: str = "0"
    id: str = ""
    detail_type: str = Field(alias="detail-type", min_length=1)
    source: str = Field(min_length=1)
    account: str = ""
    time: str = ""
    region: str = ""
    resources: tuple[str, ...] = ()
    detail: dict[str, Any]


def is_eventbridge(raw: Mapping[str, Any]) -> bool:
    """True when ``raw`` looks like an EventBridge event (rather than a bare payload)."""
    return "detail" in raw and ("detail-type" in raw or "source" in raw)


def eventbridge(raw: Mapping[str, Any]) -> EventBridgeEvent:
    try:
        return EventBridgeEvent.model_validate(raw)
    except ValidationError as error:
        raise InputError(f"not a valid EventBridge event: {_problems(error)}") from None


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object carried by a transport (an SQS body, an SNS message...)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{what} is not valid JSON: {error}") from None
    except RecursionError:
        raise InputError(f"{what} is nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def sqs_body(record: Mapping[str, Any]) -> str:
    """The body of one record of an SQS -> Lambda event."""
    body = record.get("body")
    if not isinstance(body, str):
        raise InputError("SQS record has no string 'body'")
    return body


class SnsNotification(BaseModel):
    """An SNS message as delivered to HTTP(S) endpoints, SQS (raw delivery off) and Lambda."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    type: str = Field(alias="Type")
    message_id: str = Field(alias="MessageId")
    topic_arn: str = Field(alias="TopicArn")
    message: str = Field(alias="Message")
    timestamp: str = Field(alias="Timestamp")
    subject: str | None = Field(default=None, alias="Subject")
    signature_version: str | None = Field(default=None, alias="SignatureVersion")
    signature: str | None = Field(default=None, alias="Signature")
    signing_cert_url: str | None = Field(default=None, alias="SigningCertURL")
    subscribe_url: str | None = Field(default=None, alias="SubscribeURL")
    token: str | None = Field(default=None, alias="Token")
    unsubscribe_url: str | None = Field(default=None, alias="UnsubscribeURL")


def sns(raw: Mapping[str, Any]) -> SnsNotification:
    try:
        return SnsNotification.model_validate(raw)
    except ValidationError as error:
        raise InputError(f"not a valid SNS message: {_problems(error)}") from None


def kinesis_data(record: Mapping[str, Any]) -> bytes:
    """The decoded data of one record of a Kinesis Data Streams -> Lambda event."""
    kinesis = record.get("kinesis")
    data = kinesis.get("data") if isinstance(kinesis, Mapping) else None
    if not isinstance(data, str):
        raise InputError("Kinesis record has no 'kinesis.data'")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error as error:
        raise InputError(f"Kinesis record data is not base64: {error}") from None


def api_gateway_body(event: Mapping[str, Any]) -> bytes:
    """The raw body of an API Gateway proxy request (REST v1 or HTTP v2), base64-decoded when flagged."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InputError("request body is not a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise InputError(f"request body is flagged base64 but is not base64: {error}") from None
    return body.encode("utf-8", errors="surrogateescape")


@dataclass(frozen=True, slots=True)
class LogsData:
    """A CloudWatch Logs subscription payload after decoding. ``messages`` stay plain strings: a flow-log
    payload carries up to ~27k of them, and one model per line would cost more than parsing them."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    messages: tuple[str, ...]
    timestamps: tuple[int, ...]
    # Log events without a string message: counted by the caller, never silently dropped.
    malformed: int = 0


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"CloudWatch Logs data is not gzip: {error}") from None


def cloudwatch_logs(data: str | bytes) -> LogsData:
    """Decode ``awslogs.data`` (base64 of gzip of JSON), or the gzip bytes a Kinesis record carries."""
    if isinstance(data, str):
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise InputError(f"CloudWatch Logs data is not base64: {error}") from None
    payload = json_object(_gunzip(data), "CloudWatch Logs data")
    events = payload.get("logEvents", [])
    if not isinstance(events, list):
        raise InputError("CloudWatch Logs data: 'logEvents' is not a list")
    messages: list[str] = []
    stamps: list[int] = []
    malformed = 0
    for item in events:
        message = item.get("message") if isinstance(item, dict) else None
        if isinstance(message, str):
            messages.append(message)
            stamp = item.get("timestamp")
            stamps.append(stamp if isinstance(stamp, int) else 0)
        else:
            malformed += 1
    filters = payload.get("subscriptionFilters", [])
    return LogsData(
        message_type=str(payload.get("messageType", "")),
        owner=str(payload.get("owner", "")),
        log_group=str(payload.get("logGroup", "")),
        log_stream=str(payload.get("logStream", "")),
        subscription_filters=tuple(str(f) for f in filters) if isinstance(filters, list) else (),
        messages=tuple(messages),
        timestamps=tuple(stamps),
        malformed=malformed,
    )


def awslogs(event: Mapping[str, Any]) -> LogsData:
    """The payload of a CloudWatch Logs -> Lambda subscription event (``{"awslogs": {"data": ...}}``)."""
    inner = event.get("awslogs")
    data = inner.get("data") if isinstance(inner, Mapping) else None
    if not isinstance(data, str):
        raise InputError("not a CloudWatch Logs subscription event: no 'awslogs.data'")
    return cloudwatch_logs(data)
