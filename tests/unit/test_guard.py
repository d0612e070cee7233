from __future__ import annotations

import ipaddress
from typing import cast

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from riposte.core import guard
from riposte.core.guard import GLOBAL, PROTECTED, IPAddress, IPNetwork

ALLOW = (ipaddress.ip_network("34.120.0.0/16"), ipaddress.ip_network("2a0d:5600:99::/48"))
PARTNER = "34.120.5.44"
ATTACKER = "45.13.105.9"
V4 = ipaddress.IPv4Address


def net(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr)


# An oracle written apart from the guard's bisection index: the most specific table row holding an address,
# by a linear scan, and the embedded IPv4 address by plain shifts.
ROWS = [(n, why) for n, why in PROTECTED] + [(n, None) for n, _ in GLOBAL]
PERMITTING_EMBEDDINGS = {
    net("::ffff:0:0/96"): lambda a: V4(int(a) & 0xFFFFFFFF),
    net("64:ff9b::/96"): lambda a: V4(int(a) & 0xFFFFFFFF),
    net("2002::/16"): lambda a: V4((int(a) >> 80) & 0xFFFFFFFF),
}


EMBEDDING_PREFIXES = {e.prefix for e in guard.EMBEDDINGS}


def most_specific(address: IPAddress) -> tuple[IPNetwork, str | None] | None:
    holding = [(n, why) for n, why in ROWS if n.version == address.version and address in n]
    return max(holding, key=lambda row: row[0].prefixlen, default=None)


def expected_refused(address: IPAddress) -> bool:
    row = most_specific(address)
    if row is None:
        return False
    network, why = row
    if why is not None:
        return True
    if network in PERMITTING_EMBEDDINGS:
        return expected_refused(PERMITTING_EMBEDDINGS[network](address))
    return False


def neighbours(network: IPNetwork) -> list[IPAddress]:
    first, last = int(network.network_address), int(network.broadcast_address)
    top = 2**network.max_prefixlen - 1
    return [ipaddress.ip_address(v) if network.version == 6 else V4(v) for v in (first - 1, last + 1) if 0 <= v <= top]


def ends(network: IPNetwork) -> list[IPAddress]:
    return [network.network_address, network.broadcast_address]


# --- the tables ------------------------------------------------------------------------------------------------

# The IANA special-purpose registries, entry by entry (Globally Reachable False, N/A or terminated), with the
# additions the module explains. Written out again here so that dropping or narrowing a row fails a test.
REGISTRY_REFUSED = {
    "0.0.0.0/8", "0.0.0.0/32", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.170/32", "192.0.0.171/32", "192.0.2.0/24",
    "192.88.99.0/24", "192.88.99.2/32", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "240.0.0.0/4", "255.255.255.255/32",
    "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64", "2001::/23", "2001::/32", "2001:2::/48",
    "2001:10::/28", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
}  # fmt: skip
ADDED_REFUSED = {"224.0.0.0/4", "ff00::/8", "fec0::/10", "::/96", "::ffff:0:0:0/96"}
REGISTRY_REACHABLE = {
    "192.0.0.9/32", "192.0.0.10/32", "192.31.196.0/24", "192.52.193.0/24", "192.175.48.0/24", "64:ff9b::/96",
    "2001:1::1/128", "2001:1::2/128", "2001:1::3/128", "2001:3::/32", "2001:4:112::/48", "2001:20::/28",
    "2001:30::/28", "2620:4f:8000::/48",
}  # fmt: skip


def test_protected_table_holds_every_registry_block_that_is_not_globally_reachable() -> None:
    protected = {str(n) for n, _ in PROTECTED}
    assert protected >= REGISTRY_REFUSED | ADDED_REFUSED
    outside_global_unicast = protected - REGISTRY_REFUSED - ADDED_REFUSED
    assert all(net(n).version == 6 and not net(n).overlaps(net("2000::/3")) for n in outside_global_unicast)


def test_registry_blocks_that_are_globally_reachable_are_not_protected() -> None:
    assert {str(n) for n, _ in GLOBAL} >= REGISTRY_REACHABLE
    assert not {str(n) for n, _ in GLOBAL} & {str(n) for n, _ in PROTECTED}


def test_everything_outside_ipv6_global_unicast_is_refused_or_carries_an_ipv4_address() -> None:
    outside = set(net("::/0").address_exclude(net("2000::/3")))
    covering = [n for n, _ in PROTECTED if n.version == 6 and not n.overlaps(net("2000::/3"))]
    covering += [net("::ffff:0:0/96"), net("64:ff9b::/96")]
    assert set(ipaddress.collapse_addresses(covering)) == set(ipaddress.collapse_addresses(outside))


def test_every_row_is_unique_and_every_reason_names_its_rfc() -> None:
    networks = [n for n, _ in ROWS]
    assert len(networks) == len(set(networks))
    assert all("RFC " in why for _, why in PROTECTED)
    assert {e.prefix for e in guard.EMBEDDINGS} <= set(networks)


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1, RFC 5737)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2, RFC 5737)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3, RFC 5737)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
        ("240.0.0.0/4", "reserved (former class E, RFC 1112)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919, RFC 8190)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("3fff::/20", "documentation (RFC 9637)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("2001::/23", "IETF protocol assignments (RFC 2928)"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
        ("5f00::/16", "SRv6 SIDs (RFC 9602)"),
        ("fc00::/7", "unique local (RFC 4193)"),
        ("ff00::/8", "multicast (RFC 4291)"),
    ],
)
def test_reasons_name_the_block_and_its_rfc(cidr: str, why: str) -> None:
    assert dict(PROTECTED)[net(cidr)] == why


# --- both ends of every range, both families ----------------------------------------------------------------


@pytest.mark.parametrize(("network", "why"), PROTECTED, ids=[str(n) for n, _ in PROTECTED])
def test_both_ends_of_every_protected_range_are_refused(network: IPNetwork, why: str) -> None:
    for address in ends(network):
        reason = guard.refusal(str(address))
        assert reason is not None, address
        row = most_specific(address)
        if row != (network, why):
            continue  # a more specific row decides, and is swept in its turn
        if network in EMBEDDING_PREFIXES:  # the IPv4 address inside may be the first problem named
            assert reason == f"{address} is {why} ({network})" or f", embedded in {address} (" in reason
        else:
            assert reason == f"{address} is {why} ({network})"


@pytest.mark.parametrize(("network", "why"), PROTECTED, ids=[str(n) for n, _ in PROTECTED])
def test_just_outside_every_protected_range_is_permitted_unless_another_range_holds_it(
    network: IPNetwork, why: str
) -> None:
    for address in neighbours(network):
        assert (guard.refusal(str(address)) is not None) == expected_refused(address), address


@pytest.mark.parametrize(("network", "name"), GLOBAL, ids=[str(n) for n, _ in GLOBAL])
def test_globally_reachable_blocks_are_judged_at_both_ends_and_just_outside(network: IPNetwork, name: str) -> None:
    for address in ends(network) + neighbours(network):
        assert (guard.refusal(str(address)) is not None) == expected_refused(address), address


@pytest.mark.parametrize(
    "address",
    ["192.0.0.9", "192.0.0.10", "2001:1::1", "2001:1::2", "2001:1::3", "2001:4:112::1", "2001:20::1", "2001:30::1"],
)
def test_globally_reachable_holes_in_protected_blocks_stay_blockable(address: str) -> None:
    assert guard.refusal(address) is None


@pytest.mark.parametrize("address", ["192.0.0.11", "192.0.0.8", "2001:1::4", "2001:4:113::1", "2001:40::1"])
def test_the_rest_of_those_protected_blocks_is_refused(address: str) -> None:
    assert guard.refusal(address) is not None


@pytest.mark.parametrize("address", [ATTACKER, "91.240.118.77", "8.8.8.8", "2a0d:5600:24::1", "2a00:1450::1"])
def test_public_addresses_are_permitted(address: str) -> None:
    assert guard.refusal(address) is None


# --- IPv4 carried in IPv6 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "form"),
    [
        ("::ffff:10.0.0.1", "IPv4-mapped"),
        ("64:ff9b::10.0.0.1", "NAT64 well-known prefix, RFC 6052"),
        ("2002:a00:1::", "6to4, RFC 3056"),
        ("2002:a00:1:ffff:ffff:ffff:ffff:ffff", "6to4, RFC 3056"),
        ("::10.0.0.1", "IPv4-compatible, RFC 4291"),
        ("::ffff:0:10.0.0.1", "IPv4-translated, RFC 2765"),
        ("64:ff9b:1:a00:0:100::", "local-use NAT64, RFC 8215"),  # 10.0 | u-octet | 0.1
        ("64:ff9b:1:a00:ff00:1ff:ffff:ffff", "local-use NAT64, RFC 8215"),  # the u-octet and suffix play no part
    ],
)
def test_a_private_address_inside_any_ipv6_form_is_refused_as_itself(address: str, form: str) -> None:
    canonical = ipaddress.ip_address(address)
    assert guard.refusal(address) == f"10.0.0.1 is private (RFC 1918) (10.0.0.0/8), embedded in {canonical} ({form})"


@pytest.mark.parametrize(
    "address",
    ["::ffff:" + PARTNER, "64:ff9b::" + PARTNER, "2002:2278:52c::", "2002:2278:52c:1::9", "::" + PARTNER,
     "::ffff:0:" + PARTNER, "64:ff9b:1:2278:5:2c00::"],
)  # fmt: skip
def test_an_allowlisted_partner_inside_any_ipv6_form_is_still_the_partner(address: str) -> None:
    reason = guard.refusal(address, ALLOW)
    assert reason is not None
    assert reason.startswith(f"{PARTNER} is allowlisted (34.120.0.0/16), embedded in ")


@pytest.mark.parametrize(
    "address", ["::ffff:" + ATTACKER, "64:ff9b::" + ATTACKER, "2002:2d0d:6909::", "2002:2d0d:6909:1::1"]
)
def test_a_public_address_reached_mapped_through_nat64_or_6to4_is_permitted(address: str) -> None:
    assert guard.refusal(address, ALLOW) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("::" + ATTACKER, "deprecated IPv4-compatible (RFC 4291) (::/96)"),
        ("::ffff:0:" + ATTACKER, "IPv4-translated (RFC 2765) (::ffff:0:0:0/96)"),
        ("64:ff9b:1:2d0d:69:900::", "local-use IPv4/IPv6 translation (RFC 8215) (64:ff9b:1::/48)"),
    ],
)
def test_forms_that_never_reach_a_public_host_are_refused_even_with_a_public_address(address: str, why: str) -> None:
    assert guard.refusal(address) == f"{ipaddress.ip_address(address)} is {why}"


def test_the_embedded_address_is_read_from_the_right_bits() -> None:
    embedding = {str(e.prefix): e for e in guard.EMBEDDINGS}
    attacker = V4(ATTACKER)
    assert embedding["64:ff9b:1::/48"].ipv4(ipaddress.IPv6Address("64:ff9b:1:2d0d:69:900::")) == attacker
    assert embedding["2002::/16"].ipv4(ipaddress.IPv6Address("2002:2d0d:6909:ffff::1")) == attacker
    assert embedding["::ffff:0:0/96"].ipv4(ipaddress.IPv6Address("::ffff:2d0d:6909")) == attacker


def test_the_loopback_and_unspecified_addresses_are_named_as_such_not_as_ipv4_compatible() -> None:
    assert guard.refusal("::1") == "::1 is loopback (RFC 4291) (::1/128)"
    assert guard.refusal("::") == ":: is the unspecified address (RFC 4291) (::/128)"


# --- the allowlist, normalized --------------------------------------------------------------------------------


def test_allowlist_refuses_with_the_matching_network() -> None:
    assert guard.refusal(PARTNER, ALLOW) == f"{PARTNER} is allowlisted (34.120.0.0/16)"
    assert guard.refusal("2a0d:5600:99::5", ALLOW) == "2a0d:5600:99::5 is allowlisted (2a0d:5600:99::/48)"
    assert guard.refusal("34.121.0.1", ALLOW) is None
    assert guard.refusal("2a0d:5600:9a::1", ALLOW) is None


def test_protected_ranges_take_precedence_over_the_allowlist_in_the_reason() -> None:
    assert guard.refusal("10.0.0.1", [net("10.0.0.0/8")]) == "10.0.0.1 is private (RFC 1918) (10.0.0.0/8)"


@pytest.mark.parametrize(
    ("entry", "inside", "outside"),
    [
        ("::ffff:34.120.0.0/112", "34.120.255.255", "34.121.0.0"),
        ("64:ff9b::2278:0/112", "34.120.0.0", "34.119.255.255"),
        ("2002:2278::/32", "34.120.255.255", "34.121.0.0"),
        ("2002:2278:52c:7::/64", PARTNER, "34.120.5.45"),  # a 6to4 site's subnet: its site is one IPv4 address
        ("64:ff9b:1:2278::/64", "34.120.255.255", "34.121.0.0"),
        ("64:ff9b:1:2278::/72", "34.120.255.255", "34.121.0.0"),  # the u-octet adds no IPv4 bits
        ("64:ff9b:1:2278:5::/80", "34.120.5.255", "34.120.6.0"),
        ("::34.120.5.44/128", PARTNER, "34.120.5.45"),
    ],
)
def test_an_ipv6_allowlist_entry_covers_the_ipv4_addresses_it_carries(entry: str, inside: str, outside: str) -> None:
    allow = [net(entry)]
    assert guard.refusal(inside, allow) == f"{inside} is allowlisted ({net(entry)})"
    assert guard.refusal(outside, allow) is None


def test_an_ipv6_entry_around_a_whole_embedding_prefix_covers_every_ipv4_address() -> None:
    # Literal and safe: every IPv4 address is reachable through 64:ff9b::/96, so allowlisting it allowlists all.
    assert guard.refusal(ATTACKER, [net("64:ff9b::/96")]) == f"{ATTACKER} is allowlisted (64:ff9b::/96)"
    assert guard.refusal(ATTACKER, [net("::/0")]) is not None
    assert guard.refusal(ATTACKER, [net("2a0d::/16"), net("64:ff9b::/95")]) is not None


def test_an_ipv6_entry_outside_the_embedding_prefixes_covers_no_ipv4_address() -> None:
    assert guard.refusal(ATTACKER, [net("2a0d::/16"), net("2001:db8::/32"), net("64:ff9b:2::/48")]) is None


# --- strict literals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["fe80::1%eth0", "2a00::1%1", "010.1.1.1", "45.013.105.9", "::ffff:010.1.1.1", "1.2.3", "167772161",
     "0x2d0d6909", " 45.13.105.9", "45.13.105.9\n", "45.13.105.9 ", "10.0.0.0/8", "2a0d::/32", "example.com",
     "", "1.2.3.4.5", "45.13.105.9:80", "[2a00::1]", "2a00:::1", "2a00::1\x00",
     "\u0664\u0665.\u0661\u0663.\u0661\u0660\u0665.\u0669"],
)  # fmt: skip
def test_anything_but_one_strict_address_literal_is_not_an_ip_address(target: str) -> None:
    reason = guard.refusal(target)
    assert reason is not None
    assert reason.startswith(f"{target!r} is not an IP address")


def test_a_zone_id_and_a_network_say_so() -> None:
    assert guard.refusal("fe80::1%eth0") == "'fe80::1%eth0' is not an IP address (zone ids are not accepted)"
    assert guard.refusal("2a0d::1%1") == "'2a0d::1%1' is not an IP address (zone ids are not accepted)"
    assert guard.refusal("45.13.104.0/22") == "'45.13.104.0/22' is not an IP address (one address, not a network)"
    assert guard.refusal(" 45.13.105.9") == "' 45.13.105.9' is not an IP address (surrounding whitespace)"


def test_a_value_that_is_not_a_string_is_not_an_ip_address() -> None:
    assert guard.refusal(cast(str, 755854601)) == "755854601 is not an IP address"


def test_upper_case_and_uncompressed_ipv6_are_address_literals() -> None:
    assert guard.refusal("2A0D:5600:0024:0000:0000:0000:0000:0001") is None
    assert guard.refusal("FE80::1") is not None


# --- what an action blocks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "blocked"),
    [
        (ATTACKER, ATTACKER),
        ("::ffff:" + ATTACKER, ATTACKER),
        ("::FFFF:2D0D:6909", ATTACKER),
        ("2A0D:5600:0024:0000::0001", "2a0d:5600:24::1"),
        ("64:ff9b::" + ATTACKER, "64:ff9b::2d0d:6909"),  # NAT64 traffic crosses our ACLs as IPv6
        ("2002:2d0d:6909::", "2002:2d0d:6909::"),
    ],
)
def test_block_address_is_the_ipv4_address_of_a_mapped_target_and_canonical_otherwise(
    target: str, blocked: str
) -> None:
    assert guard.block_address(target) == blocked


def test_block_address_refuses_what_is_not_an_address() -> None:
    with pytest.raises(ValueError, match="zone ids"):
        guard.block_address("fe80::1%eth0")


# --- properties -------------------------------------------------------------------------------------------------


@st.composite
def near_table_edges(draw: st.DrawFn) -> IPAddress:
    """Addresses inside and around the table's blocks, where off-by-one mistakes live."""
    network, _ = draw(st.sampled_from(ROWS))
    first, last = int(network.network_address), int(network.broadcast_address)
    top = 2**network.max_prefixlen - 1
    value = draw(
        st.integers(first, last)
        | st.integers(max(first - 3, 0), min(first + 3, top))
        | st.integers(max(last - 3, 0), min(last + 3, top))
    )
    return ipaddress.ip_address(value) if network.version == 6 else V4(value)


@given(near_table_edges() | st.ip_addresses())
def test_the_guard_agrees_with_a_linear_scan_of_the_table(address: IPAddress) -> None:
    assert (guard.refusal(str(address)) is not None) == expected_refused(address)


@given(st.sampled_from(PROTECTED).flatmap(lambda row: st.ip_addresses(network=str(row[0]))))
def test_no_address_in_a_protected_range_is_permitted_unless_a_more_specific_block_makes_it_reachable(
    address: IPAddress,
) -> None:
    row = most_specific(address)
    assert row is not None
    if row[1] is not None:
        assert guard.refusal(str(address)) is not None
    else:  # a registry hole (192.0.0.9) or an IPv6 form as reachable as the IPv4 address it carries
        assert (guard.refusal(str(address)) is not None) == expected_refused(address)


@given(st.ip_addresses())
def test_allowlisting_an_address_always_refuses_it(address: IPAddress) -> None:
    assert guard.refusal(str(address), [net(f"{address}/{address.max_prefixlen}")]) is not None


@given(st.ip_addresses(v=4), st.integers(0, 2**80 - 1), st.booleans())
def test_mapped_nat64_and_6to4_forms_agree_with_the_ipv4_address(v: V4, site: int, allowlisted: bool) -> None:
    allow = [ipaddress.ip_network(f"{v}/16", strict=False)] if allowlisted else []
    verdict = guard.refusal(str(v), allow) is None
    forms = [
        ipaddress.IPv6Address(0xFFFF_0000_0000 | int(v)),
        ipaddress.IPv6Address((0x64FF9B << 96) | int(v)),
        ipaddress.IPv6Address((0x2002 << 112) | (int(v) << 80)),
        ipaddress.IPv6Address((0x2002 << 112) | (int(v) << 80) | site),
    ]
    for form in forms:
        assert (guard.refusal(str(form), allow) is None) == verdict, form


@given(st.ip_addresses(v=4))
def test_forms_that_never_reach_a_public_host_are_always_refused(v: V4) -> None:
    assume(int(v) > 1)  # ::, ::1 are the unspecified and loopback addresses
    value = int(v)
    local_use = (0x64FF9B0001 << 80) | ((value >> 16) << 64) | ((value & 0xFFFF) << 40)
    for form in (value, 0xFFFF_0000_0000_0000 | value, local_use):
        assert guard.refusal(str(ipaddress.IPv6Address(form))) is not None


def test_the_accounts_own_addresses_are_refused_in_every_spelling() -> None:
    own = ((ipaddress.ip_network("52.1.2.3/32"), "NAT gateway nat-0abc"),)
    assert guard.refusal("52.1.2.3", (), own) == "52.1.2.3 is this account's own address (NAT gateway nat-0abc)"
    assert guard.refusal("::ffff:52.1.2.3", (), own) is not None
    assert guard.refusal("64:ff9b::3401:203", (), own) is not None  # NAT64 of 52.1.2.3
    assert guard.refusal("52.1.2.4", (), own) is None


def test_a_covering_network_must_not_touch_anything_protected() -> None:
    own = ((ipaddress.ip_network("52.1.2.3/32"), "Elastic IP eipalloc-1"),)
    allow = (ipaddress.ip_network("34.120.0.0/16"),)
    assert guard.network_refusal(ipaddress.ip_network("45.13.104.0/24"), allow, own) is None
    assert "Elastic IP" in str(guard.network_refusal(ipaddress.ip_network("52.1.2.0/24"), allow, own))
    assert "allowlisted" in str(guard.network_refusal(ipaddress.ip_network("34.0.0.0/8"), allow, own))
    assert "private" in str(guard.network_refusal(ipaddress.ip_network("10.0.0.0/7"), allow, own))
    assert guard.network_refusal(ipaddress.ip_network("2a0d:5600:24::/48"), allow, own) is None


# --- the index itself, built afresh (the module builds its own once, at import) --------------------------------


def test_an_index_built_from_the_tables_names_the_most_specific_block_everywhere() -> None:
    indexes = guard._build_indexes()
    assert set(indexes) == {4, 6}
    embeddings = {e.prefix: e for e in guard.EMBEDDINGS}
    probes: list[IPAddress] = [V4(0), V4(2**32 - 1), ipaddress.IPv6Address(0), ipaddress.IPv6Address(2**128 - 1)]
    for network, _ in ROWS:
        probes += ends(network) + neighbours(network)
    for address in probes:
        block = indexes[address.version].find(address)
        row = most_specific(address)
        assert (None if block is None else (block.network, block.why)) == row, address
        if block is not None:
            assert block.embedding is embeddings.get(block.network), address


def test_an_index_finds_nothing_outside_its_blocks_and_the_innermost_block_inside() -> None:
    outer = guard._Block(net("10.0.0.0/8"), "outer", None)
    inner = guard._Block(net("10.1.0.0/16"), "inner", None)
    index = guard._Index([inner, outer])
    assert [index.find(V4(v)) for v in ("9.255.255.255", "10.0.0.0", "10.0.255.255", "10.1.0.0", "10.1.255.255")] == [
        None,
        outer,
        outer,
        inner,
        inner,
    ]
    assert [index.find(V4(v)) for v in ("10.2.0.0", "10.255.255.255", "11.0.0.0", "0.0.0.0")] == [
        outer,
        outer,
        None,
        None,
    ]


# --- literals at their limits -----------------------------------------------------------------------------------


def test_the_longest_address_literal_is_still_an_address() -> None:
    longest = "0000:0000:0000:0000:0000:ffff:255.255.255.255"  # 45 characters: six full groups and an IPv4 tail
    assert len(longest) == 45
    assert guard.parse(longest) == ipaddress.ip_address("::ffff:255.255.255.255")
    assert guard.refusal(longest) == (
        "255.255.255.255 is limited broadcast (RFC 919, RFC 8190) (255.255.255.255/32), "
        "embedded in ::ffff:ffff:ffff (IPv4-mapped)"
    )


def test_every_hint_is_given_each_in_its_own_parentheses() -> None:
    assert guard.refusal("fe80::1%eth0/64") == (
        "'fe80::1%eth0/64' is not an IP address (zone ids are not accepted) (one address, not a network)"
    )
    assert guard.refusal(" 10.0.0.0/8") == (
        "' 10.0.0.0/8' is not an IP address (one address, not a network) (surrounding whitespace)"
    )


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("45.13.104.0/24", None),
        ("2a0d:5600:24::/48", None),
        ("45.13.104.7/24", "not a network"),  # host bits set
        ("045.13.104.0/24", "not an IP address"),  # leading zero
        ("45.13.104.0/024", "not an IP address"),
        ("45.12.0.0/15", "too wide to block"),
        ("2a0d::/31", "too wide to block"),
        ("10.0.0.0/24", "private"),
        ("34.120.5.0/24", "allowlisted"),
    ],
)
def test_a_network_target_is_checked_whole(target: str, why: str | None) -> None:
    allow = (ipaddress.ip_network("34.120.0.0/16"),)
    refused = guard.target_refusal(target, allow)
    assert (refused is None) if why is None else (refused is not None and why in refused), refused


def test_what_an_action_blocks_for_a_target() -> None:
    assert guard.block_cidr("45.13.104.0/24") == "45.13.104.0/24"
    assert guard.block_cidr("::ffff:45.13.104.9") == "45.13.104.9/32"
    assert guard.block_cidr("2a0d:5600:24::10") == "2a0d:5600:24::10/128"


def test_a_network_of_embedded_ipv4_addresses_is_never_blocked_whole() -> None:
    allow = (ipaddress.ip_network("34.120.0.0/16"),)
    why = guard.network_refusal(ipaddress.ip_network("2002:2278::/32"), allow)  # 6to4 of 34.120.0.0/16
    assert why is not None
    assert "6to4" in why
    assert guard.network_refusal(ipaddress.ip_network("64:ff9b::2d0d:6800/120")) is not None  # NAT64
