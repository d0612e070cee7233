"""Ec2Nacls against moto: deletes verify number, CIDR and direction together; collisions are reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from riposte.adapters.aws.ec2 import Ec2Nacls
from riposte.core.ports import NaclEntry, RuleNumberTakenError


@pytest.fixture
def acl() -> Iterator[tuple[Any, Ec2Nacls, str]]:
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        acl_id = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        yield ec2, Ec2Nacls(ec2, network_acl_ids=(acl_id,), vpc_ids=()), acl_id


def test_add_then_remove_only_the_verified_entry(acl: tuple[Any, Ec2Nacls, str]) -> None:
    _, nacls, acl_id = acl
    nacls.add_deny(acl_id, 5, "91.240.118.77/32", egress=False)
    nacls.add_deny(acl_id, 6, "2a0d:5600:24::10/128", egress=False)
    with pytest.raises(RuleNumberTakenError):
        nacls.add_deny(acl_id, 5, "45.13.104.9/32", egress=False)
    assert not nacls.remove_deny(acl_id, 5, "45.13.104.9/32", egress=False)
    assert not nacls.remove_deny(acl_id, 5, "91.240.118.77/32", egress=True)
    assert not nacls.remove_deny(acl_id, 9, "91.240.118.77/32", egress=False)
    assert nacls.remove_deny(acl_id, 5, "91.240.118.77/32", egress=False)
    assert nacls.remove_deny(acl_id, 6, "2a0d:5600:24::10/128", egress=False)
    assert [e for e in nacls.entries(acl_id) if e.rule_number in (5, 6)] == []


def test_an_allow_entry_at_the_number_is_never_removed(acl: tuple[Any, Ec2Nacls, str]) -> None:
    ec2, nacls, acl_id = acl
    ec2.create_network_acl_entry(
        NetworkAclId=acl_id, RuleNumber=7, Egress=False, RuleAction="allow", CidrBlock="91.240.118.77/32", Protocol="-1"
    )
    assert not nacls.remove_deny(acl_id, 7, "91.240.118.77/32", egress=False)
    assert NaclEntry(7, False, "allow", "91.240.118.77/32") in nacls.entries(acl_id)
