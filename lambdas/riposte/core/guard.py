"""Central refusal of targets Riposte must never act on, applied to every plan before anything runs.

Blocking the wrong thing is the failure users fear most: our own VPC, a NAT, a partner, an address that is
not what it looks like. ``refusal`` refuses:

- **Anything that is not one strict address literal**: hostnames, networks (``10.0.0.0/8``), integer forms,
  leading zeros (``010.1.1.1``), whitespace, and IPv6 zone ids (``fe80::1%eth0``: the zone names one of *our*
  interfaces, and an ACL entry cannot carry it).
- **Every address that is not globally reachable** (``PROTECTED``): each block of the IANA IPv4 and IPv6
  Special-Purpose Address Registries (RFC 6890, updated by RFC 8190; the registries as updated in 2025) whose
  "Globally Reachable" is False, or N/A (Teredo, and the terminated 6to4-relay and ORCHID blocks: nothing to
  say they reach a single public host). The registry's own globally reachable blocks (``GLOBAL``) stay
  blockable, also where they sit inside a refused block (``192.0.0.9/32`` in ``192.0.0.0/24``, AS112 and
  ORCHIDv2 in ``2001::/23``); the most specific block decides, as the registry says ("unless allowed by a more
  specific allocation"). Two blocks are added that the special-purpose registries leave to others: IPv4
  multicast ``224.0.0.0/4`` (RFC 5771) and all IPv6 space outside global unicast ``2000::/3``, which RFC 4291
  and the IANA IPv6 address-space registry reserve to the IETF, multicast and link-local (no unicast host
  on the Internet has such an address, and a new use there needs an RFC). Unallocated space *inside*
  ``2000::/3`` is not refused: which /12s the RIRs hold changes over time, and no partner lives there.
- **The IPv4 address inside an IPv6 one** (``EMBEDDINGS``): IPv4-mapped ``::ffff:0:0/96`` (the IPv4 address
  itself, as an IPv6 socket spells it: judged and blocked as IPv4, see ``block_address``), the NAT64
  well-known prefix ``64:ff9b::/96`` (RFC 6052) and 6to4 ``2002::/16`` (RFC 3056) are exactly as reachable as
  the IPv4 address they carry: refused when it is, blockable when it is public. IPv4-compatible ``::/96``
  (deprecated by RFC 4291), IPv4-translated ``::ffff:0:0:0/96`` (RFC 2765) and local-use NAT64
  ``64:ff9b:1::/48`` (RFC 8215) never reach a public host and are always refused; their IPv4 address is
  checked first only so that the reason names the real problem (a private or allowlisted address).
- **The allowlist**, compared in both families: an allowlisted IPv4 partner is refused when it appears
  mapped, behind NAT64 or in 6to4, and an allowlist entry written as an IPv6 network inside one of those
  prefixes also covers the IPv4 addresses it carries (``::ffff:34.120.0.0/112`` is ``34.120.0.0/16``).

Reasons read ``<address> is <why> (<network>)`` or ``<address> is allowlisted (<entry>)``; for an embedded
address, ``, embedded in <IPv6 address> (<form>)`` follows.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_RESERVED_V6 = "reserved by the IETF, outside global unicast 2000::/3 (RFC 4291)"

# Every address in these blocks is refused, unless a more specific block in GLOBAL or EMBEDDINGS says
# otherwise. Rows follow the IANA special-purpose registries (Globally Reachable False or N/A), then the
# additions explained in the module docstring. Blocks nest; the most specific one names the reason.
PROTECTED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), why)
    for cidr, why in (
        # IPv4 Special-Purpose Address Registry
        ("0.0.0.0/8", '"this network" (RFC 791)'),
        ("0.0.0.0/32", '"this host on this network" (RFC 1122)'),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback (RFC 1122)"),
        ("169.254.0.0/16", "link-local (RFC 3927)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.0.0.0/29", "IPv4 service continuity prefix (DS-Lite, RFC 7335)"),
        ("192.0.0.8/32", "IPv4 dummy address (RFC 7600)"),
        ("192.0.0.170/32", "NAT64/DNS64 discovery (RFC 8880)"),
        ("192.0.0.171/32", "NAT64/DNS64 discovery (RFC 8880)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1, RFC 5737)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
        ("192.88.99.2/32", "6a44 relay anycast (RFC 6751)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2, RFC 5737)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3, RFC 5737)"),
        ("240.0.0.0/4", "reserved (former class E, RFC 1112)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919, RFC 8190)"),
        # IPv4 address space registry: multicast groups are not hosts
        ("224.0.0.0/4", "multicast (RFC 5771)"),
        # IPv6 Special-Purpose Address Registry
        ("::/128", "the unspecified address (RFC 4291)"),
        ("::1/128", "loopback (RFC 4291)"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("100:0:0:1::/64", "a dummy prefix (RFC 9780)"),
        ("2001::/23", "IETF protocol assignments (RFC 2928)"),
        ("2001::/32", "Teredo (RFC 4380)"),
        ("2001:2::/48", "benchmarking (RFC 5180)"),
        ("2001:10::/28", "deprecated ORCHID (RFC 4843)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("3fff::/20", "documentation (RFC 9637)"),
        ("5f00::/16", "SRv6 SIDs (RFC 9602)"),
        ("fc00::/7", "unique local (RFC 4193)"),
        ("fe80::/10", "link-local (RFC 4291)"),
        # IPv6 forms that carry an IPv4 address but never reach a public host (see EMBEDDINGS)
        ("::/96", "deprecated IPv4-compatible (RFC 4291)"),
        ("::ffff:0:0:0/96", "IPv4-translated (RFC 2765)"),
        # IANA IPv6 address space: everything outside global unicast 2000::/3
        ("::/8", _RESERVED_V6),
        ("100::/8", _RESERVED_V6),
        ("200::/7", _RESERVED_V6),
        ("400::/6", _RESERVED_V6),
        ("800::/5", _RESERVED_V6),
        ("1000::/4", _RESERVED_V6),
        ("4000::/3", _RESERVED_V6),
        ("6000::/3", _RESERVED_V6),
        ("8000::/3", _RESERVED_V6),
        ("a000::/3", _RESERVED_V6),
        ("c000::/3", _RESERVED_V6),
        ("e000::/4", _RESERVED_V6),
        ("f000::/5", _RESERVED_V6),
        ("f800::/6", _RESERVED_V6),
        ("fe00::/9", _RESERVED_V6),
        ("fec0::/10", "deprecated site-local (RFC 3879)"),
        ("ff00::/8", "multicast (RFC 4291)"),
    )
)

# Not refused by prefix alone. The registry's globally reachable blocks (those nested in a PROTECTED block
# must stay blockable; the others are listed so that the table is the registry), and the IPv6 prefixes that
# are exactly as reachable as the IPv4 address they carry (judged through EMBEDDINGS).
GLOBAL: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), name)
    for cidr, name in (
        ("192.0.0.9/32", "Port Control Protocol anycast (RFC 7723)"),
        ("192.0.0.10/32", "TURN anycast (RFC 8155)"),
        ("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
        ("192.52.193.0/24", "AMT (RFC 7450)"),
        ("192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"),
        ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
        ("64:ff9b::/96", "NAT64 well-known prefix (RFC 6052)"),
        ("2001:1::1/128", "Port Control Protocol anycast (RFC 7723)"),
        ("2001:1::2/128", "TURN anycast (RFC 8155)"),
        ("2001:1::3/128", "DNS-SD service registration protocol anycast (RFC 9665)"),
        ("2001:3::/32", "AMT (RFC 7450)"),
        ("2001:4:112::/48", "AS112-v6 (RFC 7535)"),
        ("2001:20::/28", "ORCHIDv2 (RFC 7343)"),
        ("2001:30::/28", "drone remote ID entity tags (RFC 9374)"),
        ("2002::/16", "6to4 (RFC 3056)"),
        ("2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"),
    )
)


@dataclass(frozen=True)
class Embedding:
    """An IPv6 prefix whose addresses carry an IPv4 address, in ``segments``: (first IPv6 bit, width) pairs,
    bits counted from the most significant, that hold the IPv4 address's bits in order."""

    prefix: ipaddress.IPv6Network
    name: str
    segments: tuple[tuple[int, int], ...]

    def ipv4(self, address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
        value, bits = 0, int(address)
        for start, width in self.segments:
            value = (value << width) | ((bits >> (128 - start - width)) & ((1 << width) - 1))
        return ipaddress.IPv4Address(value)

    def ipv4_network(self, network: ipaddress.IPv6Network) -> ipaddress.IPv4Network:
        """The IPv4 addresses carried by the addresses of ``network`` (a subnet of ``prefix``)."""
        length = sum(min(max(network.prefixlen - start, 0), width) for start, width in self.segments)
        return ipaddress.IPv4Network((self.ipv4(network.network_address), length), strict=False)


_LOW_32 = ((96, 32),)
EMBEDDINGS: tuple[Embedding, ...] = (
    Embedding(ipaddress.IPv6Network("::ffff:0:0/96"), "IPv4-mapped", _LOW_32),
    Embedding(ipaddress.IPv6Network("64:ff9b::/96"), "NAT64 well-known prefix, RFC 6052", _LOW_32),
    Embedding(ipaddress.IPv6Network("2002::/16"), "6to4, RFC 3056", ((16, 32),)),
    Embedding(ipaddress.IPv6Network("::/96"), "IPv4-compatible, RFC 4291", _LOW_32),
    Embedding(ipaddress.IPv6Network("::ffff:0:0:0/96"), "IPv4-translated, RFC 2765", _LOW_32),
    # RFC 6052 section 2.2, /48 prefix: bits 64..71 (the "u" octet) are zero and split the address.
    Embedding(ipaddress.IPv6Network("64:ff9b:1::/48"), "local-use NAT64, RFC 8215", ((48, 16), (72, 16))),
)


@dataclass(frozen=True)
class _Block:
    network: IPNetwork
    why: str | None  # None: not refused by prefix alone
    embedding: Embedding | None


class _Index:
    """Most specific block holding an address, by bisection over the boundaries of all blocks.

    Blocks are CIDR: any two nest or are disjoint, so between two consecutive boundaries one block (or none)
    is the most specific everywhere.
    """

    def __init__(self, blocks: Iterable[_Block]) -> None:
        blocks = list(blocks)
        edges = {0}
        for block in blocks:
            edges.update((int(block.network.network_address), int(block.network.broadcast_address) + 1))
        self.starts = sorted(edges)
        self.blocks = [self._most_specific(start, blocks) for start in self.starts]

    @staticmethod
    def _most_specific(value: int, blocks: list[_Block]) -> _Block | None:
        holding = [b for b in blocks if int(b.network.network_address) <= value <= int(b.network.broadcast_address)]
        return max(holding, key=lambda b: b.network.prefixlen, default=None)

    def find(self, address: IPAddress) -> _Block | None:
        return self.blocks[bisect.bisect_right(self.starts, int(address)) - 1]


def _build_indexes() -> dict[int, _Index]:
    embeddings: dict[IPNetwork, Embedding] = {e.prefix: e for e in EMBEDDINGS}
    blocks = [_Block(net, why, embeddings.get(net)) for net, why in PROTECTED]
    blocks += [_Block(net, None, embeddings.get(net)) for net, _ in GLOBAL]
    return {version: _Index(b for b in blocks if b.network.version == version) for version in (4, 6)}


_INDEXES = _build_indexes()

# Only what an address literal can contain; ipaddress alone would accept a zone id ("fe80::1%eth0").
_LITERAL = frozenset("0123456789abcdefABCDEF:.")


def parse(target: str) -> IPAddress | None:
    """``target`` as an address when it is one strict literal, else None."""
    if not isinstance(target, str) or not 0 < len(target) <= 45 or not _LITERAL.issuperset(target):
        return None
    try:
        return ipaddress.ip_address(target)  # rejects leading zeros, short and integer forms
    except ValueError:
        return None


_HINTS = (("%", "zone ids are not accepted"), ("/", "one address, not a network"))


def _not_an_address(target: str) -> str:
    text = str(target)
    hints = [hint for mark, hint in _HINTS if mark in text]
    if text != text.strip():
        hints.append("surrounding whitespace")
    return f"{target!r} is not an IP address" + "".join(f" ({hint})" for hint in hints)


@functools.lru_cache(maxsize=64)
def _normalized(
    allowlist: tuple[IPNetwork, ...], own: tuple[tuple[IPNetwork, str], ...] = ()
) -> tuple[tuple[IPNetwork, str], ...]:
    """(network to match, why) pairs: each entry, plus the IPv4 addresses an IPv6 entry carries."""
    labelled = [(entry, f"allowlisted ({entry})") for entry in allowlist]
    labelled += [(network, f"this account's own address ({what})") for network, what in own]
    pairs: list[tuple[IPNetwork, str]] = []
    for entry, why in labelled:
        pairs.append((entry, why))
        if isinstance(entry, ipaddress.IPv6Network):
            for embedding in EMBEDDINGS:
                if entry.subnet_of(embedding.prefix):
                    pairs.append((embedding.ipv4_network(entry), why))
                elif embedding.prefix.subnet_of(entry):
                    pairs.append((embedding.ipv4_network(embedding.prefix), why))
    return tuple(pairs)


def _judge(address: IPAddress, allowed: tuple[tuple[IPNetwork, str], ...]) -> str | None:
    block = _INDEXES[address.version].find(address)
    if block is not None and block.embedding is not None and isinstance(address, ipaddress.IPv6Address):
        inner = block.embedding.ipv4(address)
        if why := _judge(inner, allowed):
            return f"{why}, embedded in {address} ({block.embedding.name})"
    if block is not None and block.why is not None:
        return f"{address} is {block.why} ({block.network})"
    for network, why in allowed:
        if address.version == network.version and address in network:
            return f"{address} is {why}"
    return None


# The account's own addresses and networks, each with what it is ("NAT gateway nat-0abc in vpc-0def").
OwnAddresses = tuple[tuple[IPNetwork, str], ...]


def refusal(target: str, allowlist: Iterable[IPNetwork] = (), own: OwnAddresses = ()) -> str | None:
    """Why ``target`` (an IP address) must not be acted on, or None when it may be. ``own`` holds the
    account's own addresses and networks (Elastic IPs, NAT gateways, public addresses of instances and load
    balancers, the VPCs' CIDRs), each with what it is, as discovered at run time."""
    address = parse(target)
    if address is None:
        return _not_an_address(target)
    return _judge(address, _normalized(tuple(allowlist), own))


def network_refusal(network: IPNetwork, allowlist: Iterable[IPNetwork] = (), own: OwnAddresses = ()) -> str | None:
    """Why no entry may cover all of ``network`` (an aggregate of several blocked addresses), or None: it must
    not overlap any refused block, the allowlist or the account's own addresses."""
    for embedding in EMBEDDINGS:
        # Whole networks of embedded IPv4 addresses (6to4, NAT64...) would hide the IPv4 networks they carry
        # from the checks below: never block one as a whole.
        if network.version == 6 and embedding.prefix.overlaps(network):
            return f"{network} overlaps {embedding.prefix} ({embedding.name}): it carries IPv4 addresses"
    for block, why in PROTECTED:
        if block.version == network.version and block.overlaps(network):
            return f"{network} overlaps {block} ({why})"
    for entry, why in _normalized(tuple(allowlist), own):
        if entry.version == network.version and entry.overlaps(network):
            return f"{network} overlaps {entry}, {why}"
    return None


def block_address(target: str) -> str:
    """The address an action blocks for a ``target`` that ``refusal`` permitted.

    An IPv4-mapped target (``::ffff:45.13.105.9``) is an IPv4 peer seen through an IPv6 socket: its packets
    are IPv4 and only an IPv4 entry stops them, so its IPv4 address is returned. Any other address comes back
    in its canonical form (IPv6 compressed and lowercase), so that one address always makes one entry.
    """
    address = parse(target)
    if address is None:
        raise ValueError(_not_an_address(target))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


# The widest network a target may name (a webhook's CIDR): wider would block far more than an attacker.
WIDEST_TARGET = {4: 16, 6: 32}


def target_refusal(target: str, allowlist: Iterable[IPNetwork] = (), own: OwnAddresses = ()) -> str | None:
    """``refusal`` for an address, ``network_refusal`` for a network target (``45.13.104.0/24``): a strict
    literal whose host bits are zero, no wider than ``WIDEST_TARGET``."""
    if "/" not in target:
        return refusal(target, allowlist, own)
    literal, _, length = target.partition("/")
    address = parse(literal)
    if address is None or not length.isdigit() or length != str(int(length)):
        return _not_an_address(target)
    try:
        network = ipaddress.ip_network(target, strict=True)
    except ValueError:
        return f"{target!r} is not a network (host bits set, or a bad prefix length)"
    if network.prefixlen < WIDEST_TARGET[network.version]:
        return f"{target} is wider than /{WIDEST_TARGET[network.version]}: too wide to block"
    return network_refusal(network, allowlist, own)


def block_cidr(target: str) -> str:
    """The CIDR an action blocks for a permitted target: the network itself, or the host of an address."""
    if "/" in target:
        return str(ipaddress.ip_network(target, strict=True))
    address = ipaddress.ip_address(block_address(target))
    return f"{address}/{address.max_prefixlen}"


WORLD = frozenset({"0.0.0.0/0", "::/0"})
# A prefix this short is the internet in all but name (0.0.0.0/1 + 128.0.0.0/1 is 0.0.0.0/0 split in two, to slip
# past rules that look for 0.0.0.0/0), unless it is all private or reserved (10.0.0.0/8, 127.0.0.0/8, fc00::/7).
VERY_WIDE_PREFIX = 8


def world_wide(cidr: str) -> bool:
    """0.0.0.0/0, ::/0, or any other prefix of /8 or shorter that reaches the internet: what a security group
    rule or a policy condition must not open (CloudTrail detections, and heal, which closes such rules)."""
    if cidr in WORLD:
        return True
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen <= VERY_WIDE_PREFIX and not network.is_private
