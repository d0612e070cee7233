"""RSA PKCS#1 v1.5 signature verification with the standard library, for SNS message signatures.

Why not a crypto library: the Lambda runtime and the Powertools layer ship none, and this package must stay
pure. Verification needs only public data and one modular exponentiation; it is done the way RFC 8017 (8.2.2)
recommends: rebuild the whole expected encoded message (``00 01 FF.. 00 DigestInfo hash``) and compare it byte
for byte, never parse the decrypted block (which is what made Bleichenbacher's 2006 forgery possible). The
certificate is read just far enough to take its RSA public key; its trust comes from where it was fetched
(an AWS SNS host over verified TLS), exactly as the AWS SDKs' validators do. Tests cross-check against the
``cryptography`` package.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

# DER DigestInfo prefixes (RFC 8017 9.2, note 1) for the hashes SNS uses: SignatureVersion 1 and 2.
DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
}
RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")  # OID 1.2.840.113549.1.1.1
MIN_MODULUS_BITS = 2048
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----")


class CertificateError(ValueError):
    """Not a PEM X.509 certificate holding an RSA public key of at least 2048 bits."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    n: int
    e: int

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8


def _read(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``offset``."""
    if offset + 2 > len(data):
        raise CertificateError("truncated DER")
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise CertificateError("unsupported DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise CertificateError("truncated DER")
    return tag, start, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found = []
    offset = start
    while offset < end:
        element = _read(data, offset)
        found.append(element)
        offset = element[2]
    return found


def _sequence(data: bytes, element: tuple[int, int, int], what: str, at_least: int) -> list[tuple[int, int, int]]:
    tag, start, end = element
    if tag != 0x30:
        raise CertificateError(f"{what} is not a SEQUENCE")
    children = _children(data, start, end)
    if len(children) < at_least:
        raise CertificateError(f"{what} is too short")
    return children


def _integer(data: bytes, element: tuple[int, int, int]) -> int:
    tag, start, end = element
    if tag != 0x02 or start == end:
        raise CertificateError("expected an INTEGER")
    return int.from_bytes(data[start:end], "big", signed=True)


def public_key(pem: bytes) -> PublicKey:
    """The RSA public key of the first certificate in ``pem``."""
    match = _PEM.search(pem)
    if match is None:
        raise CertificateError("no PEM certificate found")
    try:
        der = base64.b64decode(b"".join(match[1].split()), validate=True)
    except binascii.Error:
        raise CertificateError("certificate is not valid base64") from None
    certificate = _sequence(der, _read(der, 0), "certificate", 3)
    tbs = _sequence(der, certificate[0], "tbsCertificate", 6)
    # version [0] is optional; then serial, signature, issuer, validity, subject, subjectPublicKeyInfo.
    fields = tbs[1:] if tbs[0][0] == 0xA0 else tbs
    if len(fields) < 6:
        raise CertificateError("tbsCertificate is too short")
    spki = _sequence(der, fields[5], "subjectPublicKeyInfo", 2)
    algorithm = _sequence(der, spki[0], "algorithm", 1)
    tag, start, end = algorithm[0]
    if tag != 0x06 or der[start:end] != RSA_ENCRYPTION:
        raise CertificateError("the certificate's key is not an RSA key")
    tag, start, end = spki[1]
    if tag != 0x03 or start == end or der[start] != 0:
        raise CertificateError("subjectPublicKey is not a BIT STRING")
    key = _sequence(der, _read(der, start + 1), "RSAPublicKey", 2)
    n, e = _integer(der, key[0]), _integer(der, key[1])
    if n.bit_length() < MIN_MODULUS_BITS or e < 3 or e % 2 == 0:
        raise CertificateError(f"RSA key too weak or malformed ({n.bit_length()} bits, e={e})")
    return PublicKey(n, e)


def verify(key: PublicKey, message: bytes, signature: bytes, hash_name: str) -> bool:
    """True when ``signature`` is ``key``'s PKCS#1 v1.5 signature of ``message`` with ``hash_name``."""
    prefix = DIGEST_INFO[hash_name]
    k = key.size
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    encoded = pow(s, key.e, key.n).to_bytes(k, "big")
    digest_info = prefix + hashlib.new(hash_name, message).digest()
    padding = k - len(digest_info) - 3
    if padding < 8:
        return False
    expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info
    return hmac.compare_digest(encoded, expected)
