"""Sign SNS messages with a throwaway certificate, the way SNS signs them (after the research notes'
sns_fixture_signer.py): tests serve the certificate from a fake ``HttpGet`` for the message's SigningCertURL."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRM_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


def string_to_sign(message: dict[str, Any]) -> bytes:
    keys = NOTIFICATION_KEYS if message["Type"] == "Notification" else CONFIRM_KEYS
    return "".join(f"{k}\n{message[k]}\n" for k in keys if message.get(k) is not None).encode()


def _certificate(key: rsa.RSAPrivateKey, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Signer:
    key_size: int = 2048
    key: rsa.RSAPrivateKey = field(init=False)
    pem: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=self.key_size)
        self.pem = _certificate(self.key, "sns.amazonaws.com (TEST ONLY)")

    def sign(self, message: dict[str, Any], version: str | None = None, cert_url: str = CERT_URL) -> dict[str, Any]:
        signed = dict(message, SigningCertURL=cert_url)
        if version is not None:
            signed["SignatureVersion"] = version
        algorithm = hashes.SHA1() if signed["SignatureVersion"] == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


class FakeHttp:
    """The ``HttpGet`` port: serves given URLs, records every GET, raises FetchError for anything else."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.requests: list[str] = []

    def get(self, url: str) -> bytes:
        from riposte.sources.webhooks.sns import FetchError

        self.requests.append(url)
        if url not in self.pages:
            raise FetchError(f"HTTP 404 for {url}")
        return self.pages[url]
