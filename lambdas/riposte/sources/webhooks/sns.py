"""Amazon SNS over HTTPS: message signatures, subscription confirmation, and CloudWatch alarms.

SNS cannot send a bearer token; it signs every message instead. Verification follows the AWS SDKs' validators:
the signing certificate is fetched only over https from a host matching ``sns.<region>.amazonaws.com(.cn)``
(and cached per URL), the string to sign is rebuilt from the *decoded* fields in their fixed order, and the
signature is checked with SHA1 (``SignatureVersion`` 1) or SHA256 (2). The body's signed ``Type`` and
``TopicArn`` are trusted, never the ``x-amz-sns-*`` headers, and only topics listed in
``webhooks.sns_topic_arns`` are accepted. A ``SubscriptionConfirmation`` is confirmed by a GET of its
``SubscribeURL`` only after all of that, and only to the same kind of host, for the same topic.

A notification's ``Message`` is read as a CloudWatch alarm when it is one (``NewStateValue`` ALARM acts, OK
resolves, INSUFFICIENT_DATA is neither and yields nothing), as a JSON object's address fields otherwise, and
plain text yields one event without an address: free text is never mined for addresses to block.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, urlsplit

from riposte.core.config import Config
from riposte.sources import envelopes
from riposte.sources.base import InputError
from riposte.sources.webhooks import rsa
from riposte.sources.webhooks.base import (
    ADAPTERS,
    Adapter,
    Alert,
    Found,
    MapContext,
    iso_time,
    text_of,
    unique,
)
from riposte.sources.webhooks.body import embedded_json
from riposte.sources.webhooks.errors import WebhookError

HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
NOTIFICATION = "Notification"
SUBSCRIPTION = "SubscriptionConfirmation"
UNSUBSCRIPTION = "UnsubscribeConfirmation"
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIPTION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
HASHES = {"1": "sha1", "2": "sha256"}
MAX_CACHED_CERTIFICATES = 16


class FetchError(Exception):
    """An HTTP GET that did not return 200 with a body (network, status, size)."""


class HttpGet(Protocol):
    """The one HTTP call the front door makes: GET an https URL (no redirects), return the body or raise
    ``FetchError``. Implemented with urllib3 in the handler; tests pass a fake or a local server."""

    def get(self, url: str) -> bytes: ...


def aws_url(url: str, *, pem: bool = False) -> bool:
    """True for ``https://sns.<region>.amazonaws.com[.cn]/...`` on the default port, without credentials; with
    ``pem``, only a path ending ``.pem``. The parsed host is checked, never a substring."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.hostname is not None
        and HOST.fullmatch(parts.hostname) is not None
        and parts.netloc == parts.hostname
        and port is None
        and (not pem or parts.path.endswith(".pem"))
    )


def string_to_sign(message: envelopes.SnsNotification) -> bytes:
    by_name = {
        "Message": message.message,
        "MessageId": message.message_id,
        "Subject": message.subject,
        "SubscribeURL": message.subscribe_url,
        "Timestamp": message.timestamp,
        "Token": message.token,
        "TopicArn": message.topic_arn,
        "Type": message.type,
    }
    parts = [f"{name}\n{by_name[name]}\n" for name in SIGNED_FIELDS[message.type] if by_name[name] is not None]
    return "".join(parts).encode("utf-8", errors="surrogatepass")


def parse(payload: Mapping[str, Any]) -> envelopes.SnsNotification:
    try:
        message = envelopes.sns(payload)
    except InputError as error:
        raise WebhookError(400, "bad_payload", str(error)) from None
    if message.type not in SIGNED_FIELDS:
        raise WebhookError(400, "bad_payload", f"unknown SNS message type {message.type!r}")
    return message


def _unauthorized(message: str) -> WebhookError:
    return WebhookError(401, "unauthorized", f"SNS signature: {message}")


class SnsVerifier:
    """Signature checks and subscription confirmation, with signing certificates cached per URL (per container)."""

    def __init__(self, http: HttpGet) -> None:
        self.http = http
        self._keys: dict[str, rsa.PublicKey] = {}
        self._lock = threading.Lock()

    def _key(self, url: str) -> rsa.PublicKey:
        with self._lock:
            cached = self._keys.get(url)
        if cached is not None:
            return cached
        try:
            key = rsa.public_key(self.http.get(url))
        except FetchError as error:
            raise WebhookError(
                503, "certificate_unavailable", f"could not fetch the SNS signing certificate: {error}"
            ) from None
        except rsa.CertificateError as error:
            raise _unauthorized(f"signing certificate unusable: {error}") from None
        with self._lock:
            if len(self._keys) >= MAX_CACHED_CERTIFICATES:
                self._keys.pop(next(iter(self._keys)))
            self._keys[url] = key
        return key

    def verify(self, message: envelopes.SnsNotification, config: Config) -> None:
        """Raise ``WebhookError`` unless ``message`` is signed by SNS and its topic is allowed."""
        hash_name = HASHES.get(message.signature_version or "")
        if hash_name is None:
            raise _unauthorized(f"SignatureVersion must be '1' or '2', got {message.signature_version!r}")
        if not message.signature or not message.signing_cert_url:
            raise _unauthorized("message is not signed")
        if not aws_url(message.signing_cert_url, pem=True):
            raise _unauthorized("SigningCertURL is not an https .pem URL on an sns.<region>.amazonaws.com host")
        if message.type != NOTIFICATION and (message.subscribe_url is None or message.token is None):
            raise _unauthorized(f"{message.type} lacks SubscribeURL or Token")
        try:
            signature = base64.b64decode(message.signature, validate=True)
        except binascii.Error:
            raise _unauthorized("Signature is not base64") from None
        key = self._key(message.signing_cert_url)
        if not rsa.verify(key, string_to_sign(message), signature, hash_name):
            raise _unauthorized("signature does not match the message")
        allowed = config.webhooks.sns_topic_arns
        if message.topic_arn not in allowed:
            hint = "" if allowed else " (webhooks.sns_topic_arns is empty)"
            raise WebhookError(403, "topic_not_allowed", f"SNS topic {message.topic_arn} is not allowed{hint}")

    def confirm(self, message: envelopes.SnsNotification) -> None:
        """GET the verified message's ``SubscribeURL``, which must be on an SNS host and for the same topic."""
        url = message.subscribe_url or ""
        query = parse_qs(urlsplit(url).query) if aws_url(url) else {}
        if query.get("Action") != ["ConfirmSubscription"] or query.get("TopicArn") != [message.topic_arn]:
            raise WebhookError(400, "bad_payload", "SubscribeURL is not an SNS ConfirmSubscription URL for this topic")
        try:
            self.http.get(url)
        except FetchError as error:
            raise WebhookError(502, "confirmation_failed", f"could not confirm the subscription: {error}") from None


def _cloudwatch(alarm: Mapping[str, Any], message: envelopes.SnsNotification, ctx: MapContext) -> list[Alert]:
    state = text_of(alarm.get("NewStateValue"))
    if state not in ("ALARM", "OK"):
        return []  # INSUFFICIENT_DATA (or anything new): neither an attack nor its end
    found = Found(ctx)
    trigger: Mapping[str, Any] = alarm["Trigger"] if isinstance(alarm.get("Trigger"), dict) else {}
    dimensions: list[tuple[str, Any]] = [("Trigger.Dimensions", d) for d in trigger.get("Dimensions") or []]
    for index, metric in enumerate(trigger.get("Metrics") or []):
        stat = metric.get("MetricStat") if isinstance(metric, dict) else None
        inner = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(inner, dict):
            dimensions += [(f"Trigger.Metrics[{index}].Dimensions", d) for d in inner.get("Dimensions") or []]
    for where, dimension in dimensions:
        if isinstance(dimension, dict):
            name = text_of(dimension.get("name", dimension.get("Name")))
            found.consider(name, dimension.get("value", dimension.get("Value")), f"Message.{where}.{name}")
    arn = text_of(alarm.get("AlarmArn"))
    arn_parts = arn.split(":")
    name = text_of(alarm.get("AlarmName")) or "CloudWatch alarm"
    default = ctx.config.webhooks.default_severity
    return [
        Alert(
            tool="sns",
            key=("cloudwatch", arn or name),
            occurrence=text_of(alarm.get("StateChangeTime")) or message.message_id,
            name=name,
            title=text_of(alarm.get("AlarmDescription")) or name,
            description=text_of(alarm.get("NewStateReason")),
            resolved=state == "OK",
            severity=ctx.default_severity,
            severity_note=f"CloudWatch alarm in {state} gives no severity: default {default}",
            offenders=found.offenders(),
            skipped=tuple(found.skipped),
            instances=unique(found.instances),
            account=text_of(alarm.get("AWSAccountId")) or None,
            region=arn_parts[3] if len(arn_parts) > 3 and arn_parts[3] else None,
            time=iso_time(alarm.get("StateChangeTime")),
            evidence=(
                ("Alarm", name),
                ("State", f"{text_of(alarm.get('OldStateValue'))} -> {state}"),
                ("Metric", f"{text_of(trigger.get('Namespace'))} {text_of(trigger.get('MetricName'))}".strip()),
                *found.host_evidence(),
                ("Alarm ARN", arn),
                ("Topic", message.topic_arn),
            ),
        )
    ]


def _message(message: envelopes.SnsNotification) -> Any:
    if not message.message.lstrip().startswith("{"):
        return message.message
    try:
        return embedded_json(message.message, "Message")
    except WebhookError as error:
        if error.code == "bad_json":
            return message.message  # text that merely starts with a brace
        raise


def notification_alerts(message: envelopes.SnsNotification, ctx: MapContext) -> list[Alert]:
    content = _message(message)
    if isinstance(content, dict) and "AlarmName" in content and "NewStateValue" in content:
        return _cloudwatch(content, message, ctx)
    found = Found(ctx)
    if isinstance(content, dict):
        for name, value in content.items():
            found.consider(name, value, f"Message.{name}")
    text = message.message if isinstance(content, str) else ""
    subject = message.subject or ""
    return [
        Alert(
            tool="sns",
            key=("notification", message.topic_arn, message.message_id),
            name=subject or "SNS notification",
            title=subject or text.split("\n", 1)[0] or "SNS notification",
            description=text,
            resolved=False,
            severity=ctx.default_severity,
            severity_note=f"SNS notification gives no severity: default {ctx.config.webhooks.default_severity}",
            offenders=found.offenders(),
            skipped=tuple(found.skipped),
            instances=unique(found.instances),
            time=iso_time(message.timestamp),
            evidence=(*found.host_evidence(), ("Topic", message.topic_arn), ("Message id", message.message_id)),
        )
    ]


@ADAPTERS.register
class SnsAdapter(Adapter):
    name: ClassVar[str] = "sns"
    label: ClassVar[str] = "Amazon SNS"
    auth: ClassVar[str] = "sns"

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        hooks = config.webhooks
        if hooks.enabled and cls.name in hooks.tools and not hooks.sns_topic_arns:
            return [
                "webhooks.sns_topic_arns: the sns tool is enabled but no topic is allowed; list the topic ARNs, "
                "or leave 'sns' out of webhooks.tools"
            ]
        return []

    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        """Map a notification without checking its signature (``riposte score``; the front door verifies first)."""
        message = parse(payload)
        if message.type != NOTIFICATION:
            raise WebhookError(400, "not_an_alert", f"an SNS {message.type} carries no alert")
        return notification_alerts(message, ctx)
