"""The responder's way in: only EventBridge events whose source AWS itself sets, dispatched on source and
detail-type. The CLI stays lenient (bare findings, get-findings output)."""

from __future__ import annotations

import pytest

from riposte import sources
from riposte.sources import InputError
from tests.conftest import load_event


def test_a_guardduty_finding_from_eventbridge_is_accepted() -> None:
    event = sources.from_eventbridge(load_event("c2_activity_outbound.json"))
    assert (event.source, event.type) == ("guardduty", "Backdoor:EC2/C&CActivity.B")


def test_a_bare_finding_is_refused_on_the_lambda_path_but_read_by_the_cli() -> None:
    bare = load_event("c2_activity_outbound.json")["detail"]
    with pytest.raises(InputError, match="not an EventBridge event"):
        sources.from_eventbridge(bare)
    assert sources.normalize(bare).type == "Backdoor:EC2/C&CActivity.B"


@pytest.mark.parametrize("source", ["custom.guardduty", "guardduty", "aws-guardduty", "xaws.guardduty"])
def test_a_source_that_aws_does_not_set_is_refused(source: str) -> None:
    forged = {**load_event("c2_activity_outbound.json"), "source": source}
    with pytest.raises(InputError, match="not set by AWS"):
        sources.from_eventbridge(forged)


def test_guardduty_api_calls_recorded_by_cloudtrail_are_not_read_as_findings() -> None:
    raw = {
        **load_event("c2_activity_outbound.json"),
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventSource": "guardduty.amazonaws.com", "eventName": "UpdateDetector"},
    }
    with pytest.raises(InputError) as caught:
        sources.from_eventbridge(raw)
    assert "guardduty: invalid finding" not in str(caught.value)


def test_an_unknown_detail_type_from_a_known_service_is_refused() -> None:
    raw = {**load_event("c2_activity_outbound.json"), "detail-type": "GuardDuty Malware Protection Object Scan Result"}
    with pytest.raises(InputError, match="no source handles"):
        sources.from_eventbridge(raw)
