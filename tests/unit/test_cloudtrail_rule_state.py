"""Which CloudTrail rules must be created in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: in state
ENABLED, EventBridge never delivers a read-only management event (Get*, List*, Describe*)."""

from __future__ import annotations

from riposte.sources.cloudtrail import patterns
from riposte.sources.cloudtrail.record import API_CALL
from riposte.sources.cloudtrail.source import CloudTrailSource

ROOT = {"userIdentity": {"type": ["Root"], "invokedBy": [{"exists": False}]}}


def test_patterns_of_read_only_events_and_of_any_call_need_every_management_event() -> None:
    named = {"eventSource": ["iam.amazonaws.com"], "eventName": ["CreateUser"]}
    assert patterns.needs_every_management_event({"detail-type": [API_CALL], "detail": {**named, "readOnly": [True]}})
    assert patterns.needs_every_management_event({"detail-type": [API_CALL], "detail": ROOT})  # root's ListBuckets
    assert not patterns.needs_every_management_event({"detail-type": [API_CALL], "detail": named})
    assert not patterns.needs_every_management_event(
        {"detail-type": [API_CALL], "detail": {**named, "readOnly": [False]}}
    )
    # Sign-ins and findings are not management events of the API.
    assert not patterns.needs_every_management_event(
        {"detail-type": ["AWS Console Sign In via CloudTrail"], "detail": ROOT}
    )
    assert not patterns.needs_every_management_event({"detail-type": [API_CALL]})


def test_the_catalogue_s_root_and_refused_call_rules_receive_read_only_calls() -> None:
    wanted = [p for p in CloudTrailSource.event_patterns if patterns.needs_every_management_event(p)]
    assert any(p["detail"].get("userIdentity", {}).get("type") == ["Root"] for p in wanted)
    assert any("errorCode" in p["detail"] for p in wanted)
    assert all(patterns.read_only(p) or "eventName" not in p["detail"] for p in wanted)
    # Services attackers use with stolen root credentials, beyond those the catalogue names.
    sources = {s for p in wanted for s in p["source"]}
    assert {"aws.bedrock", "aws.ses", "aws.sts"} <= sources
