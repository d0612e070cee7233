from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riposte.core import guard


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.1.1", "CGNAT"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),  # the instance metadata service
        ("0.0.0.0", "unspecified"),
        ("224.0.0.5", "multicast"),
        ("255.255.255.255", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique local"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6 is the IPv4 address
    ],
)
def test_protected_addresses_are_refused(address: str, why: str) -> None:
    reason = guard.refusal(address)
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize("address", ["45.13.105.9", "91.240.118.77", "8.8.8.8", "2001:db8::1", "2a00:1450::1"])
def test_public_and_documentation_addresses_are_allowed(address: str) -> None:
    assert guard.refusal(address) is None


def test_allowlist_refuses_with_the_matching_network() -> None:
    allow = [ipaddress.ip_network("34.120.0.0/16"), ipaddress.ip_network("2001:db8:1::/48")]
    assert guard.refusal("34.120.5.44", allow) == "34.120.5.44 is allowlisted (34.120.0.0/16)"
    assert guard.refusal("2001:db8:1::5", allow) == "2001:db8:1::5 is allowlisted (2001:db8:1::/48)"
    assert guard.refusal("192.0.3.1", allow) is None


def test_non_addresses_are_refused() -> None:
    assert guard.refusal("example.com") == "'example.com' is not an IP address"
    assert guard.refusal("10.0.0.0/8") is not None


@given(st.ip_addresses(v=4, network="10.0.0.0/8") | st.ip_addresses(v=4, network="192.168.0.0/16"))
def test_no_rfc1918_address_is_ever_allowed(address: ipaddress.IPv4Address) -> None:
    assert guard.refusal(str(address)) is not None


@given(st.ip_addresses())
def test_allowlisting_an_address_always_refuses_it(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    network = ipaddress.ip_network(f"{address}/{address.max_prefixlen}")
    assert guard.refusal(str(address), [network]) is not None


def test_ipv4_mapped_addresses_match_allowlists_of_either_family() -> None:
    assert guard.refusal("::ffff:198.51.100.7", [ipaddress.ip_network("198.51.100.0/24")]) is not None
    assert guard.refusal("::ffff:198.51.100.7", [ipaddress.ip_network("::ffff:198.51.100.0/120")]) is not None
