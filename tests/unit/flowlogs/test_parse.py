from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riposte.flowlogs import parse
from riposte.flowlogs.parse import DEFAULT, DEFAULT_FORMAT, Counters, Skipped, TallyPlan, decode, parse_format
from riposte.flowlogs.window import Networks
from tests.unit.flowlogs import scenario

# The AWS documentation's own examples of default-format records.
ACCEPTED_SSH = (
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
)
REJECTED_RDP = (
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK"
)
NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
SKIPDATA = "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA"
IPV6 = (
    "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105"
    " 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK"
)
CUSTOM = (
    "${version} ${vpc-id} ${subnet-id} ${interface-id} ${instance-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport}"
    " ${protocol} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${packets} ${bytes} ${start} ${end}"
    " ${action} ${log-status} ${flow-direction} ${traffic-path}"
)


def test_the_default_format_is_the_fourteen_version_2_fields_in_order() -> None:
    assert DEFAULT.fields == (
        "version",
        "account-id",
        "interface-id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "start",
        "end",
        "action",
        "log-status",
    )
    assert " ".join(f"${{{name}}}" for name in DEFAULT.fields) == DEFAULT_FORMAT
    assert DEFAULT.numeric == {"version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end"}


def test_a_custom_format_knows_each_columns_index_and_which_are_numbers() -> None:
    fmt = parse_format(CUSTOM)
    assert fmt.width == 22
    assert fmt.index("pkt-srcaddr") == 12
    assert fmt.index("flow-direction") == 20
    assert fmt.index("account-id") is None
    assert "tcp-flags" in fmt.numeric
    assert "traffic-path" in fmt.numeric
    assert "vpc-id" not in fmt.numeric


def test_format_whitespace_is_free_and_normalized() -> None:
    assert parse_format("  ${srcaddr}\n\t${dstaddr} ").text == "${srcaddr} ${dstaddr}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("${srcaddr} ${colour}", "unknown field 'colour' (token 2)"),
        ("${srcaddr} ${dstaddr} ${srcaddr}", "duplicate field 'srcaddr' (token 3)"),
        ("${srcaddr} dstaddr", "token 2 'dstaddr' is not of the form"),
        ("${srcaddr}${dstaddr}", "token 1"),
        ("${SRCADDR}", "token 1"),
    ],
)
def test_bad_formats_are_refused_with_the_token_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="flow log format") as raised:
        parse_format(text)
    assert message in str(raised.value)


def test_decode_default_format_record() -> None:
    assert decode(ACCEPTED_SSH) == {
        "version": 2,
        "account_id": "123456789010",
        "interface_id": "eni-1235b8ca123456789",
        "srcaddr": "172.31.16.139",
        "dstaddr": "172.31.16.21",
        "srcport": 20641,
        "dstport": 22,
        "protocol": 6,
        "packets": 20,
        "bytes": 4249,
        "start": 1418530010,
        "end": 1418530070,
        "action": "ACCEPT",
        "log_status": "OK",
    }


def test_decode_ipv6_record() -> None:
    record = decode(IPV6)
    assert isinstance(record, dict)
    assert record["srcaddr"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"
    assert record["packets"] == 54


@pytest.mark.parametrize(("line", "status"), [(NODATA, "NODATA"), (SKIPDATA, "SKIPDATA")])
def test_nodata_and_skipdata_records_decode_with_nulls(line: str, status: str) -> None:
    record = decode(line)
    assert isinstance(record, dict)
    assert record["log_status"] == status
    assert record["srcaddr"] is None
    assert record["packets"] is None
    assert record["start"] == 1431280876


def test_decode_custom_format_names_fields_with_underscores() -> None:
    fmt = parse_format(CUSTOM)
    line = (
        "5 vpc-0a1b2c3d subnet-0a1b2c3d eni-0a1b2c3d i-0a1b2c3d 10.0.0.100 10.0.1.10 43418 22 6 19 IPv4"
        " 185.156.73.54 10.0.1.10 14 2312 1764403203 1764403233 ACCEPT OK ingress -"
    )
    record = decode(line, fmt)
    assert isinstance(record, dict)
    assert list(record) == [name.replace("-", "_") for name in fmt.fields]
    assert record["pkt_srcaddr"] == "185.156.73.54"
    assert record["tcp_flags"] == 19
    assert record["flow_direction"] == "ingress"
    assert record["traffic_path"] is None
    assert record["vpc_id"] == "vpc-0a1b2c3d"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("", "empty line"),
        ("2 123456789010 eni-1 1.2.3.4", "expected 14 fields for the format, got 4"),
        (ACCEPTED_SSH + " extra", "expected 14 fields for the format, got 15"),
        (ACCEPTED_SSH.replace(" 20 4249 ", " twenty 4249 "), "packets: 'twenty' is not a number"),
        (ACCEPTED_SSH.replace(" 20 4249 ", " -20 4249 "), "packets: '-20' is not a number"),
        (ACCEPTED_SSH.replace(" 20 4249 ", " +20 4249 "), "packets: '+20' is not a number"),
        (ACCEPTED_SSH.replace(" 20 4249 ", " ２０ 4249 "), "packets: '２０' is not a number"),  # noqa: RUF001
        (ACCEPTED_SSH.replace(" 20 4249 ", f" {2**63} 4249 "), "packets: '9223372036854775808' is not a number"),
        (ACCEPTED_SSH.replace(" 20 4249 ", " 20 " + "9" * 400 + " "), "bytes: '99999999999999999999999999"),
        (ACCEPTED_SSH.replace(" 22 6 ", " 65536 6 "), "dstport: '65536' is not a number in 0..65535"),
        (ACCEPTED_SSH.replace(" 22 6 ", " 22 256 "), "protocol: '256' is not a number in 0..255"),
        (ACCEPTED_SSH.replace("172.31.16.139", "172.31.16.300"), "srcaddr: '172.31.16.300' is not an IPv4 or IPv6"),
        (ACCEPTED_SSH.replace("172.31.16.21", "example.com"), "dstaddr: 'example.com' is not an IPv4 or IPv6"),
    ],
)
def test_lines_that_are_not_records_are_skipped_with_the_reason(line: str, reason: str) -> None:
    result = decode(line)
    assert isinstance(result, Skipped)
    assert result.reason.startswith(reason)


def test_the_largest_valid_numbers_decode() -> None:
    line = ACCEPTED_SSH.replace(" 20 4249 ", f" {2**63 - 1} {2**63 - 1} ").replace(" 22 6 ", " 65535 255 ")
    record = decode(line)
    assert isinstance(record, dict)
    assert record["packets"] == record["bytes"] == 2**63 - 1
    assert record["dstport"] == 65535


@given(st.text(max_size=300))
def test_decode_never_raises(text: str) -> None:
    assert isinstance(decode(text), dict | Skipped)


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    address = st.one_of(
        st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str), st.just("-")
    )  # "-" wherever a field can be missing
    number = st.one_of(st.integers(0, 65535), st.just("-"))
    return {
        "srcaddr": draw(address),
        "dstaddr": draw(address),
        "pkt-srcaddr": draw(address),
        "srcport": draw(number),
        "dstport": draw(number),
        "protocol": draw(st.integers(0, 255)),
        "packets": draw(st.integers(0, 2**63 - 1)),
        "bytes": draw(st.integers(0, 2**63 - 1)),
        "start": draw(st.integers(0, 2**40)),
        "end": draw(st.integers(0, 2**40)),
        "tcp-flags": draw(st.integers(0, 255)),
        "action": draw(st.sampled_from(["ACCEPT", "REJECT", "-"])),
        "log-status": draw(st.sampled_from(["OK", "NODATA", "SKIPDATA"])),
        "flow-direction": draw(st.sampled_from(["ingress", "egress", "-"])),
    }


@given(records(), st.sampled_from([DEFAULT_FORMAT, CUSTOM]))
def test_decode_round_trips_what_render_writes(record: dict[str, object], text: str) -> None:
    fmt = parse_format(text)
    decoded = decode(scenario.render(record, fmt), fmt)
    assert isinstance(decoded, dict)
    for name in fmt.fields:
        if name in record:
            expected = None if record[name] == "-" else record[name]
            assert decoded[name.replace("-", "_")] == expected, name


# --- the hot path -----------------------------------------------------------------------------------------


def plan(fmt: parse.FlowFormat = DEFAULT, short: int = 30) -> TallyPlan:
    return TallyPlan(fmt, short_packets=short, port_cap=31, host_cap=21, eni_cap=4)


def line(src: str, dst: str, dport: int, packets: int = 3, *, start: int = 1764403200, **extra: object) -> str:
    record: dict[str, object] = {
        "interface-id": "eni-0a",
        "srcaddr": src,
        "dstaddr": dst,
        "srcport": 40000,
        "dstport": dport,
        "protocol": 6,
        "packets": packets,
        "bytes": packets * 100,
        "start": start,
        "end": start + 10,
        "action": "ACCEPT",
        **extra,
    }
    return scenario.render(record)


NETWORKS = Networks(own=[scenario.VPC_V6])


def tally(lines: list[str], fmt: parse.FlowFormat = DEFAULT) -> tuple[dict[int, dict[str, list[object]]], Counters]:
    counters = Counters()
    out = parse.tally_lines(lines, plan(fmt), NETWORKS.classify, counters, NETWORKS.known)
    return out, counters


def test_tally_counts_flows_packets_bytes_rejects_per_window_and_source() -> None:
    out, counters = tally(
        [
            line("81.2.69.160", "10.0.1.10", 443, 10),
            line("81.2.69.160", "10.0.1.11", 80, 5, action="REJECT"),
            line("81.2.69.160", "10.0.1.10", 443, 1, start=1764403200 + 59),
            line("81.2.69.160", "10.0.1.10", 443, 7, start=1764403200 + 60),  # the next minute
            line("2a02:1234::1", "2600:1f18:4a3:6b01::10", 443, 4),  # to our own IPv6 block
        ]
    )
    first = out[1764403200]["81.2.69.160"]
    assert first[parse.FLOWS] == 3
    assert first[parse.PACKETS] == 16
    assert first[parse.BYTES] == 1600
    assert first[parse.REJECTS] == 1
    assert first[parse.PORTS] == {"80"}  # of the rejected flow: scans are made of those
    assert first[parse.HOSTS] == {"10.0.1.11"}
    assert first[parse.FIRST_HOST] == "10.0.1.10"
    assert out[1764403200]["2a02:1234::1"][parse.PORTS] is None  # no set until a rejected or admin flow
    assert out[1764403260]["81.2.69.160"][parse.PACKETS] == 7
    assert out[1764403200]["2a02:1234::1"][parse.FLOWS] == 1
    assert counters.tallied == 5
    assert counters.lines == 5


def test_replies_from_our_hosts_and_transit_are_not_inbound() -> None:
    out, counters = tally(
        [
            line("10.0.1.10", "81.2.69.160", 51000, 30),  # our web server answering a client
            line("2600:1f18:4a3:6b01::10", "2a02:1234::1", 51000, 30),  # the same over IPv6 (our own block)
            line("81.2.69.160", "1.1.1.1", 443, 30),  # neither end ours
        ]
    )
    assert out == {}
    assert counters.not_inbound == 3
    assert counters.tallied == 0


def test_internal_sources_to_our_hosts_are_tallied() -> None:
    out, _ = tally([line("10.0.5.23", "10.0.2.10", 22, 1, action="REJECT")])
    assert out[1764403200]["10.0.5.23"][parse.FLOWS] == 1


def test_flow_direction_egress_is_skipped_and_pkt_srcaddr_is_the_source() -> None:
    fmt = parse_format(CUSTOM)

    def custom(src: str, pkt_src: str, direction: str) -> str:
        record = {
            "srcaddr": src,
            "pkt-srcaddr": pkt_src,
            "dstaddr": "10.0.1.10",
            "srcport": 40000,
            "dstport": 22,
            "protocol": 6,
            "packets": 12,
            "bytes": 1200,
            "start": 1764403200,
            "end": 1764403210,
            "action": "ACCEPT",
            "flow-direction": direction,
        }
        return scenario.render(record, fmt)

    out, counters = tally(
        [
            custom("10.0.0.100", "185.156.73.54", "ingress"),  # through a load balancer: the client counts
            custom("10.0.0.100", "-", "ingress"),  # no packet-level source: srcaddr it is
            custom("81.2.69.160", "81.2.69.160", "egress"),  # leaving the interface: not inbound
        ],
        fmt,
    )
    assert set(out[1764403200]) == {"185.156.73.54", "10.0.0.100"}
    assert counters.not_inbound == 1
    assert counters.tallied == 2


def test_short_flows_to_admin_ports_are_counted_with_their_ports() -> None:
    out, _ = tally(
        [line("185.156.73.54", "10.0.0.5", 22, 12)] * 3
        + [line("185.156.73.54", "10.0.0.5", 22, 31), line("185.156.73.54", "10.0.0.5", 3389, 30)]
        + [line("185.156.73.54", "10.0.0.5", 443, 2), line("185.156.73.54", "10.0.0.5", 5432, 31)]
    )
    raw = out[1764403200]["185.156.73.54"]
    assert raw[parse.ADMIN_SHORT] == 4  # 3 x 12 packets and the 30-packet one; 31 is not short
    assert raw[parse.PORTS] == {"22", "3389"}
    assert raw[parse.FLOWS] == 7


def test_distinct_ports_hosts_and_interfaces_stop_growing_at_their_caps() -> None:
    lines = [
        scenario.render(
            {
                "interface-id": f"eni-{i}",
                "srcaddr": "45.13.105.20",
                "dstaddr": f"10.0.{i % 50}.{i % 200 + 1}",
                "dstport": i,
                "packets": 1,
                "bytes": 44,
                "start": 1764403200,
                "action": "REJECT",
            }
        )
        for i in range(1, 500)
    ]
    out, counters = tally(lines)
    raw = out[1764403200]["45.13.105.20"]
    assert raw[parse.FLOWS] == raw[parse.REJECTS] == 499
    assert len(raw[parse.PORTS]) == 31
    assert len(raw[parse.HOSTS]) == 21
    assert len(raw[parse.ENIS]) == 4
    assert counters.tallied == 499


def test_junk_is_counted_by_kind_and_never_raises() -> None:
    ok = line("81.2.69.160", "10.0.1.10", 443)
    lines = [
        ok,
        NODATA,
        SKIPDATA,
        "",
        "garbage",
        ok.replace(" 3 300 ", " x 300 "),  # packets not a number
        ok.replace(" 3 300 ", f" {2**62} 300 "),  # absurd
        ok.replace(" 3 300 ", " -3 300 "),  # negative
        ok.replace(" 1764403200 ", " soon "),  # start not a number
        ok.replace(" 1764403200 ", " " + "9" * 25 + " "),  # start absurd
        ok.replace(" 1764403200 ", f" {FULLWIDTH_START} "),  # other scripts' digits, which int() would take
        ok.replace("81.2.69.160", "-"),  # source missing in an OK record
        ok.replace(" 3 300 ", " - 300 "),  # packets missing
        ok.replace("10.0.1.10", "10.0.1.300"),  # destination not an address
        ok.replace("10.0.1.10", "10.0.1.10\x00"),  # a NUL, which the address parser refuses with ValueError
    ]
    out, counters = tally(lines)
    assert counters.tallied == 2  # the good line and the sourceless one (window.py counts that as missing)
    assert counters.nodata == 1
    assert counters.skipdata == 1
    assert counters.missing == 1  # packets "-"
    assert counters.malformed == 10
    assert counters.lines == len(lines)
    assert out[1764403200]["-"][parse.FLOWS] == 1


def test_a_format_without_what_the_detectors_need_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks fields the detectors need: dstport, packets"):
        TallyPlan(parse_format("${srcaddr} ${dstaddr} ${bytes} ${start}"), 30, 31, 21, 4)


FULLWIDTH_START = "1764403200".translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})

junk_or_record = st.one_of(
    records().map(lambda r: scenario.render({"interface-id": "eni-1", **r})),
    st.text(alphabet=st.sampled_from("0123456789.:- abcdefOK"), max_size=120),
)


@settings(max_examples=100)
@given(st.lists(junk_or_record, max_size=30))
def test_every_line_lands_in_exactly_one_count(lines: list[str]) -> None:
    _, counters = tally(lines)
    assert counters.lines == len(lines)


@given(st.lists(st.tuples(st.ip_addresses(v=4), st.integers(0, 10**6), st.integers(0, 10**9)), max_size=60))
def test_tally_agrees_with_decode(flows: list[tuple[ipaddress.IPv4Address, int, int]]) -> None:
    lines = [line(str(ip), "10.0.1.10", 443, packets, bytes=nbytes) for ip, packets, nbytes in flows]
    out, _ = tally(lines)
    expected: dict[str, list[int]] = {}
    for text in lines:
        record = decode(text)
        assert isinstance(record, dict)
        sums = expected.setdefault(str(record["srcaddr"]), [0, 0, 0])
        sums[0] += 1
        sums[1] += int(record["packets"])  # type: ignore[arg-type]
        sums[2] += int(record["bytes"])  # type: ignore[arg-type]
    got = {
        src: [raw[parse.FLOWS], raw[parse.PACKETS], raw[parse.BYTES]] for src, raw in out.get(1764403200, {}).items()
    }
    assert got == expected


# --- replies: a remote server answering a connection our host opened ---------------------------------------


@pytest.mark.parametrize(
    ("srcport", "dstport", "protocol", "flags", "reply"),
    [
        ("443", "51000", "6", "-", True),  # a download from a CDN, tcp-flags not in the format
        ("53", "40000", "17", "-", True),  # a DNS answer
        ("1023", "1024", "6", "-", True),  # both ends of "theirs is a service port, ours is not"
        ("1024", "1024", "6", "-", False),
        ("443", "1023", "6", "-", False),
        ("5432", "32768", "6", "-", True),  # a database outside, answering our ephemeral port
        ("5000", "32767", "6", "-", False),
        ("5432", "32767", "6", "-", True),  # a registered server port: a NAT gateway's port may be anywhere
        ("9092", "1024", "6", "-", True),
        ("9092", "15000", "6", "-", True),
        ("9092", "9092", "6", "-", False),  # the same port both ends: peers
        ("9092", "1023", "6", "-", False),
        ("8443", "5432", "6", "-", False),  # to our database port: a request
        ("32767", "65535", "17", "-", False),  # UDP: any port below 32768 can be a flood's source port
        ("32767", "65535", "6", "-", True),
        ("9092", "15000", "17", "-", True),  # UDP from a server port
        ("51820", "40000", "17", "-", True),  # WireGuard: a VPN server our host connects to
        ("32768", "40000", "6", "-", False),  # both high: peers, not a server's answer
        ("80", "3389", "6", "-", False),  # from port 80 to an open RDP port: still a request
        ("80", "5432", "6", "-", False),
        ("443", "51000", "6", "2", False),  # the remote sent a SYN: it opened the connection
        ("443", "51000", "6", "3", False),  # SYN and FIN in one interval
        ("40000", "40001", "6", "18", True),  # the remote's SYN-ACK: ours opened it, whatever the ports
        ("80", "3389", "6", "19", False),  # to our RDP port: a request, whatever a forged SYN-ACK says
        ("40000", "8080", "6", "18", False),  # a SYN-ACK to a port below the ephemeral range: the ports decide
        ("443", "8080", "6", "18", True),
        ("443", "51000", "6", "1", True),  # FIN only, a later interval: the ports decide
        ("443", "51000", "6", "0", True),
        ("443", "51000", "6", "garbage", True),  # unreadable flags: the ports decide
        ("443", "51000", "17", "2", True),  # flags mean nothing outside TCP
        ("0", "0", "1", "-", False),  # ICMP has no ports to tell by
        ("443", "51000", "1", "-", False),
        ("443", "51000", "", "-", True),  # no protocol in the format: the ports say what they can
        ("443", "99999", "6", "-", False),  # not a port
        ("443", "-", "6", "-", False),
        ("-", "51000", "6", "-", False),
        ("4\uff143", "51000", "6", "-", False),  # a non-ASCII digit (fullwidth four)
    ],
)
def test_what_is_a_reply(srcport: str, dstport: str, protocol: str, flags: str, reply: bool) -> None:
    assert parse.is_reply(srcport, dstport, protocol, flags) is reply


@pytest.mark.parametrize(
    ("srcport", "protocol", "packets", "reply"),
    [
        ("53", "17", "2", True),  # the answer to a DNS query of ours
        ("53", "17", "100", True),
        ("53", "17", "101", False),  # a reflection flood, let in by an open UDP port
        ("123", "17", "60000", False),
        ("11211", "17", "5000", False),
        ("53", "17", "-", False),  # no count: not taken for an answer
        ("53", "6", "60000", True),  # DNS over TCP: a zone transfer is long
        ("443", "17", "60000", True),  # QUIC: a download
    ],
)
def test_many_packets_from_an_amplifier_s_port_are_a_flood_not_an_answer(
    srcport: str, protocol: str, packets: str, reply: bool
) -> None:
    assert parse.is_reply(srcport, "51820", protocol, "-", packets) is reply


def test_replies_the_security_group_let_in_are_counted_apart_from_inbound_flows() -> None:
    cdn, flood = "151.101.1.69", "91.240.118.50"
    answers = [line(cdn, "10.0.1.25", 51000 + i, 7000, srcport=443, bytes=10_000_000) for i in range(10)]
    out, counters = tally(
        [
            *answers,
            # The same from a port that is not a service's: a request (to a high port left open).
            line(cdn, "10.0.1.25", 51000, 7000, srcport=40000, bytes=10_000_000),
            # Rejected: nobody of ours asked (reflection), so it is counted.
            line(flood, "10.0.1.25", 51000, 9000, srcport=53, protocol=17, action="REJECT"),
            line(flood, "10.0.1.25", 443, 9000, srcport=53, protocol=17),  # to our service port: a request
            # Let in by an open UDP port: a flood from an amplifier's port all the same; a DNS answer is not.
            line(flood, "10.0.1.25", 51820, 9000, srcport=53, protocol=17),
            line("8.8.8.8", "10.0.1.25", 51820, 2, srcport=53, protocol=17),
        ]
    )
    assert counters.replies == 11
    assert counters.tallied == 4
    assert counters.lines == 15
    assert out[1764403200][cdn][parse.FLOWS] == 1
    assert out[1764403200][flood][parse.FLOWS] == 3


def test_a_syn_from_a_service_port_is_a_request_when_the_format_has_tcp_flags() -> None:
    fmt = parse_format(CUSTOM)

    def custom(flags: int) -> str:
        record = {
            "srcaddr": "185.156.73.54",
            "dstaddr": "10.0.1.10",
            "srcport": 80,
            "dstport": 8080,
            "protocol": 6,
            "tcp-flags": flags,
            "packets": 12,
            "bytes": 1200,
            "start": 1764403200,
            "end": 1764403210,
            "action": "ACCEPT",
            "flow-direction": "ingress",
        }
        return scenario.render(record, fmt)

    _, counters = tally([custom(2), custom(0), custom(18)], fmt)
    assert (counters.tallied, counters.replies) == (1, 2)


def test_without_action_in_the_format_replies_cannot_be_told_and_are_counted() -> None:
    fmt = parse_format(
        "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol}"
        " ${packets} ${bytes} ${start} ${end} ${log-status}"
    )
    record = {"srcaddr": "151.101.1.69", "dstaddr": "10.0.1.25", "srcport": 443, "dstport": 51000}
    record.update({"protocol": 6, "packets": 7000, "bytes": 10_000_000, "start": 1764403200, "end": 1764403210})
    _, counters = tally([scenario.render(record, fmt)], fmt)
    assert (counters.tallied, counters.replies) == (1, 0)
