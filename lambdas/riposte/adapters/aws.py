"""EC2 network ACLs, DynamoDB state and Secrets Manager behind the core's ports.

Clients are passed in (built once per container by ``runtime``), never created here.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from riposte.ports import AuditRecord, BlockRecord, NaclEntry, RuleNumberTakenError

# Delivery markers only need to outlive SQS redelivery (max retention 14 days); audit and blocks have no TTL.
DELIVERY_TTL_SECONDS = 30 * 24 * 3600


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Ec2Nacls:
    def __init__(self, ec2: Any, *, network_acl_ids: tuple[str, ...], vpc_ids: tuple[str, ...]) -> None:
        self._ec2 = ec2
        self._acl_ids = network_acl_ids
        self._vpc_ids = vpc_ids

    def target_acls(self) -> tuple[str, ...]:
        found = list(self._acl_ids)
        if self._vpc_ids:
            pages = self._ec2.get_paginator("describe_network_acls").paginate(
                Filters=[{"Name": "vpc-id", "Values": list(self._vpc_ids)}]
            )
            found.extend(acl["NetworkAclId"] for page in pages for acl in page["NetworkAcls"])
        return tuple(sorted(set(found)))

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
            if _code(error) == "NetworkAclEntryAlreadyExists":
                raise RuleNumberTakenError(f"{acl_id} rule {rule_number}") from error
            raise


class DynamoState:
    """One table, keyed (pk, sk): ``event#<id>`` holds an event's audit trail, ``delivery#<key>`` who was
    told, ``block#<acl>`` the blocks Riposte made there (what expiry will undo, and proof of ownership)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def record_audit(self, record: AuditRecord) -> None:
        item = {k: v for k, v in record.as_item().items() if v is not None}
        sk = f"audit#{record.time}#{record.kind}#{record.name}#{record.target}"
        self._table.put_item(Item={"pk": f"event#{record.event_id}", "sk": sk, **item})

    def record_block(self, block: BlockRecord) -> None:
        direction = "egress" if block.egress else "ingress"
        self._table.put_item(
            Item={
                "pk": f"block#{block.acl_id}",
                "sk": f"{direction}#{block.cidr}",
                "rule_number": block.rule_number,
                "event_id": block.event_id,
                "created_at": block.created_at,
                "expires_at": block.expires_at,
            }
        )

    def claim_delivery(self, key: str, channel: str, now: float, lease_seconds: int) -> bool:
        try:
            self._table.put_item(
                Item={
                    "pk": f"delivery#{key}",
                    "sk": channel,
                    "status": "in_progress",
                    "lease_until": int(now) + lease_seconds,
                    "ttl": int(now) + DELIVERY_TTL_SECONDS,
                },
                ConditionExpression="attribute_not_exists(pk) OR (#s = :busy AND lease_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":busy": "in_progress", ":now": int(now)},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def complete_delivery(self, key: str, channel: str, now: float) -> None:
        self._table.put_item(
            Item={
                "pk": f"delivery#{key}",
                "sk": channel,
                "status": "delivered",
                "delivered_at": int(now),
                "ttl": int(now) + DELIVERY_TTL_SECONDS,
            }
        )

    def release_delivery(self, key: str, channel: str) -> None:
        try:
            self._table.delete_item(
                Key={"pk": f"delivery#{key}", "sk": channel},
                ConditionExpression="#s = :busy",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":busy": "in_progress"},
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
