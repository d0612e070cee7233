"""SNS message signatures (SignatureVersion 1 and 2), certificate URLs, topics and subscription confirmation,
checked against messages signed with a throwaway certificate by the ``cryptography`` package."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import given
from hypothesis import strategies as st

from riposte.core.config import Config
from riposte.engine import setup
from riposte.sources import envelopes
from riposte.sources.webhooks import FrontDoor, Request, rsa
from riposte.sources.webhooks.auth import ToolSecret
from riposte.sources.webhooks.errors import WebhookError
from riposte.sources.webhooks.sns import MAX_CACHED_CERTIFICATES, SnsVerifier, aws_url, string_to_sign
from tests.webhooks_samples import payload
from tests.webhooks_samples.signing import CERT_URL, FakeHttp, Signer

TOPIC = "arn:aws:sns:us-east-1:123456789012:riposte-alerts"
SIGNER_PEM = Signer().pem


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture
def http(signer: Signer) -> FakeHttp:
    return FakeHttp({CERT_URL: signer.pem})


def config(topics: tuple[str, ...] = (TOPIC,)) -> Config:
    return setup.parse({"webhooks": {"sns_topic_arns": list(topics)}})


def message(data: dict[str, Any]) -> envelopes.SnsNotification:
    return envelopes.sns(data)


@pytest.mark.parametrize(
    ("sample", "version"),
    [
        ("sns_notification_cloudwatch_alarm.json", "1"),
        ("sns_notification_cloudwatch_alarm.json", "2"),
        ("sns_notification_plain.json", "1"),  # no Subject: left out of the string to sign
        ("sns_notification_plain.json", "2"),
        ("sns_subscription_confirmation.json", "1"),
        ("sns_subscription_confirmation.json", "2"),
    ],
)
def test_a_message_signed_by_sns_verifies(signer: Signer, http: FakeHttp, sample: str, version: str) -> None:
    signed = signer.sign(payload(sample), version)
    SnsVerifier(http).verify(message(signed), config())
    assert http.requests == [CERT_URL]


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "change",
    [
        {"Message": "tampered"},
        {"TopicArn": "arn:aws:sns:us-east-1:123456789012:other"},
        {"Subject": "added later"},
        {"Timestamp": "2026-05-12T09:15:05.544Z"},
        {"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.us-east-1.amazonaws.com/x", "Token": "t"},
    ],
)
def test_a_changed_message_does_not_verify(
    signer: Signer, http: FakeHttp, version: str, change: dict[str, str]
) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), version) | change
    with pytest.raises(WebhookError, match="signature does not match") as caught:
        SnsVerifier(http).verify(message(signed), config(topics=(TOPIC, change.get("TopicArn", TOPIC))))
    assert caught.value.status == 401


def test_a_signature_made_with_the_other_hash_does_not_verify(signer: Signer, http: FakeHttp) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "1") | {"SignatureVersion": "2"}
    with pytest.raises(WebhookError, match="does not match"):
        SnsVerifier(http).verify(message(signed), config())


def test_a_signature_by_another_key_does_not_verify(http: FakeHttp) -> None:
    signed = Signer().sign(payload("sns_notification_plain.json"), "2")
    with pytest.raises(WebhookError, match="does not match"):
        SnsVerifier(http).verify(message(signed), config())


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.txt",
        "https://evil@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://sns.us-east-1.amazonaws.com:443/x.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com.pem",
        "https://sns.us_east_1.amazonaws.com/x.pem",
        "https://SNS.us-east-1.amazonaws.com.evil.example/x.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.example/x.pem",
        "file:///etc/passwd.pem",
        "https://[::1]/x.pem",
    ],
)
def test_a_certificate_is_never_fetched_from_anywhere_but_an_sns_host(signer: Signer, http: FakeHttp, url: str) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2", cert_url=url)
    with pytest.raises(WebhookError, match="SigningCertURL") as caught:
        SnsVerifier(FakeHttp({url: signer.pem})).verify(message(signed), config())
    assert caught.value.status == 401
    assert not aws_url(url, pem=True)


@pytest.mark.parametrize(
    "url",
    [
        CERT_URL,
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_hosts_of_every_partition_are_accepted(url: str) -> None:
    assert aws_url(url, pem=True)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"SignatureVersion": "3"}, "SignatureVersion must be"),
        ({"SignatureVersion": None}, "SignatureVersion must be"),
        ({"Signature": ""}, "not signed"),
        ({"Signature": "***"}, "not base64"),
        ({"SigningCertURL": None}, "not signed"),
    ],
)
def test_unsigned_or_oddly_signed_messages_are_refused(
    signer: Signer, http: FakeHttp, change: dict[str, Any], why: str
) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2") | change
    with pytest.raises(WebhookError, match=why) as caught:
        SnsVerifier(http).verify(message(signed), config())
    assert caught.value.status == 401


def test_only_allowed_topics_pass_a_valid_signature(signer: Signer, http: FakeHttp) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2")
    with pytest.raises(WebhookError, match="is not allowed") as caught:
        SnsVerifier(http).verify(message(signed), config(topics=("arn:aws:sns:us-east-1:123456789012:other",)))
    assert caught.value.status == 403


def test_certificates_are_cached_per_url_and_the_cache_is_bounded(signer: Signer) -> None:
    urls = [f"https://sns.us-east-1.amazonaws.com/cert-{n}.pem" for n in range(MAX_CACHED_CERTIFICATES + 1)]
    http = FakeHttp(dict.fromkeys(urls, signer.pem))
    verifier = SnsVerifier(http)
    note = payload("sns_notification_plain.json")
    for _ in range(3):
        verifier.verify(message(signer.sign(note, "2", cert_url=urls[0])), config())
    assert http.requests == [urls[0]]
    for url in urls[1:]:
        verifier.verify(message(signer.sign(note, "2", cert_url=url)), config())
    verifier.verify(message(signer.sign(note, "2", cert_url=urls[0])), config())
    assert http.requests.count(urls[0]) == 2  # evicted by the newest, fetched again


def test_an_unreachable_certificate_is_a_503_so_sns_retries(signer: Signer) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2")
    with pytest.raises(WebhookError) as caught:
        SnsVerifier(FakeHttp({})).verify(message(signed), config())
    assert caught.value.status == 503


def test_an_unusable_certificate_is_refused(signer: Signer) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2")
    with pytest.raises(WebhookError, match="certificate unusable") as caught:
        SnsVerifier(FakeHttp({CERT_URL: b"<html>not a cert</html>"})).verify(message(signed), config())
    assert caught.value.status == 401


def test_the_string_to_sign_follows_the_documented_order() -> None:
    plain = message(payload("sns_notification_plain.json"))
    text = string_to_sign(plain).decode()
    assert text.startswith("Message\nGuardDuty-style custom alert")
    assert [line for line in text.split("\n")[::2] if line] == ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
    data = payload("sns_subscription_confirmation.json")
    order = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    expected = "".join(f"{name}\n{data[name]}\n" for name in order)
    assert string_to_sign(message(data)).decode() == expected


# The RSA verifier itself, against the cryptography package.


def test_rsa_verification_agrees_with_cryptography(signer: Signer) -> None:
    key = rsa.public_key(signer.pem)
    numbers = signer.key.public_key().public_numbers()
    assert (key.n, key.e) == (numbers.n, numbers.e)
    for name, algorithm in (("sha1", hashes.SHA1()), ("sha256", hashes.SHA256())):
        signature = signer.key.sign(b"payload", padding.PKCS1v15(), algorithm)
        assert rsa.verify(key, b"payload", signature, name)
        assert not rsa.verify(key, b"payload!", signature, name)
        flipped = bytes([signature[0] ^ 1]) + signature[1:]
        assert not rsa.verify(key, b"payload", flipped, name)
        assert not rsa.verify(key, b"payload", signature[1:], name)
        assert not rsa.verify(key, b"payload", b"\xff" * len(signature), name)
    sha256_signature = signer.key.sign(b"payload", padding.PKCS1v15(), hashes.SHA256())
    assert not rsa.verify(key, b"payload", sha256_signature, "sha1")


def test_a_pss_signature_is_not_a_pkcs1_signature(signer: Signer) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = signer.key.sign(b"payload", pss, hashes.SHA256())
    assert not rsa.verify(rsa.public_key(signer.pem), b"payload", signature, "sha256")


def test_weak_or_non_rsa_keys_are_refused() -> None:
    with pytest.raises(rsa.CertificateError, match="too weak"):
        rsa.public_key(Signer(key_size=1024).pem)
    import datetime

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(rsa.CertificateError, match="not an RSA key"):
        rsa.public_key(cert.public_bytes(serialization.Encoding.PEM))
    for junk in (
        b"",
        b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----",
        b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----",
    ):
        with pytest.raises(rsa.CertificateError):
            rsa.public_key(junk)


# The front door's SNS path.


def door(http: FakeHttp, topics: tuple[str, ...] = (TOPIC,)) -> FrontDoor:
    return FrontDoor(
        config(topics), credentials=lambda tool: ToolSecret("x" * 40), sns_verifier=SnsVerifier(http), clock=lambda: 0.0
    )


def send(front: FrontDoor, data: dict[str, Any]) -> Any:
    return front.receive(Request("sns", {"Content-Type": "text/plain; charset=UTF-8"}, json.dumps(data).encode()))


def test_a_verified_subscription_is_confirmed_by_a_get_of_its_subscribe_url(signer: Signer, http: FakeHttp) -> None:
    signed = signer.sign(payload("sns_subscription_confirmation.json"), "1")
    http.pages[signed["SubscribeURL"]] = b"<ConfirmSubscriptionResponse/>"
    reply = send(door(http), signed)
    assert (reply.status, reply.body["status"], reply.events) == (200, "subscription confirmed", ())
    assert http.requests == [CERT_URL, signed["SubscribeURL"]]


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "https://evil.example/?Action=ConfirmSubscription&TopicArn=" + TOPIC,
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC,
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&TopicArn=" + TOPIC,
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:x",
    ],
)
def test_a_subscribe_url_elsewhere_or_for_another_topic_is_never_fetched(
    signer: Signer, http: FakeHttp, subscribe_url: str
) -> None:
    signed = signer.sign(payload("sns_subscription_confirmation.json") | {"SubscribeURL": subscribe_url}, "2")
    reply = send(door(http), signed)
    assert reply.status == 400
    assert http.requests == [CERT_URL]


def test_an_unverified_or_unlisted_confirmation_is_never_fetched(signer: Signer, http: FakeHttp) -> None:
    unsigned = payload("sns_subscription_confirmation.json")  # the sample's placeholder signature
    assert send(door(http), unsigned).status == 401
    other = signer.sign(payload("sns_subscription_confirmation.json"), "1")
    assert send(door(http, topics=("arn:aws:sns:us-east-1:123456789012:other",)), other).status == 403
    assert all(url == CERT_URL for url in http.requests)


def test_a_failed_confirmation_is_a_502(signer: Signer, http: FakeHttp) -> None:
    signed = signer.sign(payload("sns_subscription_confirmation.json"), "1")
    reply = send(door(http), signed)
    assert (reply.status, reply.body["error"]) == (502, "confirmation_failed")


def test_a_verified_notification_is_accepted_and_mapped(signer: Signer, http: FakeHttp) -> None:
    reply = send(door(http), signer.sign(payload("sns_notification_cloudwatch_alarm.json"), "1"))
    assert reply.status == 202
    assert [e.entities.ips for e in reply.events] == [("45.13.105.20",)]


def test_the_headers_are_not_trusted_over_the_signed_body(signer: Signer, http: FakeHttp) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2")
    headers = {"x-amz-sns-message-type": "SubscriptionConfirmation", "x-amz-sns-topic-arn": "arn:aws:sns:us-east-1:1:x"}
    reply = door(http).receive(Request("sns", headers, json.dumps(signed).encode()))
    assert reply.status == 202


def test_an_unsubscribe_confirmation_is_verified_and_ignored(signer: Signer, http: FakeHttp) -> None:
    data = payload("sns_subscription_confirmation.json") | {"Type": "UnsubscribeConfirmation"}
    reply = send(door(http), signer.sign(data, "1"))
    assert (reply.status, reply.body["status"]) == (200, "ignored")
    assert http.requests == [CERT_URL]


def test_a_signature_that_is_not_base64_decodes_to_nothing_useful(signer: Signer, http: FakeHttp) -> None:
    signed = signer.sign(payload("sns_notification_plain.json"), "2")
    signed["Signature"] = base64.b64encode(b"\x00" * 256).decode()
    assert send(door(http), signed).status == 401


@given(st.binary(max_size=600))
def test_any_bytes_in_a_pem_either_parse_or_raise_a_certificate_error(der: bytes) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    with contextlib.suppress(rsa.CertificateError):
        rsa.public_key(pem)


@given(st.integers(min_value=0, max_value=2000))
def test_any_truncation_of_a_real_certificate_raises_a_certificate_error(cut: int) -> None:
    der = base64.b64decode(b"".join(SIGNER_PEM.split(b"\n")[1:-2]))
    truncated = der[: min(cut, len(der) - 1)]
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(truncated) + b"-----END CERTIFICATE-----\n"
    with pytest.raises(rsa.CertificateError):
        rsa.public_key(pem)
