"""Central refusal of targets Riposte must never act on, applied to every plan before anything runs.

Blocking the wrong thing is the failure users fear most: our own VPC, a NAT, a partner. Private, shared
(CGNAT), loopback, link-local, multicast, unspecified and reserved addresses are refused, as is anything in
the configured allowlist. The documentation ranges (TEST-NET 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)
are deliberately *not* protected: GuardDuty's sample findings use them, and they are unroutable anyway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTECTED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), why)
    for cidr, why in (
        ("0.0.0.0/8", "unspecified/this-network"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private (unique local, RFC 4193)"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    )
)


def refusal(target: str, allowlist: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``target`` (an IP address) must not be acted on, or None when it may be."""
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return f"{target!r} is not an IP address"
    # ::ffff:10.0.0.1 is 10.0.0.1: check the address under both spellings, against both families.
    forms = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        forms.append(address.ipv4_mapped)
    for form in forms:
        for network, why in PROTECTED:
            if form.version == network.version and form in network:
                return f"{form} is {why} ({network})"
    for form in forms:
        for allowed in allowlist:
            if form.version == allowed.version and form in allowed:
                return f"{form} is allowlisted ({allowed})"
    return None
