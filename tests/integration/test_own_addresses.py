"""The account's own addresses, discovered from EC2 (moto), are refused for every action."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from riposte.adapters.aws.own import DiscoveryError, OwnAddressBook
from riposte.core import guard


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2")


def network(ec2: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    nat_eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=nat_eip["AllocationId"])["NatGateway"]
    spare = ec2.allocate_address(Domain="vpc")  # not attached to anything: still ours
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t3.micro", SubnetId=subnet, MinCount=1, MaxCount=1)[
        "Instances"
    ][0]
    attached = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(InstanceId=instance["InstanceId"], AllocationId=attached["AllocationId"])
    acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"][0]["NetworkAclId"]
    return {
        "vpc": vpc,
        "acl": acl,
        "nat_ip": nat_eip["PublicIp"],
        "nat_id": nat["NatGatewayId"],
        "spare_ip": spare["PublicIp"],
        "spare_id": spare["AllocationId"],
        "instance_ip": attached["PublicIp"],
    }


def test_elastic_ips_nat_gateways_instances_and_vpc_cidrs_are_found(ec2: Any) -> None:
    net = network(ec2)
    own = dict(OwnAddressBook(ec2, vpc_ids=(net["vpc"],)).addresses())
    for ip in (net["nat_ip"], net["spare_ip"], net["instance_ip"]):
        assert ipaddress.ip_network(ip) in own, ip
    assert own[ipaddress.ip_network(net["spare_ip"])] == f"Elastic IP {net['spare_id']}"
    assert own[ipaddress.ip_network("10.30.0.0/16")] == f"CIDR of {net['vpc']}"
    # moto hands out Elastic IPs from any range (even loopback): name one of ours with a global address.
    mine = ((ipaddress.ip_network("52.95.1.7/32"), own[ipaddress.ip_network(net["spare_ip"])]),)
    assert (
        guard.refusal("52.95.1.7", (), mine)
        == f"52.95.1.7 is this account's own address (Elastic IP {net['spare_id']})"
    )


def test_vpcs_of_configured_acls_are_protected_too(ec2: Any) -> None:
    net = network(ec2)
    own = dict(OwnAddressBook(ec2, vpc_ids=(), network_acl_ids=(net["acl"],)).addresses())
    assert ipaddress.ip_network("10.30.0.0/16") in own
    assert ipaddress.ip_network(net["instance_ip"]) in own


def test_answers_are_cached_refreshed_and_kept_when_discovery_fails(ec2: Any) -> None:
    net = network(ec2)
    clock = [0.0]
    book = OwnAddressBook(ec2, vpc_ids=(net["vpc"],), max_age_seconds=300, clock=lambda: clock[0])
    first = book.addresses()
    late = ec2.allocate_address(Domain="vpc")["PublicIp"]
    assert book.addresses() is first  # cached
    clock[0] = 301
    assert ipaddress.ip_network(late) in dict(book.addresses())  # refreshed
    book._ec2 = None  # every call now fails
    clock[0] = 700
    assert ipaddress.ip_network(late) in dict(book.addresses())  # the last good answer keeps protecting


def test_without_any_answer_a_failed_discovery_fails_closed() -> None:
    class Broken:
        def describe_addresses(self) -> dict[str, Any]:
            raise ConnectionError("throttled")

    with pytest.raises(DiscoveryError, match="cannot read the account's own addresses"):
        OwnAddressBook(Broken(), vpc_ids=("vpc-1",)).addresses()
