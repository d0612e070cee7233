"""One CloudTrail record, parsed once at the edge, and the small readers detections share.

Every field is optional in CloudTrail (records grew from eventVersion 1.0 to 1.11); only what identifies a record
(``eventSource``, ``eventName``, ``eventID``) is required. ``requestParameters`` and ``responseElements`` are
service-specific, in the service's own casing, so they stay plain mappings read through ``dig``/``as_list``.
Reference: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_CALL = "AWS API Call via CloudTrail"
CONSOLE_SIGN_IN = "AWS Console Sign In via CloudTrail"
# With the other detail-types CloudTrail delivers to EventBridge: read (by the CLI), never routed to the responder.
DETAIL_TYPES = frozenset(
    {API_CALL, CONSOLE_SIGN_IN, "AWS Service Event via CloudTrail", "AWS Console Action via CloudTrail"}
)
# CloudTrail Insights (unusual API call or error rates): recognized, so that they are named for what they are, and
# refused, since no detection reads them.
INSIGHT = "AWS Insight via CloudTrail"
INSIGHT_EVENT_TYPE = "AwsCloudTrailInsight"

# EventBridge's "source" is "aws." + the first label of eventSource, except CloudWatch's.
EVENTBRIDGE_SOURCE_EXCEPTIONS = {"monitoring.amazonaws.com": "aws.cloudwatch"}

ACCOUNT_ID = re.compile(r"^\d{12}$")
# Error codes of a failed call that is no attempt at a change: the target does not exist, or the service throttled
# or failed (matched case-insensitively anywhere in the code: "TrailNotFoundException", "NoSuchBucket",
# "Client.InvalidGroup.NotFound", "ThrottlingException", "ServiceUnavailable", "InternalFailure").
INCIDENTAL_ERRORS = re.compile(
    r"NotFound|NoSuch|DoesNotExist|Throttl|TooManyRequests|RequestLimitExceeded|ServiceUnavailable|"
    r"InternalError|InternalFailure|InternalServer|Unavailable",
    re.IGNORECASE,
)
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


def eventbridge_source(event_source: str) -> str:
    return EVENTBRIDGE_SOURCE_EXCEPTIONS.get(event_source, "aws." + event_source.split(".", 1)[0])


def as_list(value: Any) -> list[Any]:
    """XML-derived (S3) and EC2 parameters hold one item as an object and several as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def dig(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None as soon as a step is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def items(value: Any, *path: str) -> list[Any]:
    """EC2's list shape ``{"items": [...]}`` (an empty list is logged as ``{}``)."""
    return as_list(dig(value, *path, "items"))


def flag(value: Any) -> bool | None:
    """A boolean as CloudTrail logs it (true/false), or as fixtures often stringify it; None when neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def function_name(value: Any) -> str:
    """A Lambda function given by name or ARN (``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]``)."""
    name = text(value)
    return name.split(":function:", 1)[1].split(":", 1)[0] if ":function:" in name else name


def parse_document(value: Any) -> dict[str, Any]:
    """A policy document as CloudTrail logs it: an object (S3 bucketPolicy), a JSON string (IAM, KMS, ECR, STS)
    or a URL-encoded JSON string (some IAM fields). Unreadable documents read as empty."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str) or not value.strip():
        return {}
    # Some IAM fields arrive URL-encoded ("%7B%22Version..." or lower-case "%7b"), possibly after encoded spaces.
    raw = unquote(value) if value.lstrip()[:1] == "%" else value
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def account_of(principal: Any) -> str | None:
    """The account of an IAM/STS ARN or a bare 12-digit account id; None for anything else."""
    if not isinstance(principal, str):
        return None
    if ACCOUNT_ID.match(principal):
        return principal
    match = _ARN_ACCOUNT.match(principal)
    return match.group(1) if match else None


def ip_literal(value: str | None) -> str | None:
    """``value`` when it is an IPv4/IPv6 literal; None for "AWS Internal", service hostnames and the like."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class _M(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class SessionIssuer(_M):
    type: str | None = None
    principal_id: str | None = None
    arn: str | None = None
    account_id: str | None = None
    user_name: str | None = None


class SessionAttributes(_M):
    mfa_authenticated: str | bool | None = None
    creation_date: str | None = None


class SessionContext(_M):
    session_issuer: SessionIssuer | None = None
    attributes: SessionAttributes | None = None
    source_identity: str | None = None


class OnBehalfOf(_M):
    user_id: str | None = None
    identity_store_arn: str | None = None


class UserIdentity(_M):
    type: str | None = None
    principal_id: str | None = None
    arn: str | None = None
    account_id: str | None = None
    access_key_id: str | None = None
    user_name: str | None = None
    invoked_by: str | None = None
    identity_provider: str | None = None
    session_context: SessionContext | None = None
    on_behalf_of: OnBehalfOf | None = None

    @property
    def issuer_arn(self) -> str | None:
        issuer = self.session_context.session_issuer if self.session_context else None
        return issuer.arn if issuer else None


class Record(_M):
    event_source: str = Field(min_length=1)
    event_name: str = Field(min_length=1)
    event_id: str = Field(alias="eventID", min_length=1)
    event_version: str | None = None
    event_time: str | None = None
    event_type: str | None = None
    aws_region: str | None = None
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")
    user_agent: str | None = None
    user_identity: UserIdentity = UserIdentity()
    error_code: str | None = None
    error_message: str | None = None
    request_parameters: Any = None
    response_elements: Any = None
    additional_event_data: Any = None
    read_only: Any = None
    resources: Any = None
    recipient_account_id: str | None = None
    shared_event_id: str | None = Field(default=None, alias="sharedEventID")
    vpc_endpoint_id: str | None = None

    # -- what was asked and answered -----------------------------------------------------------------
    @property
    def params(self) -> Mapping[str, Any]:
        return self.request_parameters if isinstance(self.request_parameters, Mapping) else {}

    @property
    def response(self) -> Mapping[str, Any]:
        return self.response_elements if isinstance(self.response_elements, Mapping) else {}

    @property
    def extra(self) -> Mapping[str, Any]:
        return self.additional_event_data if isinstance(self.additional_event_data, Mapping) else {}

    def param(self, *path: str) -> Any:
        return dig(self.params, *path)

    def param_document(self, *path: str) -> dict[str, Any]:
        """A policy document among the parameters (a JSON string, or an object for S3)."""
        return parse_document(self.param(*path))

    # -- outcome -------------------------------------------------------------------------------------
    @property
    def console_login(self) -> str | None:
        """ "Success" or "Failure" for ConsoleLogin records (a failed one has no errorCode)."""
        value = self.response.get("ConsoleLogin")
        return value if isinstance(value, str) else None

    @property
    def denied(self) -> bool:
        """Refused for want of permission; the CIS 4.1 filter (``AccessDenied*``, ``*UnauthorizedOperation``)."""
        code = self.error_code or ""
        return code.startswith("AccessDenied") or code.endswith("UnauthorizedOperation")

    @property
    def attempted(self) -> bool:
        """Failed, yet an attempt worth knowing: refused for want of permission, or stopped by something else (an
        organization constraint, the wrong home region, a validation error): whoever called it meant to. Not when
        the target does not exist or AWS itself failed (throttled, unavailable): nothing was in the way of a change
        but the caller's own mistake or the service."""
        code = self.error_code or ""
        if not code or self.console_login == "Failure":
            return False
        return self.denied or not INCIDENTAL_ERRORS.search(code)

    @property
    def succeeded(self) -> bool:
        return not self.error_code and self.console_login != "Failure"

    # -- who and where -------------------------------------------------------------------------------
    @property
    def our_account(self) -> str | None:
        """The account whose log this is (a foreign caller's own account is ``userIdentity.accountId``)."""
        return self.recipient_account_id or self.user_identity.account_id

    @property
    def caller_user_name(self) -> str | None:
        """The calling IAM user's name; None for any other kind of caller."""
        identity = self.user_identity
        return identity.user_name if identity.type == "IAMUser" else None

    @property
    def actor(self) -> str | None:
        """Who called, as allowlists and containment name it: the role behind an assumed-role session, else
        the principal's ARN (or the best identifier the record has)."""
        identity = self.user_identity
        if identity.type == "AssumedRole" and identity.issuer_arn:
            return identity.issuer_arn
        if identity.arn:
            return identity.arn
        if identity.type == "IdentityCenterUser" and identity.on_behalf_of:
            return identity.on_behalf_of.user_id
        if identity.type == "AWSAccount":
            return identity.principal_id
        return identity.user_name

    @property
    def session(self) -> str | None:
        """The acting session (an assumed-role session ARN), finer than ``actor``: what bursts count by."""
        return self.user_identity.arn or self.actor

    @property
    def ip(self) -> str | None:
        return ip_literal(self.source_ip_address)

    @property
    def long_term_key(self) -> bool:
        return (self.user_identity.access_key_id or "").startswith("AKIA")

    @property
    def timestamp(self) -> float | None:
        if not self.event_time:
            return None
        try:
            return datetime.fromisoformat(self.event_time.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None


def kms_key(r: Record) -> str:
    """The KMS key a call acted on: its ARN from ``resources`` when the record carries it, else the key id."""
    arns = [text(dig(resource, "ARN")) for resource in as_list(r.resources) if isinstance(resource, Mapping)]
    return next((a for a in arns if a), "") or text(r.param("keyId"))
