"""The strict address parser: only canonical literals reach the guard and the NACL, and nothing else passes."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riposte.sources.webhooks.addresses import field_key, host_part, parse
from riposte.sources.webhooks.errors import WebhookError


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("45.13.105.20", "45.13.105.20"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("2A0D:5600:0024:0000::10", "2a0d:5600:24::10"),
        ("::ffff:45.13.105.20", "45.13.105.20"),  # IPv4-mapped: the IPv4 address its packets carry
        ("::FFFF:2D0D:6914", "45.13.105.20"),
        ("::ffff:45.13.105.20/128", "45.13.105.20"),
        ("::ffff:45.13.104.0/120", "45.13.104.0/24"),  # a mapped network is the IPv4 network
        ("::ffff:45.13.104.128/121", "45.13.104.128/25"),
        ("::fffe:45.13.105.20", "::fffe:2d0d:6914"),  # just outside ::ffff:0:0/96: stays IPv6
        ("::1:ffff:2d0d:6914", "::1:ffff:2d0d:6914"),
        ("64:ff9b::2d0d:6914", "64:ff9b::2d0d:6914"),  # NAT64 is a real IPv6 path: blocked as IPv6
        ("45.13.105.20/32", "45.13.105.20"),  # a host network is the address
        ("2a0d:5600:24::10/128", "2a0d:5600:24::10"),
        ("45.13.104.0/24", "45.13.104.0/24"),  # the broadest allowed by default
        ("45.13.104.0/25", "45.13.104.0/25"),
        ("2a0d:5600:24::/48", "2a0d:5600:24::/48"),
    ],
)
def test_strict_literals_come_out_canonical(text: str, canonical: str) -> None:
    assert parse(text) == canonical


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("045.13.105.20", "leading zero"),
        ("45.13.105.020", "leading zero"),
        ("45.13.105.20/024", "leading zero"),
        ("3232235777", "integer"),
        ("0x2d0d6914", "not an IP address"),
        ("45.13.105", "not a valid"),
        ("45.13.105.256", "not a valid"),
        ("45.13.105.20 ", "whitespace"),
        (" 45.13.105.20", "whitespace"),
        ("45.13.105.20\n", "whitespace"),
        ("45.13.\u200b105.20", "non-ASCII"),
        ("٤٥.13.105.20", "non-ASCII"),  # Arabic-Indic digits
        ("\uff14\uff15.13.105.20", "non-ASCII"),  # fullwidth digits
        ("45.13.105.20;rm -rf /", "whitespace"),
        ("45.13.105.20;id", "not an IP address"),
        ("$(id)", "not an IP address"),
        ("`id`", "not an IP address"),
        ("evil.example.com", "not an IP address"),
        ("dead.beef", "not a valid"),
        ("fe80::1%eth0", "not an IP address"),
        ("::ffff:045.13.105.20", "leading zero"),
        ("45.13.105.20/33", "longer than /32"),
        ("45.13.104.0/23", "broader than /24"),
        ("0.0.0.0/0", "broader than /24"),
        ("2a0d:5600::/47", "broader than /48"),
        ("45.13.105.20/24", "host bits"),
        ("", "not a valid"),
        ("1" * 80, "integer"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(WebhookError) as caught:
        parse(text)
    assert caught.value.status == 400
    assert caught.value.code == "bad_address"
    assert why in str(caught.value)


@pytest.mark.parametrize("value", [None, 45, 3.5, ["45.13.105.20"], {"ip": "45.13.105.20"}, True])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(WebhookError, match="must be a string"):
        parse(value)


def test_the_broadest_prefix_is_configurable_at_both_ends() -> None:
    assert parse("45.13.104.0/22", min_prefix_v4=22) == "45.13.104.0/22"
    with pytest.raises(WebhookError, match="broader than /23"):
        parse("45.13.104.0/22", min_prefix_v4=23)
    assert parse("2a0d:5600::/32", min_prefix_v6=32) == "2a0d:5600::/32"
    with pytest.raises(WebhookError, match="broader than /33"):
        parse("2a0d:5600::/32", min_prefix_v6=33)


def unmapped(address: ipaddress._BaseAddress) -> str:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


@given(st.ip_addresses())
def test_every_address_in_any_canonical_spelling_parses_to_itself(address: ipaddress._BaseAddress) -> None:
    assert parse(str(address)) == unmapped(address)
    assert parse(f"{address}/{address.max_prefixlen}") == unmapped(address)


@given(st.ip_addresses(v=6))
def test_ipv6_spelling_does_not_matter(address: ipaddress.IPv6Address) -> None:
    assert parse(address.exploded.upper()) == unmapped(address)


@given(st.ip_addresses(v=4))
def test_every_ipv4_mapped_address_is_its_ipv4_address(address: ipaddress.IPv4Address) -> None:
    assert parse(f"::ffff:{address}") == str(address)
    assert parse(str(ipaddress.IPv6Address(f"::ffff:{address}"))) == str(address)
    assert host_part(f"[::ffff:{address}]:9100") == str(address)


def test_a_mapped_network_is_held_to_the_ipv4_limit() -> None:
    with pytest.raises(WebhookError, match="broader than /24"):
        parse("::ffff:45.13.104.0/119")  # /23 in IPv4, though far narrower than the IPv6 /48
    assert parse("::ffff:45.13.104.0/120") == "45.13.104.0/24"


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=3))
def test_a_leading_zero_in_any_octet_is_refused(address: ipaddress.IPv4Address, octet: int) -> None:
    parts = str(address).split(".")
    parts[octet] = "0" + parts[octet]
    with pytest.raises(WebhookError):
        parse(".".join(parts))


@given(st.ip_addresses(v=4))
def test_the_integer_form_is_refused(address: ipaddress.IPv4Address) -> None:
    with pytest.raises(WebhookError):
        parse(str(int(address)))


@given(st.ip_addresses(), st.sampled_from([" ", "\t", "\n", "\u00a0", "\u2003", ";", "|", "&", "$", "`", "'", '"']))
def test_any_added_whitespace_or_shell_character_is_refused(address: ipaddress._BaseAddress, extra: str) -> None:
    text = str(address)
    for spelled in (extra + text, text + extra, text[:2] + extra + text[2:]):
        with pytest.raises(WebhookError):
            parse(spelled)


@given(st.text(max_size=40))
def test_whatever_passes_is_exactly_one_canonical_address_or_network(text: str) -> None:
    try:
        result = parse(text)
    except WebhookError as error:
        status = error.status
    else:
        network = ipaddress.ip_network(result)
        assert result in (str(network), str(network.network_address))
        assert text.isascii()
        assert text.strip() == text
        return
    assert status == 400


def networks(prefixes: st.SearchStrategy[int]) -> st.SearchStrategy[ipaddress.IPv4Network]:
    return st.builds(
        lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
        st.ip_addresses(v=4),
        prefixes,
    )


@given(networks(st.integers(min_value=24, max_value=32)))
def test_ipv4_networks_up_to_the_limit_pass(network: ipaddress.IPv4Network) -> None:
    expected = str(network.network_address) if network.prefixlen == 32 else str(network)
    assert parse(str(network)) == expected


@given(networks(st.integers(min_value=0, max_value=23)))
def test_ipv4_networks_broader_than_the_limit_are_refused(network: ipaddress.IPv4Network) -> None:
    with pytest.raises(WebhookError, match="broader"):
        parse(str(network))


def test_field_names_match_ignoring_case_separators_and_a_datadog_at() -> None:
    assert {field_key(n) for n in ("srcAddr", "src_addr", "@srcaddr", "SRC-ADDR", "src.addr")} == {"srcaddr"}
    assert field_key("dest_ip") != field_key("src_ip")


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("10.0.3.17:9100", "10.0.3.17"),
        ("10.0.3.17", "10.0.3.17"),
        ("[2a0d:5600:24::1]:443", "2a0d:5600:24::1"),
        ("2a0d:5600:24::1", "2a0d:5600:24::1"),
        ("[::ffff:10.0.3.17]:9100", "10.0.3.17"),
        ("::ffff:10.0.3.17", "10.0.3.17"),
        ("ip-10-0-3-17", None),
    ],
)
def test_host_values_yield_their_address(value: str, address: str | None) -> None:
    assert host_part(value) == address
