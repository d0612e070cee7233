"""EC2 instances behind ``InstancePort``: describe, quarantine group, per-interface groups, tags, snapshots.

Groups are changed per network interface (ModifyNetworkInterfaceAttribute), not per instance: an instance with
several interfaces has groups on each, and ModifyInstanceAttribute only reaches the primary one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from riposte.actions.accounts import Instance, Interface
from riposte.adapters.aws import error_code

QUARANTINE_TAG = "riposte:quarantine"
MISSING = ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed")


class QuarantineGroupNameTakenError(RuntimeError):
    """A group by the quarantine name exists in the VPC but is not Riposte's (no tag): it may have rules."""


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class Ec2Instances:
    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def instance(self, instance_id: str) -> Instance | None:
        try:
            reservations = self._ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as error:
            if error_code(error) in MISSING:
                return None
            raise
        found = [i for r in reservations for i in r.get("Instances", [])]
        if not found:
            return None
        raw = found[0]
        protected = self._ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
        return Instance(
            id=instance_id,
            vpc_id=str(raw.get("VpcId", "")),
            state=str(raw.get("State", {}).get("Name", "")),
            tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
            interfaces=tuple(
                Interface(str(n["NetworkInterfaceId"]), tuple(str(g["GroupId"]) for g in n.get("Groups", [])))
                for n in sorted(
                    raw.get("NetworkInterfaces", []), key=lambda n: n.get("Attachment", {}).get("DeviceIndex", 0)
                )
            ),
            volumes=tuple(
                str(m["Ebs"]["VolumeId"])
                for m in raw.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("VolumeId")
            ),
            termination_protected=bool(protected.get("DisableApiTermination", {}).get("Value", False)),
        )

    def quarantine_group(self, vpc_id: str) -> str | None:
        groups = self._ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": f"tag:{QUARANTINE_TAG}", "Values": ["true"]}]
        )["SecurityGroups"]
        return str(sorted(g["GroupId"] for g in groups)[0]) if groups else None

    def create_quarantine_group(self, vpc_id: str, name: str) -> str:
        try:
            group = str(
                self._ec2.create_security_group(
                    GroupName=name,
                    Description="Riposte quarantine: no inbound or outbound rule. Do not add rules.",
                    VpcId=vpc_id,
                    TagSpecifications=[
                        {
                            "ResourceType": "security-group",
                            "Tags": _tags({QUARANTINE_TAG: "true", "Name": name}),
                        }
                    ],
                )["GroupId"]
            )
        except ClientError as error:
            if error_code(error) == "InvalidGroup.Duplicate":
                raise QuarantineGroupNameTakenError(
                    f"a security group named {name!r} exists in {vpc_id} without the {QUARANTINE_TAG} tag: "
                    "rename it or set isolation.quarantine_group_name"
                ) from error
            raise
        # A new group allows all outbound traffic: remove that rule, so nothing leaves the instance either.
        egress = self._ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0].get("IpPermissionsEgress")
        if egress:
            self._ec2.revoke_security_group_egress(GroupId=group, IpPermissions=egress)
        return group

    def set_groups(self, interface_id: str, groups: tuple[str, ...]) -> None:
        self._ec2.modify_network_interface_attribute(NetworkInterfaceId=interface_id, Groups=list(groups))

    def set_termination_protection(self, instance_id: str, enabled: bool) -> None:
        self._ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": enabled})

    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None:
        self._ec2.create_tags(Resources=[resource_id], Tags=_tags(tags))

    def untag(self, resource_id: str, keys: tuple[str, ...]) -> None:
        self._ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": k} for k in keys])

    def snapshots(self, tags: Mapping[str, str]) -> tuple[str, ...]:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        found = self._ec2.describe_snapshots(OwnerIds=["self"], Filters=filters)["Snapshots"]
        return tuple(sorted(str(s["SnapshotId"]) for s in found))

    def snapshot(self, volume_id: str, description: str, tags: Mapping[str, str]) -> str:
        return str(
            self._ec2.create_snapshot(
                VolumeId=volume_id,
                Description=description[:255],
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tags(tags)}],
            )["SnapshotId"]
        )
