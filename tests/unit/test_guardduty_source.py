from __future__ import annotations

import json
from typing import Any

import pytest

from riposte import sources
from riposte.core.model import SIGNAL_THREAT_INTEL, EventKind
from riposte.sources import InputError
from tests.conftest import EVENTS, load_event, with_detail


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
    with pytest.raises(InputError, match="known sources: guardduty"):
        sources.normalize({"hello": "world"})
    with pytest.raises(InputError, match="must be a JSON object"):
        sources.normalize([1, 2])


def test_forcing_an_unknown_source_lists_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="valid: guardduty"):
        sources.normalize(load_event("bitcoin_outbound.json"), source="splunk")
