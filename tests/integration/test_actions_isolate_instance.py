"""isolate_instance against moto's EC2: two network interfaces quarantined and given back, the quarantine group
rule-less and reused, termination protection, the tag, forensic snapshots; dry-run making only reads; the exempt
tag; and the same in a member account reached through the member role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from riposte.actions.isolate_instance import ISOLATED_TAG, IsolateInstance
from riposte.adapters.aws.instances import QUARANTINE_TAG
from riposte.adapters.fakes import MemoryRecords
from riposte.core.model import Party, Role, Status
from riposte.engine import setup
from tests.integration.test_actions_sessions import Recorder, aws_context, member_session
from tests.unit.test_actions_common import MEMBER, event


@pytest.fixture
def moto() -> Iterator[boto3.session.Session]:
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


ENFORCE = setup.parse({"mode": "enforce", "actions": ["isolate_instance"]})
DRY_RUN = setup.parse({"mode": "dry_run", "actions": ["isolate_instance"]})


def launch(ec2: Any, *, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A VPC with an instance on two interfaces, each with its own groups, and one EBS volume."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    admin = ec2.create_security_group(GroupName="admin", Description="admin", VpcId=vpc)["GroupId"]
    extra = {
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
        ]
    }
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [web, admin]}],
        **(extra if tags else {}),
    )["Instances"][0]["InstanceId"]
    second = ec2.create_network_interface(SubnetId=subnet, Groups=[admin])["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=second, InstanceId=instance, DeviceIndex=1)
    return {"vpc": vpc, "instance": instance, "web": web, "admin": admin, "second": second}


def interfaces(ec2: Any, instance: str) -> dict[str, set[str]]:
    found = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [instance]}])
    return {n["NetworkInterfaceId"]: {g["GroupId"] for g in n["Groups"]} for n in found["NetworkInterfaces"]}


def described(ec2: Any, instance: str) -> dict[str, Any]:
    result: dict[str, Any] = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    return result


def protected(ec2: Any, instance: str) -> bool:
    attribute = ec2.describe_instance_attribute(InstanceId=instance, Attribute="disableApiTermination")
    return bool(attribute["DisableApiTermination"]["Value"])


def compromised(instance: str, account: str = "123456789012") -> Any:
    return event(Party("instance", instance, Role.COMPROMISED), account=account)


def test_isolation_and_release_on_ec2(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    net = launch(ec2)
    before = interfaces(ec2, net["instance"])
    assert len(before) == 2
    records = MemoryRecords()

    outcome = IsolateInstance().execute(
        net["instance"], aws_context(moto, ENFORCE, compromised(net["instance"]), records=records)
    )
    assert outcome.status is Status.DONE, outcome.detail

    (quarantine,) = ec2.describe_security_groups(
        Filters=[{"Name": f"tag:{QUARANTINE_TAG}", "Values": ["true"]}, {"Name": "vpc-id", "Values": [net["vpc"]]}]
    )["SecurityGroups"]
    assert quarantine["IpPermissions"] == []  # no rule at all
    assert quarantine["IpPermissionsEgress"] == []
    assert interfaces(ec2, net["instance"]) == {eni: {quarantine["GroupId"]} for eni in before}
    assert protected(ec2, net["instance"])
    tags = {t["Key"]: t["Value"] for t in described(ec2, net["instance"]).get("Tags", [])}
    assert tags[ISOLATED_TAG] == "test:event-1"
    snapshots = ec2.describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:riposte:instance", "Values": [net["instance"]]}]
    )
    volumes = [m["Ebs"]["VolumeId"] for m in described(ec2, net["instance"])["BlockDeviceMappings"]]
    assert sorted(s["VolumeId"] for s in snapshots["Snapshots"]) == sorted(volumes)

    released = IsolateInstance().undo(net["instance"], aws_context(moto, ENFORCE, event(), records=records))
    assert released.status is Status.DONE, released.detail
    assert interfaces(ec2, net["instance"]) == before
    assert not protected(ec2, net["instance"])
    assert ISOLATED_TAG not in {t["Key"] for t in described(ec2, net["instance"]).get("Tags", [])}


def test_a_second_instance_in_the_vpc_reuses_the_quarantine_group(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    net = launch(ec2)
    subnet = described(ec2, net["instance"])["SubnetId"]
    other = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet}]
    )["Instances"][0]["InstanceId"]
    for instance in (net["instance"], other):
        outcome = IsolateInstance().execute(instance, aws_context(moto, ENFORCE, compromised(instance)))
        assert outcome.status is Status.DONE, outcome.detail
    groups = ec2.describe_security_groups(Filters=[{"Name": f"tag:{QUARANTINE_TAG}", "Values": ["true"]}])
    assert len(groups["SecurityGroups"]) == 1


def test_dry_run_makes_only_reads(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    net = launch(ec2)
    before = interfaces(ec2, net["instance"])
    recorder = Recorder(moto)
    outcome = IsolateInstance().execute(net["instance"], aws_context(moto, DRY_RUN, compromised(net["instance"])))
    assert outcome.status is Status.DRY_RUN, outcome.detail
    assert recorder.operations  # it did read
    assert recorder.changes() == []
    assert interfaces(ec2, net["instance"]) == before
    assert not protected(ec2, net["instance"])


def test_an_instance_tagged_exempt_is_refused_without_a_change(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    net = launch(ec2, tags={"riposte:exempt": "true"})
    recorder = Recorder(moto)
    outcome = IsolateInstance().execute(net["instance"], aws_context(moto, ENFORCE, compromised(net["instance"])))
    assert (outcome.status, outcome.detail) == (Status.REFUSED, "exempt: tagged riposte:exempt=true")
    assert recorder.changes() == []


def test_an_instance_in_a_member_account_is_isolated_there(moto: boto3.session.Session) -> None:
    member = member_session().client("ec2")
    net = launch(member)
    records = MemoryRecords()
    outcome = IsolateInstance().execute(
        net["instance"], aws_context(moto, ENFORCE, compromised(net["instance"], MEMBER), records=records)
    )
    assert outcome.status is Status.DONE, outcome.detail
    assert all(len(groups) == 1 and groups != {net["web"]} for groups in interfaces(member, net["instance"]).values())
    assert (
        moto.client("ec2").describe_security_groups(Filters=[{"Name": f"tag:{QUARANTINE_TAG}", "Values": ["true"]}])[
            "SecurityGroups"
        ]
        == []
    )  # nothing was created in the responder's own account
    record = records.recall(f"isolate_instance#{net['instance']}")
    assert record is not None
    assert record["account"] == MEMBER


def test_a_terminated_instance_is_not_isolated(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    net = launch(ec2)
    ec2.terminate_instances(InstanceIds=[net["instance"]])
    recorder = Recorder(moto)
    outcome = IsolateInstance().execute(net["instance"], aws_context(moto, ENFORCE, compromised(net["instance"])))
    assert outcome.status is Status.FAILED
    assert "instance is terminated" in outcome.detail
    assert recorder.changes() == []
