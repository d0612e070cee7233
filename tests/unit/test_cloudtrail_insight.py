"""CloudTrail Insights events (unusual call or error rates) are named for what they are and not evaluated, bare or
in their EventBridge envelope, rather than failing as a malformed API call record."""

from __future__ import annotations

from typing import Any

import pytest

from riposte import sources
from riposte.sources import InputError

INSIGHT: dict[str, Any] = {
    "eventVersion": "1.08",
    "eventTime": "2026-11-29T10:00:00Z",
    "awsRegion": "us-east-1",
    "eventID": "a9edc959-9488-4790-be0f-05d60e56b547",
    "eventType": "AwsCloudTrailInsight",
    "recipientAccountId": "123456789012",
    "sharedEventID": "12edc982-3348-4794-83d3-a3db26525049",
    "insightDetails": {
        "state": "Start",
        "eventSource": "iam.amazonaws.com",
        "eventName": "DeleteAccessKey",
        "insightType": "ApiCallRateInsight",
        "insightContext": {"statistics": {"baseline": {"average": 0.01}, "insight": {"average": 12.0}}},
    },
    "eventCategory": "Insight",
}
ENVELOPE = {
    "version": "0",
    "id": "3a1c5d8e-0000-4000-8000-000000000001",
    "detail-type": "AWS Insight via CloudTrail",
    "source": "aws.iam",
    "account": "123456789012",
    "time": "2026-11-29T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": INSIGHT,
}


@pytest.mark.parametrize("raw", [INSIGHT, ENVELOPE], ids=["bare", "eventbridge"])
def test_an_insights_event_is_named_and_not_evaluated(raw: dict[str, Any]) -> None:
    with pytest.raises(InputError, match=r"CloudTrail Insights event \(ApiCallRateInsight iam.amazonaws.com "):
        sources.normalize(raw)
    with pytest.raises(InputError, match="not evaluated"):
        sources.normalize(raw, "cloudtrail")


def test_an_api_call_record_is_still_read() -> None:
    call = {k: v for k, v in INSIGHT.items() if k not in ("insightDetails", "eventCategory", "sharedEventID")}
    call |= {"eventType": "AwsApiCall", "eventSource": "iam.amazonaws.com", "eventName": "ListUsers"}
    call |= {
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/a", "accountId": "123456789012"}
    }
    assert sources.normalize(call).source == "cloudtrail"
