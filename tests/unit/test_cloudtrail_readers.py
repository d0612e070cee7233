"""The small readers detections share: CloudTrail's shapes (one-or-many, wrapped EC2 lists, policy documents as
objects, JSON or URL-encoded strings), IAM's action wildcards, and the detection context."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from riposte.sources.cloudtrail import policy
from riposte.sources.cloudtrail.detections.base import Context
from riposte.sources.cloudtrail.record import (
    Record,
    account_of,
    as_list,
    dig,
    eventbridge_source,
    flag,
    function_name,
    ip_literal,
    items,
    parse_document,
)

DOCUMENT = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}


def test_one_or_many_and_wrapped_lists() -> None:
    assert as_list(None) == []
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list([1, 2]) == [1, 2]
    assert items({"x": {"items": [1]}}, "x") == [1]
    assert items({"x": {}}, "x") == []  # EC2 logs an empty list as {}
    assert dig({"a": {"b": 2}}, "a", "b") == 2
    assert dig({"a": "text"}, "a", "b") is None


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), ("false", False), ("FALSE", False), (0, None), (None, None)]
)
def test_booleans_as_logged_or_as_fixtures_stringify_them(value: object, expected: bool | None) -> None:
    assert flag(value) is expected


@pytest.mark.parametrize(
    "value",
    [
        DOCUMENT,
        json.dumps(DOCUMENT),
        json.dumps(DOCUMENT, indent=4),
        quote(json.dumps(DOCUMENT)),
        # Lower-case escapes, and an encoded newline before the document.
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(json.dumps(DOCUMENT))),
        quote("\n" + json.dumps(DOCUMENT, indent=2)),
    ],
)
def test_policy_documents_are_read_whatever_their_encoding(value: object) -> None:
    assert parse_document(value) == DOCUMENT
    assert policy.grants_admin(parse_document(value))


@pytest.mark.parametrize("value", ["", "not json", "[1]", None, 7, "%", "%7B%22Version", quote("[1]")])
def test_unreadable_documents_read_as_empty(value: object) -> None:
    assert parse_document(value) == {}


def test_identifiers() -> None:
    assert account_of("arn:aws:iam::444455556666:root") == "444455556666"
    assert account_of("arn:aws-us-gov:sts::444455556666:assumed-role/r/s") == "444455556666"
    assert account_of("444455556666") == "444455556666"
    assert account_of("*") is None
    assert account_of("s3.amazonaws.com") is None
    assert function_name("arn:aws:lambda:eu-west-1:111122223333:function:f:prod") == "f"
    assert function_name("f") == "f"
    assert eventbridge_source("monitoring.amazonaws.com") == "aws.cloudwatch"
    assert eventbridge_source("route53resolver.amazonaws.com") == "aws.route53resolver"
    assert ip_literal("2a0d:5600:24::10") == "2a0d:5600:24::10"
    assert ip_literal("AWS Internal") is None
    assert ip_literal("cloudformation.amazonaws.com") is None


def test_iam_action_wildcards_and_not_action() -> None:
    assert policy.grants({"Action": "s3:Put*"}, "s3:PutObject")
    assert policy.grants({"Action": ["*"]}, "sts:AssumeRole")
    assert policy.grants({"Action": "STS:assumerole"}, "sts:AssumeRole")
    assert not policy.grants({"Action": "s3:GetObject"}, "s3:PutObject")
    assert policy.grants({"NotAction": "iam:*"}, "s3:PutObject")
    assert not policy.grants({"NotAction": "s3:*"}, "s3:PutObject")


def test_a_star_principal_is_public_unless_a_condition_pins_the_caller() -> None:
    public = {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject"}
    assert policy.is_public(public)
    assert not policy.is_public({**public, "Effect": "Deny"})
    pinned = {**public, "Condition": {"ForAnyValue:StringEquals": {"AWS:PrincipalOrgID": "o-1"}}}
    assert not policy.is_public(pinned)
    unrelated = {**public, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert policy.is_public(unrelated)


@pytest.mark.parametrize(
    ("error_code", "attempted"),
    [
        (None, False),
        ("AccessDenied", True),
        ("Client.UnauthorizedOperation", True),
        ("ConstraintViolationException", True),
        ("InvalidHomeRegionException", True),
        ("BadRequestException", True),
        ("TrailNotFoundException", False),
        ("ResourceNotFoundException", False),
        ("NoSuchBucket", False),
        ("Client.InvalidGroup.NotFound", False),
        ("ThrottlingException", False),
        ("Client.RequestLimitExceeded", False),
        ("ServiceUnavailableException", False),
        ("InternalFailure", False),
    ],
)
def test_a_failed_call_is_an_attempt_unless_its_target_is_missing_or_aws_failed(
    error_code: str | None, attempted: bool
) -> None:
    record = Record.model_validate({"eventSource": "s", "eventName": "n", "eventID": "e", "errorCode": error_code})
    assert record.attempted is attempted
    assert record.succeeded is (error_code is None)


def test_trusted_accounts_and_corporate_networks() -> None:
    record = Record.model_validate(
        {"eventSource": "s", "eventName": "n", "eventID": "e", "recipientAccountId": "1" * 12}
    )
    default = Context()
    assert default.trusted("1" * 12, record)
    assert not default.trusted("4" * 12, record)
    assert Context.of(trusted_accounts=("4" * 12,)).trusted("4" * 12, record)
    # Unknown public addresses are outside; AWS itself and private (VPC endpoint) addresses are inside.
    assert not default.corporate("45.13.105.20")
    assert default.corporate("AWS Internal")
    assert default.corporate("cloudformation.amazonaws.com")
    assert default.corporate("10.0.3.7")
    office = Context.of(corporate_cidrs=("81.2.69.0/24",))
    assert office.corporate("81.2.69.142")
    assert not office.corporate("81.2.70.1")
