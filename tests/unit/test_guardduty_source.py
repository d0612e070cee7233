from __future__ import annotations

import json
from typing import Any

import pytest

from riposte import sources
from riposte.core.config import Config
from riposte.core.model import (
    SIGNAL_ALREADY_BLOCKED,
    SIGNAL_ARCHIVED,
    SIGNAL_SAMPLE,
    SIGNAL_THREAT_INTEL,
    EventKind,
)
from riposte.engine import pipeline, setup
from riposte.sources import InputError
from tests.conftest import EVENTS, GUARDDUTY, load_event, with_detail


def test_network_connection_finding_names_the_remote_ip_instance_and_account() -> None:
    event = sources.normalize(load_event("c2_activity_outbound.json"))
    assert event.source == "guardduty"
    assert event.kind is EventKind.NETWORK_CONNECTION
    assert event.type == "Backdoor:EC2/C&CActivity.B"
    assert event.native_severity == 8.0
    assert event.entities.ips == ("91.240.118.77",)  # the remote side only, never our private address
    assert event.entities.instances == ("i-0a1b2c3d4e5f60718",)
    assert event.entities.accounts == ("123456789012",)
    assert SIGNAL_THREAT_INTEL in event.signals
    evidence = dict(event.evidence)
    assert evidence["Direction"] == "outbound"
    assert evidence["Remote IP"] == "91.240.118.77 (AS64500 Example Hosting, Netherlands)"
    assert evidence["Threat list"] == "ProofPoint"
    assert evidence["Instance private IP"] == "10.20.1.15"


def test_port_probe_collects_every_distinct_prober() -> None:
    event = sources.normalize(load_event("port_probe_multi.json"))
    assert event.kind is EventKind.PORT_PROBE
    assert event.entities.ips == ("45.13.104.50", "10.0.0.9")
    assert dict(event.evidence)["Probed ports"] == "22 (SSH), 3389 (RDP)"


def test_api_call_finding_names_the_access_key_and_principal() -> None:
    event = sources.normalize(load_event("api_call_malicious_ip.json"))
    assert event.kind is EventKind.API_CALL
    assert event.entities.access_keys == ("AKIAIOSFODNN7EXAMPLE",)
    assert event.entities.principals == ("ci-deployer",)
    assert event.entities.ips == ("193.32.162.200",)
    assert dict(event.evidence)["API"] == "s3.amazonaws.com:ListBuckets"


def test_get_findings_pascal_case_gives_the_same_event_as_eventbridge() -> None:
    exported = json.loads((EVENTS / "get_findings_output.json").read_text())["Findings"][0]
    from_api = sources.normalize(exported)
    original = load_event("bitcoin_outbound.json")
    from_eventbridge = sources.normalize(with_detail(original, id=exported["Id"]))
    assert from_api == from_eventbridge


def test_ipv6_remote_address_is_kept() -> None:
    raw = load_event("bitcoin_outbound.json")
    remote = raw["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]
    remote.pop("ipAddressV4")
    remote["ipAddressV6"] = "2001:db8::77"
    assert sources.normalize(raw).entities.ips == ("2001:db8::77",)


def test_redelivery_has_the_same_id_and_an_update_a_new_one() -> None:
    raw = load_event("bitcoin_outbound.json")
    assert sources.normalize(raw).id == sources.normalize(json.loads(json.dumps(raw))).id
    updated = with_detail(raw, updatedAt="2026-11-28T03:00:00.000Z")
    assert sources.normalize(updated).id != sources.normalize(raw).id


def test_unknown_fields_are_ignored() -> None:
    raw = with_detail(load_event("bitcoin_outbound.json"), brandNewField={"x": 1})
    assert sources.normalize(raw).type == "CryptoCurrency:EC2/BitcoinTool.B"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["detail"].pop("id"), "detail|id: Field required"),
        (lambda r: r["detail"].update(severity="high"), "severity"),
        (lambda r: r["detail"].update(severity=11), "severity"),
        (
            lambda r: r.update({"detail-type": "GuardDuty Runtime Protection Unhealthy"}),
            "expected detail-type",
        ),
        (lambda r: r.update(detail="oops"), "no 'detail' object"),
    ],
)
def test_malformed_findings_raise_a_clear_input_error(mutate: Any, message: str) -> None:
    raw = load_event("bitcoin_outbound.json")
    mutate(raw)
    with pytest.raises(InputError, match=message):
        sources.normalize(raw)


def test_unrecognized_shapes_are_rejected_with_the_known_sources() -> None:
    with pytest.raises(InputError, match="known sources: cloudtrail, flowlogs, guardduty"):
        sources.normalize({"hello": "world"})
    with pytest.raises(InputError, match="must be a JSON object"):
        sources.normalize([1, 2])


def test_forcing_an_unknown_source_lists_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="valid: cloudtrail, flowlogs, guardduty"):
        sources.normalize(load_event("bitcoin_outbound.json"), source="splunk")


# --- strict where decisions depend on the value, lenient elsewhere ------------------------------------------


def _service(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(raw))
    copy["detail"]["service"].update(changes)
    return copy


@pytest.mark.parametrize(
    ("severity", "message"),
    [
        ("8", "severity: Input should be a valid number"),
        (True, "severity: Input should be a valid number"),
        (float("nan"), "severity: Input should be a finite number"),
        (float("inf"), "severity: Input should be a finite number"),
        (-0.1, "severity: Input should be greater than or equal to 0"),
        (10.01, "severity: Input should be less than or equal to 10"),
        (None, "severity"),
    ],
)
def test_severity_must_be_a_real_number_from_0_to_10(severity: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sources.normalize(with_detail(load_event("bitcoin_outbound.json"), severity=severity))


@pytest.mark.parametrize(
    ("severity", "note"),
    [
        (0, "GuardDuty severity 0 (Informational)"),
        (1, "GuardDuty severity 1 (Low)"),
        (3.9, "GuardDuty severity 3.9 (Low)"),
        (4, "GuardDuty severity 4 (Medium)"),
        (6.95, "GuardDuty severity 6.95 (Medium)"),
        (7.0, "GuardDuty severity 7 (High)"),
        (8.9, "GuardDuty severity 8.9 (High)"),
        (9, "GuardDuty severity 9 (Critical)"),
        (10, "GuardDuty severity 10 (Critical)"),
    ],
)
def test_severity_is_named_with_guarddutys_band(severity: float, note: str) -> None:
    event = sources.normalize(with_detail(load_event("bitcoin_outbound.json"), severity=severity))
    assert (event.native_severity, event.severity_note) == (severity, note)


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (-5, "service.count: Input should be greater than or equal to 1"),
        (0, "service.count: Input should be greater than or equal to 1"),
        (2**31, "service.count: Input should be less than or equal to 2147483647"),
        (10**300, "service.count: Input should be less than or equal to 2147483647"),
        ("5", "service.count: Input should be a valid integer"),
        (True, "service.count: Input should be a valid integer"),
        (5.0, "service.count: Input should be a valid integer"),
    ],
)
def test_count_must_be_a_guardduty_integer_of_at_least_one(count: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sources.normalize(_service(load_event("bitcoin_outbound.json"), count=count))


@pytest.mark.parametrize("count", [1, 2**31 - 1])
def test_count_boundaries_are_accepted(count: int) -> None:
    assert sources.normalize(_service(load_event("bitcoin_outbound.json"), count=count)).count == count


def test_a_null_count_means_once() -> None:
    assert sources.normalize(_service(load_event("bitcoin_outbound.json"), count=None)).count == 1


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("bitcoin_outbound.json", ("networkConnectionAction",)),
        ("port_probe_multi.json", ("portProbeAction",)),
        ("ec2_dns_exfiltration.json", ("dnsRequestAction",)),
    ],
)
def test_blocked_must_be_a_real_boolean(fixture: str, path: tuple[str, ...]) -> None:
    raw = load_event(fixture)
    action = raw["detail"]["service"]["action"][path[0]]
    action["blocked"] = "yes"
    with pytest.raises(InputError, match=rf"{path[0]}\.blocked: Input should be a valid boolean"):
        sources.normalize(raw)
    action["blocked"] = True
    assert SIGNAL_ALREADY_BLOCKED in sources.normalize(raw).signals
    action["blocked"] = False
    assert SIGNAL_ALREADY_BLOCKED not in sources.normalize(raw).signals


@pytest.mark.parametrize("archived", ["true", 1, "yes"])
def test_archived_must_be_a_real_boolean(archived: Any) -> None:
    with pytest.raises(InputError, match=r"service\.archived: Input should be a valid boolean"):
        sources.normalize(_service(load_event("bitcoin_outbound.json"), archived=archived))


def test_affiliated_must_be_a_real_boolean() -> None:
    raw = load_event("iam_malicious_ip_remote_account.json")
    raw["detail"]["service"]["action"]["awsApiCallAction"]["remoteAccountDetails"]["affiliated"] = "false"
    with pytest.raises(InputError, match=r"remoteAccountDetails\.affiliated: Input should be a valid boolean"):
        sources.normalize(raw)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-ip", "ipAddressV4: Value error, 'not-an-ip' is not an IP address"),
        ("45.13.105.9/32", "is not an IP address"),
        ("fe80::1%eth0", "cannot carry a zone index"),
        (4513105, "ipAddressV4: Input should be a valid string"),
    ],
)
def test_remote_addresses_must_be_ip_addresses(address: Any, message: str) -> None:
    raw = load_event("bitcoin_outbound.json")
    raw["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = address
    with pytest.raises(InputError, match=message):
        sources.normalize(raw)


def test_remote_addresses_are_normalized_and_an_empty_one_is_absent() -> None:
    raw = load_event("bitcoin_outbound.json")
    remote = raw["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]
    remote.update(ipAddressV4="", ipAddressV6="2A0D:5600:0024:0000::0077")
    assert sources.normalize(raw).entities.ips == ("2a0d:5600:24::77",)


def test_identifiers_an_action_could_target_must_be_strings() -> None:
    raw = with_detail(load_event("bitcoin_outbound.json"))
    raw["detail"]["resource"]["instanceDetails"]["instanceId"] = 12345
    with pytest.raises(InputError, match=r"instanceDetails\.instanceId: Input should be a valid string"):
        sources.normalize(raw)


@pytest.mark.parametrize(("asn", "shown"), [(64500, "AS64500 "), ("64500", "AS64500 "), ("-1", ""), ("0", "")])
def test_asn_may_be_a_number_or_a_string_and_unknown_asns_are_not_shown(asn: Any, shown: str) -> None:
    raw = load_event("c2_activity_outbound.json")
    raw["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["organization"]["asn"] = asn
    remote = dict(sources.normalize(raw).evidence)["Remote IP"]
    assert remote == f"91.240.118.77 ({shown}Example Hosting, Netherlands)"


def test_shown_only_fields_of_the_wrong_type_are_dropped_not_fatal() -> None:
    raw = load_event("c2_activity_outbound.json")
    conn = raw["detail"]["service"]["action"]["networkConnectionAction"]
    conn["remoteIpDetails"]["country"]["countryName"] = {"unexpected": "object"}
    conn["remotePortDetails"]["port"] = "443"
    conn["remoteIpDetails"]["organization"]["asn"] = True
    evidence = dict(sources.normalize(raw).evidence)
    assert evidence["Remote IP"] == "91.240.118.77 (Example Hosting)"
    assert "Remote port" not in evidence


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-28T03:00:00.000Z", "2026-11-28T03:00:00.000Z"),
        (1795834800, "2026-11-28T03:00:00.000Z"),
        (1795834800.5, "2026-11-28T03:00:00.500Z"),
    ],
)
def test_timestamps_may_be_iso_strings_or_epoch_seconds(stamp: Any, expected: str) -> None:
    event = sources.normalize(with_detail(load_event("bitcoin_outbound.json"), updatedAt=stamp))
    assert event.time == expected
    assert event.id.endswith(f":{expected}")


@pytest.mark.parametrize(("stamp", "message"), [(True, "ISO-8601 string or epoch"), (1e300, "out of range")])
def test_a_finding_timestamp_of_another_type_is_refused(stamp: Any, message: str) -> None:
    with pytest.raises(InputError, match=f"updatedAt: Value error, .*{message}"):
        sources.normalize(with_detail(load_event("bitcoin_outbound.json"), updatedAt=stamp))


def test_explicit_nulls_mean_absent() -> None:
    raw = with_detail(load_event("bitcoin_outbound.json"), title=None, resource=None)
    raw["detail"]["service"].update(action=None, evidence=None, additionalInfo=None, archived=None)
    event = sources.normalize(raw)
    assert (event.title, event.entities.ips, event.entities.instances) == (event.type, (), ())


# --- sample and archived: recognised in every form, never acted on ------------------------------------------


@pytest.mark.parametrize(
    "info",
    [
        {"sample": True},
        {"sample": True, "value": '{"sample":true}', "type": "default"},
        {"value": '{"sample":true}', "type": "default"},
        {"Value": '{"sample":true}', "Type": "default"},
        {"sample": "true"},
        {"value": '{"sample":"true"}'},
        {"sample": False, "value": '{"sample":true}'},
    ],
)
def test_a_sample_finding_is_recognised_in_every_form(info: dict[str, Any]) -> None:
    assert (
        SIGNAL_SAMPLE
        in sources.normalize(_service(load_event("c2_activity_outbound.json"), additionalInfo=info)).signals
    )


@pytest.mark.parametrize(
    "info",
    [{}, {"sample": False}, {"value": "{}"}, {"value": '{"sample":false}'}, {"sample": "false"}, {"value": "[]"}],
)
def test_a_live_finding_is_not_a_sample(info: dict[str, Any]) -> None:
    raw = _service(load_event("c2_activity_outbound.json"), additionalInfo=info)
    assert SIGNAL_SAMPLE not in sources.normalize(raw).signals


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"sample": "yes"}, "additionalInfo.sample: must be true or false"),
        ({"sample": 1}, "additionalInfo.sample: must be true or false"),
        ({"value": '{"sample":1}'}, r"additionalInfo.value.sample: must be true or false"),
        ({"value": "{not json"}, "additionalInfo.value: not valid JSON"),
        ({"Value": "[" * 100_000}, "additionalInfo.Value: not valid JSON"),
    ],
)
def test_an_unreadable_sample_flag_is_refused_rather_than_guessed(info: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        sources.normalize(_service(load_event("c2_activity_outbound.json"), additionalInfo=info))


@pytest.mark.parametrize(
    ("change", "signal"),
    [({"additionalInfo": {"sample": True}}, SIGNAL_SAMPLE), ({"archived": True}, SIGNAL_ARCHIVED)],
)
def test_sample_and_archived_findings_are_capped_at_low_and_never_acted_on(change: dict[str, Any], signal: str) -> None:
    config = setup.check(Config())
    live = pipeline.plan(load_event("c2_activity_outbound.json"), config)
    assert [a.target for a in live.actions] == ["91.240.118.77"]
    plan = pipeline.plan(_service(load_event("c2_activity_outbound.json"), **change), config)
    assert signal in plan.event.signals
    assert (plan.actions, str(plan.score.severity)) == ((), "low")


# --- nesting and key spelling ----------------------------------------------------------------------------------


def _pascal_finding() -> dict[str, Any]:
    (finding,) = json.loads((GUARDDUTY / "get_findings" / "getfindings_pascal_iam_api_call.json").read_text())[
        "Findings"
    ]
    return dict(finding)


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["Nested"] = {}
        node = node["Nested"]
    return root


def test_deeply_nested_pascal_case_findings_are_read_without_recursing() -> None:
    finding = _pascal_finding()
    finding["Service"]["AdditionalInfo"]["Deep"] = _deep(100_000)
    finding["Resource"]["Unknown"] = _deep(100_000)
    assert sources.normalize(finding).type == "UnauthorizedAccess:IAMUser/MaliciousIPCaller"


def test_deep_nesting_where_a_structure_is_expected_is_an_input_error() -> None:
    finding = _pascal_finding()
    finding["Resource"]["AccessKeyDetails"] = {"AccessKeyId": _deep(100_000)}
    with pytest.raises(InputError, match=r"AccessKeyDetails\.AccessKeyId: Input should be a valid string"):
        sources.normalize(finding)


def test_map_keys_are_never_rewritten() -> None:
    finding = _pascal_finding()
    action = finding["Service"]["Action"]["AwsApiCallAction"]
    action["AffectedResources"] = {
        "AWS::S3::Bucket": "arn:aws:s3:::acme-audit",
        "AWS::IAM::Role": "arn:aws:iam::1:role/x",
    }
    event = sources.normalize(finding)
    assert event.entities.buckets == ("acme-audit",)
    assert dict(event.evidence)["Affected resources"] == "AWS::IAM::Role arn:aws:iam::1:role/x"


def test_kubernetes_source_ips_are_read_in_every_spelling() -> None:
    raw = load_event("eks_audit_malicious_ip_sourceips.json")
    call = raw["detail"]["service"]["action"]["kubernetesApiCallAction"]
    for key in ("sourceIPs", "SourceIps", "sourceIps"):
        call.pop("sourceIPs", None), call.pop("SourceIps", None), call.pop("sourceIps", None)
        call[key] = ["193.32.162.71"]
        assert "193.32.162.71" in sources.normalize(raw).entities.ips, key


def test_rds_login_attributes_are_read_with_either_first_letter() -> None:
    raw = load_event("rds_malicious_ip_failed_login.json")
    action = raw["detail"]["service"]["action"]["rdsLoginAttemptAction"]
    action["loginAttributes"] = action.pop("LoginAttributes")
    event = sources.normalize(raw)
    assert event.entities.principals == ("postgres", "admin")
    assert dict(event.evidence)["Login attempts"] == "postgres: 412 failed, admin (psql): 37 failed"
