"""Addresses from hostile input: strict literals only, and which fields hold them.

``ipaddress`` alone is too forgiving for text an attacker may have shaped (it takes ``"1.2.3.4 "``-free input
but also IPv6 zone ids, and other parsers in the path may read ``010.1.1.1`` as octal or ``3232235777`` as an
integer). So a value is first held to a narrow alphabet and a canonical shape, then parsed, then written back in
its canonical form: whatever reaches the guard and the NACL is exactly one address or network, spelled one way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from riposte.core import guard
from riposte.sources.webhooks.errors import WebhookError

# IPv4 dotted quad: four decimal octets, no leading zeros, ASCII digits only ([0-9], not \d which takes any
# Unicode digit). IPv6: hex groups and colons, optionally an embedded dotted quad. A prefix: 1-3 ASCII digits.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_IPV6 = rf"[0-9A-Fa-f:]{{2,39}}|[0-9A-Fa-f:]{{2,29}}{_IPV4}"
_PREFIX = r"(?:0|[1-9][0-9]{0,2})"
_LITERAL = re.compile(rf"(?P<address>{_IPV4}|{_IPV6})(?:/(?P<prefix>{_PREFIX}))?")
MAX_LITERAL = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# An IPv4 peer seen through a dual-stack socket is written ``::ffff:91.240.118.50``; its packets are IPv4, so
# only its IPv4 address can be blocked. The guard owns that mapping (``block_address``, ``EMBEDDINGS``).
_MAPPED = next(e for e in guard.EMBEDDINGS if e.prefix == ipaddress.IPv6Network("::ffff:0:0/96"))


def _why_not(text: str) -> str:
    """A short reason a user can act on, for a value that is not a strict literal."""
    if text != text.strip() or any(c.isspace() for c in text):
        return "contains whitespace"
    if not text.isascii():
        return "contains non-ASCII characters"
    if re.search(r"[^0-9A-Fa-f:./]", text):
        return "is not an IP address or CIDR (only digits, hex letters, '.', ':' and '/' may appear)"
    if re.fullmatch(r"[0-9]+", text):
        return "is an integer, not a dotted address"
    # A zero-led decimal in a dotted quad or a prefix (IPv6 groups may be zero-padded: that is not this).
    if re.search(r"(?:^|[.:])0[0-9]+\.|\.0[0-9]|/0[0-9]", text):
        return "has a leading zero"
    return "is not a valid IP address or CIDR"


def parse(text: object, *, min_prefix_v4: int = 24, min_prefix_v6: int = 48) -> str:
    """The canonical spelling of ``text``, a strict IP address or CIDR literal; ``WebhookError`` (400) otherwise.

    A network whose prefix is the full length is written as its address (``45.13.105.20/32`` is
    ``45.13.105.20``); an IPv4-mapped address or network as the IPv4 one (``::ffff:91.240.118.50`` is
    ``91.240.118.50``). A network broader than ``min_prefix_v4``/``min_prefix_v6`` or with host bits set is
    refused: both are almost always mistakes, and the first could deny a whole provider."""
    if not isinstance(text, str):
        raise WebhookError(400, "bad_address", f"an address must be a string, got {type(text).__name__}")
    shown = text[:MAX_LITERAL] + ("..." if len(text) > MAX_LITERAL else "")
    match = _LITERAL.fullmatch(text) if len(text) <= MAX_LITERAL and text.isascii() else None
    if match is None:
        raise WebhookError(400, "bad_address", f"{shown!r} {_why_not(text)}")
    try:
        address = ipaddress.ip_address(match["address"])
    except ValueError:
        raise WebhookError(400, "bad_address", f"{shown!r} {_why_not(text)}") from None
    if match["prefix"] is None:
        return guard.block_address(str(address))  # canonical, and an IPv4-mapped address as the IPv4 one
    prefix = int(match["prefix"])
    if prefix > address.max_prefixlen:
        raise WebhookError(400, "bad_address", f"{shown!r}: prefix /{prefix} is longer than /{address.max_prefixlen}")
    try:
        network: Network = ipaddress.ip_network(f"{address}/{prefix}", strict=True)
    except ValueError:
        raise WebhookError(400, "bad_address", f"{shown!r} has host bits set; did you mean a network?") from None
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED.prefix):
        network = _MAPPED.ipv4_network(network)  # the IPv4 network it spells, judged by the IPv4 limits
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    narrowest = min_prefix_v4 if network.version == 4 else min_prefix_v6
    if network.prefixlen < narrowest:
        raise WebhookError(
            400,
            "bad_address",
            f"{shown!r} is broader than /{narrowest}, the broadest network allowed for IPv{network.version}",
        )
    return str(network)


# What a log line often holds instead of a bare address: the peer with its port (``45.13.104.10:51234``,
# ``[2a0d:5600:24::10]:443``). The port is 1-5 ASCII digits; what is left must still be a strict literal.
_WITH_PORT = re.compile(r"(?P<v4>[0-9.]{7,15}):[0-9]{1,5}|\[(?P<v6>[0-9A-Fa-f:.]{2,45})\](?::[0-9]{1,5})?")
# Values that say "no address" (nginx and Apache log ``-`` for a missing field): nothing to read, nothing wrong.
NO_ADDRESS = frozenset({"", "-"})


def without_port(text: str) -> str | None:
    """The address part of ``ip:port`` or ``[v6]:port`` (or ``[v6]``), else None; the caller parses it strictly."""
    match = _WITH_PORT.fullmatch(text) if len(text) <= MAX_LITERAL else None
    if match is None:
        return None
    return match["v4"] or match["v6"]


def field_key(name: str) -> str:
    """Field names compare ignoring case, '_', '-', '.' and a leading '@' (Datadog log attributes): ``srcAddr``,
    ``src_addr`` and ``@srcaddr`` are one field."""
    return re.sub(r"[_.\-]", "", name.removeprefix("@").lower())


def field_keys(names: Iterable[str]) -> frozenset[str]:
    return frozenset(field_key(n) for n in names)


def host_part(value: str) -> str | None:
    """The address in one of our host values (``10.0.3.17:9100``, ``[2a0d::1]:443``, ``10.0.3.17``), if any; used
    only to make sure our own hosts are never taken for attackers."""
    candidate = value.strip()
    if candidate.startswith("[") and "]" in candidate:
        candidate = candidate[1 : candidate.index("]")]
    elif candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return guard.block_address(str(address))  # compared with attackers, which are unmapped the same way
