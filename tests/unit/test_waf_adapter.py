"""Wafv2IpSets' exact requests (botocore Stubber): the LockToken of the latest read, a lost race retried with a
fresh read, a bounded number of times; the description kept; nothing written when nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from riposte.adapters.aws import waf as waf_module
from riposte.adapters.aws.waf import ATTEMPTS, Wafv2IpSets, clients_for, from_config
from riposte.core.config import IpSet, Waf, WafScope
from riposte.core.ports import IpSetConflictError, IpSetFullError

SET = IpSet(name="riposte-v4", id="3c9248bb-52cc-47e0-a27b-08ec2b70786e")
ARN = f"arn:aws:wafv2:us-east-1:123456789012:regional/ipset/riposte-v4/{SET.id}"
KEY = {"Name": SET.name, "Scope": "REGIONAL", "Id": SET.id}


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(waf_module, "pause", slept.append)
    return slept


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("wafv2", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def got(addresses: list[str], token: str, version: str = "IPV4", description: str = "") -> dict[str, Any]:
    ip_set: dict[str, Any] = {
        "Name": SET.name,
        "Id": SET.id,
        "ARN": ARN,
        "IPAddressVersion": version,
        "Addresses": addresses,
    }
    if description:
        ip_set["Description"] = description
    return {"IPSet": ip_set, "LockToken": token}


def conflict(stubber: Stubber) -> None:
    stubber.add_client_error(
        "update_ip_set",
        service_error_code="WAFOptimisticLockException",
        service_message="AWS WAF couldn't save your changes because someone changed the resource",
    )


def test_a_lost_race_is_retried_with_a_fresh_read_and_the_new_lock_token(
    stubbed: tuple[Any, Stubber], pauses: list[float]
) -> None:
    client, stubber = stubbed
    stubber.add_response("get_ip_set", got(["193.32.162.5/32"], "token-1"), KEY)
    conflict(stubber)  # someone else updated the set after our read
    stubber.add_response("get_ip_set", got(["193.32.162.5/32", "185.156.72.9/32"], "token-2", description="ours"), KEY)
    stubber.add_response(
        "update_ip_set",
        {"NextLockToken": "token-3"},
        {
            **KEY,
            "Addresses": ["193.32.162.5/32", "185.156.72.9/32", "45.13.104.17/32"],
            "LockToken": "token-2",
            "Description": "ours",
        },
    )
    waf = Wafv2IpSets({"REGIONAL": client}, (SET,))
    assert waf.add(SET.container, "45.13.104.17/32") is True
    assert len(pauses) == 1  # one jittered pause between the attempts
    assert 0 <= pauses[0] <= waf_module.BACKOFF_BASE_SECONDS


def test_conflicts_on_every_attempt_end_in_a_clear_error(stubbed: tuple[Any, Stubber], pauses: list[float]) -> None:
    client, stubber = stubbed
    for attempt in range(ATTEMPTS):
        stubber.add_response("get_ip_set", got([], f"token-{attempt}"), KEY)
        conflict(stubber)
    waf = Wafv2IpSets({"REGIONAL": client}, (SET,))
    with pytest.raises(IpSetConflictError, match=f"kept changing under us \\({ATTEMPTS} attempts\\)"):
        waf.add(SET.container, "45.13.104.17/32")
    assert len(pauses) == ATTEMPTS
    assert all(p <= waf_module.BACKOFF_CAP_SECONDS for p in pauses)


def test_other_errors_are_not_retried(stubbed: tuple[Any, Stubber], pauses: list[float]) -> None:
    client, stubber = stubbed
    stubber.add_response("get_ip_set", got([], "token-1"), KEY)
    stubber.add_client_error("update_ip_set", service_error_code="WAFLimitsExceededException")
    with pytest.raises(ClientError, match="WAFLimitsExceededException"):
        Wafv2IpSets({"REGIONAL": client}, (SET,)).add(SET.container, "45.13.104.17/32")
    assert pauses == []


def test_nothing_is_written_when_nothing_changes(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("get_ip_set", got(["45.13.104.17/32"], "t"), KEY)  # family (cached from now on)
    stubber.add_response("get_ip_set", got(["45.13.104.17/32"], "t"), KEY)  # add: already there
    stubber.add_response("get_ip_set", got(["45.13.104.17/32"], "t"), KEY)  # remove: not there
    waf = Wafv2IpSets({"REGIONAL": client}, (SET,))
    assert waf.family(SET.container) == 4
    assert waf.family(SET.container) == 4
    assert waf.add(SET.container, "45.13.104.17/32") is False
    assert waf.remove(SET.container, "91.240.118.77/32") is False


def test_a_full_set_is_refused_before_any_write(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("get_ip_set", got(["193.32.162.5/32", "185.156.72.9/32"], "t"), KEY)
    with pytest.raises(IpSetFullError, match="holds 2 addresses, its budget of 2"):
        Wafv2IpSets({"REGIONAL": client}, (SET,), capacity=2).add(SET.container, "45.13.104.17/32")


def test_clients_are_built_per_scope_and_cloudfront_is_in_us_east_1() -> None:
    session = boto3.session.Session(region_name="eu-west-1")
    cloudfront = IpSet(name="cf", id=SET.id, scope=WafScope.CLOUDFRONT)
    clients = clients_for(session, Waf(ip_sets=(SET, cloudfront)))
    assert {scope: c.meta.region_name for scope, c in clients.items()} == {
        "REGIONAL": "eu-west-1",
        "CLOUDFRONT": "us-east-1",
    }
    assert set(clients_for(session, Waf(ip_sets=(cloudfront,)))) == {"CLOUDFRONT"}
    assert from_config(session, Waf()) is None
