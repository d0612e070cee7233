"""The EventBridge patterns generated from the catalogue: a real (small) matcher for the features they use, every
pattern within EventBridge's size limit, every positive sample delivered, everyday noise mostly not.

moto's ``test_event_pattern`` is a stub, so ``matches`` below implements EventBridge's rules for exact values,
``prefix``, ``suffix``, ``anything-but``, ``exists`` and ``equals-ignore-case``
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html): fields are ANDed,
the values of a field ORed, an array in the event matches when any element does, ``null`` matches a null value
but not a missing field, and only ``exists: false`` matches a missing one. Anything else raises, so a pattern
using a feature the matcher does not know fails the test rather than passing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from riposte.sources.cloudtrail import CloudTrailSource, patterns
from riposte.sources.cloudtrail.detections.base import DETECTIONS, Detection, calls
from riposte.sources.cloudtrail.record import API_CALL, CONSOLE_SIGN_IN
from tests.unit.test_cloudtrail_catalogue import EVERYDAY, Case, positive_cases

_MISSING = object()


def _anything_but(argument: Any, values: list[Any]) -> bool:
    if isinstance(argument, Mapping):
        ((inner, text),) = argument.items()
        assert inner == "prefix", f"unsupported anything-but operator {inner}"
        return any(isinstance(v, str) and not v.startswith(text) for v in values)
    banned = argument if isinstance(argument, list) else [argument]
    return any(v not in banned for v in values)


OPERATORS = {
    "prefix": lambda arg, values: any(isinstance(v, str) and v.startswith(arg) for v in values),
    "suffix": lambda arg, values: any(isinstance(v, str) and v.endswith(arg) for v in values),
    "equals-ignore-case": lambda arg, values: any(isinstance(v, str) and v.lower() == arg.lower() for v in values),
    "anything-but": _anything_but,
}


def _leaf(matcher: Any, value: Any) -> bool:
    present = value is not _MISSING
    values = value if isinstance(value, list) else [value]
    if not isinstance(matcher, Mapping):
        # Exact match; JSON true must not equal 1.
        return present and any(v == matcher and type(v) is type(matcher) for v in values)
    ((operator, argument),) = matcher.items()
    if operator == "exists":
        return present is argument
    if operator not in OPERATORS:
        raise ValueError(f"pattern operator {operator!r} is not supported by this matcher")
    return present and bool(OPERATORS[operator](argument, values))


def _only_absence(rule: Mapping[str, Any]) -> bool:
    """A nested rule against a missing object matches only when every leaf accepts absence."""
    return all(
        _only_absence(v) if isinstance(v, Mapping) else any(_leaf(m, _MISSING) for m in v) for v in rule.values()
    )


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if value is _MISSING:
                if not _only_absence(rule):
                    return False
            elif not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif not isinstance(rule, list):
            raise ValueError(f"pattern field {key!r} must be an array or an object")
        elif not any(_leaf(matcher, value) for matcher in rule):
            return False
    return True


def delivered(event: Mapping[str, Any]) -> bool:
    return any(matches(p, event) for p in CloudTrailSource.event_patterns)


# --- the matcher itself --------------------------------------------------------------------------------------
EVENT = {
    "source": "aws.iam",
    "detail-type": API_CALL,
    "detail": {
        "eventName": "AttachUserPolicy",
        "readOnly": False,
        "errorCode": None,
        "tags": ["a", "b"],
        "userIdentity": {"type": "Root"},
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.iam"]}, True),
        ({"source": ["aws.s3", "aws.iam"]}, True),
        ({"source": ["aws.s3"]}, False),
        ({"source": ["aws.iam"], "detail-type": ["GuardDuty Finding"]}, False),
        ({"detail": {"eventName": [{"prefix": "Attach"}]}}, True),
        ({"detail": {"eventName": [{"prefix": "Detach"}]}}, False),
        ({"detail": {"eventName": [{"suffix": "Policy"}]}}, True),
        ({"detail": {"eventName": [{"suffix": "Role"}]}}, False),
        ({"detail": {"eventName": [{"equals-ignore-case": "attachuserpolicy"}]}}, True),
        ({"detail": {"eventName": [{"anything-but": "AttachUserPolicy"}]}}, False),
        ({"detail": {"eventName": [{"anything-but": ["StopLogging"]}]}}, True),
        ({"detail": {"eventName": [{"anything-but": {"prefix": "Att"}}]}}, False),
        ({"detail": {"readOnly": [False]}}, True),
        ({"detail": {"readOnly": [True]}}, False),
        ({"detail": {"readOnly": [0]}}, False),  # JSON false is not 0
        ({"detail": {"errorCode": [None]}}, True),  # null matches a null value...
        ({"detail": {"vpcEndpointId": [None]}}, False),  # ...not a missing field
        ({"detail": {"vpcEndpointId": [{"exists": False}]}}, True),
        ({"detail": {"errorCode": [{"exists": True}]}}, True),
        ({"detail": {"eventName": [{"exists": False}]}}, False),
        ({"detail": {"tags": ["b"]}}, True),  # an array matches when any element does
        ({"detail": {"tags": ["c"]}}, False),
        ({"detail": {"userIdentity": {"type": ["Root"]}}}, True),
        ({"detail": {"userIdentity": {"type": ["IAMUser"]}}}, False),
        ({"detail": {"userIdentity": {"invokedBy": [{"exists": False}]}}}, True),
        ({"detail": {"sessionContext": {"x": [{"exists": False}]}}}, True),  # missing parent, absence accepted
        ({"detail": {"sessionContext": {"x": ["y"]}}}, False),
        ({"detail": {"eventName": {"nested": ["x"]}}}, False),  # an object rule never matches a scalar
    ],
)
def test_the_matcher_follows_eventbridge_semantics(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_the_matcher_refuses_features_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="numeric"):
        matches({"detail": {"readOnly": [{"numeric": [">", 0]}]}}, EVENT)
    with pytest.raises(ValueError, match="array or an object"):
        matches({"source": "aws.iam"}, EVENT)


# --- the generated patterns ----------------------------------------------------------------------------------
def test_every_pattern_fits_eventbridge_and_names_its_sources_and_detail_types() -> None:
    assert len(CloudTrailSource.event_patterns) >= 10
    for pattern in CloudTrailSource.event_patterns:
        assert patterns.size(pattern) <= patterns.MAX_PATTERN_CHARS, pattern
        assert pattern["source"]
        assert all(isinstance(s, str) and s.startswith("aws.") for s in pattern["source"])
        assert set(pattern["detail-type"]) <= {API_CALL, CONSOLE_SIGN_IN}
        assert pattern["detail"]["userIdentity"]["invokedBy"] == [{"exists": False}], "calls by services stay out"
        json.dumps(pattern)  # CloudFormation takes it as JSON


def test_one_pattern_in_one_piece_would_exceed_the_limit_which_is_why_they_are_split() -> None:
    names = sorted({n for _, d in DETECTIONS for listen in d.listens for n in listen.names})
    everything = {"source": ["aws.x"], "detail-type": [API_CALL], "detail": {"eventName": names}}
    assert patterns.size(everything) > patterns.MAX_PATTERN_CHARS


def test_a_service_with_too_many_names_is_split_into_patterns_that_each_fit() -> None:
    names = tuple(f"SomeRatherLongApiOperationName{n:03d}" for n in range(120))

    class Many(Detection):
        name = "many"
        listens = (calls("example.amazonaws.com", *names),)

    pieces = patterns.generate([Many])
    assert len(pieces) > 1
    assert all(patterns.size(p) <= patterns.MAX_PATTERN_CHARS for p in pieces)
    assert sorted(n for p in pieces for n in p["detail"]["eventName"]) == sorted(names)


def test_read_only_calls_get_patterns_of_their_own_marked_for_the_rule_state() -> None:
    read_only = [p for p in CloudTrailSource.event_patterns if patterns.read_only(p)]
    declared = {n for _, d in DETECTIONS for listen in d.listens if listen.read_only for n in listen.names}
    assert {n for p in read_only for n in p["detail"]["eventName"]} == declared
    assert declared >= {"GetPasswordData", "GetSecretValue", "GetParameters"}
    others = [p for p in CloudTrailSource.event_patterns if not patterns.read_only(p)]
    assert not declared & {n for p in others for n in p["detail"].get("eventName", []) if isinstance(n, str)}


def test_routes_admit_cloudtrail_events_of_guardduty_and_sign_in_but_not_findings() -> None:
    routes = CloudTrailSource.routes()
    assert ("aws.guardduty", API_CALL) in routes
    assert ("aws.signin", CONSOLE_SIGN_IN) in routes
    assert ("aws.cloudwatch", API_CALL) in routes  # monitoring.amazonaws.com's EventBridge source
    assert ("aws.guardduty", "GuardDuty Finding") not in routes


@pytest.mark.parametrize("case", positive_cases(), ids=lambda c: c.label)
def test_every_positive_sample_is_delivered_by_the_generated_patterns(case: Case) -> None:
    for envelope in (*case.history, case.event):
        assert delivered(envelope), f"{case.label}: {envelope['detail']['eventName']} would never reach Riposte"


def test_everyday_activity_mostly_stays_out_of_the_rules() -> None:
    everyday = [c.event for c in EVERYDAY]
    stays_out = [e for e in everyday if not delivered(e)]
    # The patterns can tell reads, tags, service-made calls and unrelated APIs apart; a sign-in is a sign-in.
    assert len(stays_out) >= len(everyday) - 1, [e["detail"]["eventName"] for e in everyday if delivered(e)]
