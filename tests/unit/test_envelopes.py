"""Transport envelopes are unwrapped in one place, with errors a user can act on."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from riposte.sources import InputError, envelopes
from tests.conftest import load_event


def logs_payload(messages: list[object], **extra: object) -> bytes:
    body = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/riposte/flowlogs",
        "logStream": "eni-0123456789abcdef0-all",
        "subscriptionFilters": ["riposte"],
        "logEvents": [{"id": str(n), "timestamp": 1_700_000_000_000 + n, "message": m} for n, m in enumerate(messages)],
        **extra,
    }
    return gzip.compress(json.dumps(body).encode())


def test_eventbridge_envelope_gives_source_detail_type_and_detail() -> None:
    envelope = envelopes.eventbridge(load_event("c2_activity_outbound.json"))
    assert (envelope.source, envelope.detail_type) == ("aws.guardduty", "GuardDuty Finding")
    assert envelope.detail["type"] == "Backdoor:EC2/C&CActivity.B"
    assert envelope.account == "123456789012"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"detail-type": "x", "detail": {}}, "source"),
        ({"source": "aws.guardduty", "detail": {}}, "detail-type"),
        ({"source": "aws.guardduty", "detail-type": "x", "detail": []}, "detail"),
    ],
)
def test_a_broken_eventbridge_envelope_names_the_field(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(InputError, match=f"not a valid EventBridge event: {problem}"):
        envelopes.eventbridge(raw)


def test_cloudwatch_logs_data_decodes_and_counts_what_it_cannot_read() -> None:
    data = base64.b64encode(logs_payload(["line one", "line two", None])).decode()
    logs = envelopes.awslogs({"awslogs": {"data": data}})
    assert logs.messages == ("line one", "line two")
    assert logs.timestamps == (1_700_000_000_000, 1_700_000_000_001)
    assert (logs.owner, logs.log_group, logs.malformed) == ("123456789012", "/riposte/flowlogs", 1)


def test_kinesis_records_carry_the_same_gzip_payload() -> None:
    payload = logs_payload(["a b c"])
    record = {"kinesis": {"data": base64.b64encode(payload).decode()}}
    assert envelopes.cloudwatch_logs(envelopes.kinesis_data(record)).messages == ("a b c",)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({}, "no 'awslogs.data'"),
        ({"awslogs": {"data": "!!!"}}, "not base64"),
        ({"awslogs": {"data": base64.b64encode(b"plain").decode()}}, "not gzip"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"[1]")).decode()}}, "must be a JSON object"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"{")).decode()}}, "not valid JSON"),
    ],
)
def test_bad_cloudwatch_logs_events_are_input_errors(event: dict[str, object], problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        envelopes.awslogs(event)


def test_sns_and_sqs_and_api_gateway_envelopes() -> None:
    message = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:alarms",
        "Message": '{"AlarmName": "x"}',
        "Timestamp": "2026-11-29T10:00:00.000Z",
    }
    assert envelopes.sns(message).message == '{"AlarmName": "x"}'
    with pytest.raises(InputError, match="TopicArn"):
        envelopes.sns({k: v for k, v in message.items() if k != "TopicArn"})
    assert envelopes.sqs_body({"body": "{}"}) == "{}"
    with pytest.raises(InputError):
        envelopes.sqs_body({"body": None})
    assert envelopes.api_gateway_body({"body": "e30=", "isBase64Encoded": True}) == b"{}"
    assert envelopes.api_gateway_body({"body": "{}"}) == b"{}"
    assert envelopes.api_gateway_body({}) == b""
    with pytest.raises(InputError, match="not base64"):
        envelopes.api_gateway_body({"body": "%%%", "isBase64Encoded": True})


def test_json_object_refuses_other_shapes_and_deep_nesting() -> None:
    assert envelopes.json_object('{"a": 1}', "body") == {"a": 1}
    with pytest.raises(InputError, match="must be a JSON object, got list"):
        envelopes.json_object("[]", "body")
    with pytest.raises(InputError, match="nested too deeply"):
        envelopes.json_object("[" * 100_000 + "]" * 100_000, "body")
