"""EC2 network ACLs behind the core's ``NaclPort``. The client is passed in (built once per container)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from riposte.adapters.aws import error_code
from riposte.core.ports import NaclEntry, RuleNumberTakenError, RuleQuotaExceededError


class Ec2Nacls:
    def __init__(self, ec2: Any, *, network_acl_ids: tuple[str, ...], vpc_ids: tuple[str, ...]) -> None:
        self._ec2 = ec2
        self._acl_ids = network_acl_ids
        self._vpc_ids = vpc_ids

    def target_acls(self, subnets: tuple[str, ...] = ()) -> tuple[str, ...]:
        found = list(self._acl_ids)
        if self._vpc_ids:
            pages = self._ec2.get_paginator("describe_network_acls").paginate(
                Filters=[{"Name": "vpc-id", "Values": list(self._vpc_ids)}]
            )
            found.extend(acl["NetworkAclId"] for page in pages for acl in page["NetworkAcls"])
        allowed = sorted(set(found))
        if not subnets:
            return tuple(allowed)
        pages = self._ec2.get_paginator("describe_network_acls").paginate(
            Filters=[{"Name": "association.subnet-id", "Values": list(subnets)}]
        )
        serving = {acl["NetworkAclId"] for page in pages for acl in page["NetworkAcls"]}
        return tuple(acl for acl in allowed if acl in serving)

    def entries(self, acl_id: str) -> tuple[NaclEntry, ...]:
        acls = self._ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
        return tuple(
            NaclEntry(
                rule_number=int(e["RuleNumber"]),
                egress=bool(e["Egress"]),
                rule_action=str(e["RuleAction"]),
                cidr=str(e.get("CidrBlock") or e.get("Ipv6CidrBlock") or ""),
                protocol=str(e.get("Protocol", "-1")),
            )
            for acl in acls
            for e in acl.get("Entries", [])
        )

    def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
        block = {"Ipv6CidrBlock": cidr} if ":" in cidr else {"CidrBlock": cidr}
        try:
            self._ec2.create_network_acl_entry(
                NetworkAclId=acl_id,
                RuleNumber=rule_number,
                Protocol="-1",
                RuleAction="deny",
                Egress=egress,
                **block,
            )
        except ClientError as error:
            if error_code(error) == "NetworkAclEntryAlreadyExists":
                raise RuleNumberTakenError(f"{acl_id} rule {rule_number}") from error
            if error_code(error) == "NetworkAclEntryLimitExceeded":
                raise RuleQuotaExceededError(
                    f"AWS refused the entry: {acl_id} is at the account's rule quota"
                ) from error
            raise

    def replace_deny(self, acl_id: str, rule_number: int, old_cidr: str, new_cidr: str, *, egress: bool) -> bool:
        # Verified first (moto and EC2 differ on a missing entry); Riposte's writers hold the ACL's lock.
        current = [e for e in self.entries(acl_id) if e.rule_number == rule_number and e.egress == egress]
        if not current or current[0].rule_action != "deny" or current[0].cidr != old_cidr:
            return False
        block = {"Ipv6CidrBlock": new_cidr} if ":" in new_cidr else {"CidrBlock": new_cidr}
        self._ec2.replace_network_acl_entry(
            NetworkAclId=acl_id, RuleNumber=rule_number, Protocol="-1", RuleAction="deny", Egress=egress, **block
        )
        return True

    def remove_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> bool:
        # EC2 has no conditional delete: read the entry and delete only what we verified. The window between
        # the two calls is one API round trip, and Riposte's own writers hold the ACL's lock meanwhile.
        current = [e for e in self.entries(acl_id) if e.rule_number == rule_number and e.egress == egress]
        if not current or current[0].rule_action != "deny" or current[0].cidr != cidr:
            return False
        try:
            self._ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=rule_number, Egress=egress)
        except ClientError as error:
            if error_code(error) == "InvalidNetworkAclEntry.NotFound":
                return False
            raise
        return True
