"""DynamoDB behind the core's ``StatePort``. The table resource is passed in (built once per container)."""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from riposte.adapters.aws import error_code
from riposte.core.ports import HIT_CAP, AuditRecord, BlockRecord, BlockStatus, Digest, DigestItem, OpenIncident

# Delivery markers only need to outlive SQS redelivery (max retention 14 days); audit and blocks have no TTL.
DELIVERY_TTL_SECONDS = 30 * 24 * 3600
# A digest Slack never took (its webhook gone for good) is dropped after this; the audit trail keeps each decision.
DIGEST_TTL_SECONDS = 7 * 24 * 3600
# Open incidents live in one partition, one item each, listed by the maintenance run.
INCIDENTS_PK = "incidents#open"
# DynamoDB sort keys hold at most 1024 bytes; a longer incident key is stored under its digest (and in full).
SORT_KEY_MAX = 512


class DynamoState:
    """One table, keyed (pk, sk): ``event#<id>`` holds an event's audit trail, ``delivery#<key>`` who was
    told, ``block#<acl>`` the blocks Riposte made there (what expiry will undo, and proof of ownership)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def record_audit(self, record: AuditRecord) -> None:
        item = {k: v for k, v in record.as_item().items() if v is not None}
        sk = f"audit#{record.time}#{record.kind}#{record.name}#{record.target}"
        self._table.put_item(Item={"pk": f"event#{record.event_id}", "sk": sk, **item})

    @staticmethod
    def _block_key(block: BlockRecord) -> dict[str, str]:
        direction = "egress" if block.egress else "ingress"
        return {"pk": f"block#{block.acl_id}", "sk": f"{direction}#{block.cidr}"}

    def record_block(self, block: BlockRecord) -> None:
        self._table.put_item(
            Item={
                **self._block_key(block),
                "rule_number": block.rule_number,
                "event_id": block.event_id,
                "created_at": block.created_at,
                "expires_at": block.expires_at,
                "status": block.status,
                "score": block.score,
                "offences": block.offences,
                "reason": block.reason,
                "incident": block.incident,
            }
        )

    def forget_block(self, block: BlockRecord) -> bool:
        try:
            self._table.delete_item(
                Key=self._block_key(block),
                ConditionExpression="rule_number = :n",
                ExpressionAttributeValues={":n": block.rule_number},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list_blocks(self, containers: tuple[str, ...]) -> tuple[BlockRecord, ...]:
        found: list[BlockRecord] = []
        for container in containers:
            query: dict[str, Any] = {
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": f"block#{container}"},
                "ConsistentRead": True,
            }
            while True:
                page = self._table.query(**query)
                found += [_block_of(container, item) for item in page["Items"]]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return tuple(found)

    def discard_block(self, block: BlockRecord) -> None:
        try:
            self._table.delete_item(
                Key=self._block_key(block),
                ConditionExpression="#s = :pending AND rule_number = :n",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": BlockStatus.PENDING, ":n": block.rule_number},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def acquire_lock(self, name: str, owner: str, now: float, lease_seconds: int) -> bool:
        try:
            self._table.put_item(
                Item={"pk": f"lock#{name}", "sk": "lock", "owner": owner, "lease_until": int(now) + lease_seconds},
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": int(now), ":owner": owner},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_lock(self, name: str, owner: str) -> None:
        try:
            self._table.delete_item(
                Key={"pk": f"lock#{name}", "sk": "lock"},
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

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
            if error_code(error) == "ConditionalCheckFailedException":
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
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    BREAKER = {"pk": "breaker", "sk": "breaker"}  # noqa: RUF012 - a key, never mutated

    def trip_breaker(self, reason: str, now: float) -> bool:
        try:
            self._table.put_item(
                Item={**self.BREAKER, "reason": reason, "since": int(now)},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def breaker(self) -> str | None:
        # A query reads strongly consistent like the rest of this adapter, and needs no GetItem grant.
        items = self._table.query(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "breaker"}, ConsistentRead=True
        )["Items"]
        return f"{items[0]['reason']} (since {int(items[0]['since'])})" if items else None

    def reset_breaker(self) -> None:
        self._table.delete_item(Key=self.BREAKER)

    def hit(self, key: str, member: str, window_seconds: int, now: float) -> int:
        start = int(now // window_seconds) * window_seconds
        item_key = {"pk": f"count#{key}", "sk": str(start)}
        try:
            # A string set: adding a member twice (a redelivery) leaves it as it was.
            response = self._table.update_item(
                Key=item_key,
                UpdateExpression="ADD #m :member SET #ttl = if_not_exists(#ttl, :ttl)",
                ConditionExpression="attribute_not_exists(#m) OR size(#m) < :cap OR contains(#m, :one)",
                ExpressionAttributeNames={"#m": "members", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":member": {member},
                    ":one": member,
                    ":cap": HIT_CAP,
                    ":ttl": start + 2 * window_seconds + 3600,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return HIT_CAP
            raise
        return len(response["Attributes"]["members"])

    def sighting(self, key: str, source: str, now: float, window_seconds: int) -> frozenset[str]:
        self._table.put_item(
            Item={"pk": f"seen#{key}", "sk": source, "at": int(now), "ttl": int(now) + window_seconds + 3600}
        )
        items = self._table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": f"seen#{key}"},
            ConsistentRead=True,
        )["Items"]
        return frozenset(str(i["sk"]) for i in items if int(i["at"]) >= int(now) - window_seconds)

    def _items(self, pk: str, sk: str | None = None) -> list[dict[str, Any]]:
        """Every item of partition ``pk`` (only ``sk`` when given), read consistently, page by page."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk" + (" AND sk = :sk" if sk is not None else ""),
            "ExpressionAttributeValues": {":pk": pk, **({":sk": sk} if sk is not None else {})},
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**query)
            found += page["Items"]
            if "LastEvaluatedKey" not in page:
                return found
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delivered(self, key: str, channel: str) -> bool:
        return any(i.get("status") == "delivered" for i in self._items(f"delivery#{key}", channel))

    def forget_delivery(self, key: str, channel: str) -> None:
        try:
            self._table.delete_item(
                Key={"pk": f"delivery#{key}", "sk": channel},
                ConditionExpression="#s = :done",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": "delivered"},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    @staticmethod
    def _incident_key(incident: str) -> dict[str, str]:
        raw = incident.encode()
        sk = incident if len(raw) <= SORT_KEY_MAX else "sha256:" + hashlib.sha256(raw).hexdigest()
        return {"pk": INCIDENTS_PK, "sk": sk}

    def open_incident(self, incident: str, addresses: tuple[str, ...], now: float) -> None:
        # One atomic update: concurrent pages of one incident (an escalation) merge their addresses.
        update = "SET #i = :incident, #o = if_not_exists(#o, :now)"
        names = {"#i": "incident", "#o": "opened"}
        values: dict[str, Any] = {":incident": incident, ":now": int(now)}
        if addresses:  # DynamoDB refuses an empty set
            update += " ADD #a :addresses"
            names["#a"] = "addresses"
            values[":addresses"] = set(addresses)
        self._table.update_item(
            Key=self._incident_key(incident),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def open_incidents(self) -> tuple[OpenIncident, ...]:
        return tuple(
            OpenIncident(
                incident=str(item["incident"]),
                addresses=tuple(sorted(str(a) for a in item.get("addresses", ()))),
                opened=int(item.get("opened", 0)),
            )
            for item in self._items(INCIDENTS_PK)
        )

    def close_incident(self, incident: str) -> None:
        self._table.delete_item(Key=self._incident_key(incident))

    @staticmethod
    def _digest_key(channel: str, window: int) -> dict[str, str]:
        # Zero-padded, so that sort keys order windows by time.
        return {"pk": f"digest#{channel}", "sk": f"{window:012d}"}

    def load_digest(self, channel: str, window: int) -> Digest | None:
        key = self._digest_key(channel, window)
        items = self._items(key["pk"], key["sk"])
        return _digest_of(channel, items[0]) if items else None

    def save_digest(self, digest: Digest, expected_version: int) -> bool:
        if expected_version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#v = :expected",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":expected": expected_version},
            }
        try:
            self._table.put_item(
                Item={
                    **self._digest_key(digest.channel, digest.window),
                    "window": digest.window,
                    "seconds": digest.seconds,
                    "token": digest.token,
                    "version": digest.version,
                    "counts": dict(digest.counts),
                    "top": [
                        {
                            "score": i.score,
                            "severity": i.severity,
                            "title": i.title,
                            "response": i.response,
                            "event_id": i.event_id,
                        }
                        for i in digest.top
                    ],
                    "members": list(digest.members),
                    "ttl": digest.window + digest.seconds + DIGEST_TTL_SECONDS,
                },
                **condition,
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def closed_digests(self, channel: str, now: float) -> tuple[Digest, ...]:
        digests = (_digest_of(channel, item) for item in self._items(f"digest#{channel}"))
        return tuple(sorted((d for d in digests if d.window + d.seconds <= now), key=lambda d: d.window))

    def drop_digest(self, digest: Digest) -> None:
        try:
            self._table.delete_item(
                Key=self._digest_key(digest.channel, digest.window),
                ConditionExpression="#t = :token",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":token": digest.token},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise


def _block_of(container: str, item: dict[str, Any]) -> BlockRecord:
    direction, cidr = str(item["sk"]).split("#", 1)
    return BlockRecord(
        acl_id=container,
        cidr=cidr,
        rule_number=int(item["rule_number"]),
        egress=direction == "egress",
        event_id=str(item.get("event_id", "")),
        created_at=str(item.get("created_at", "")),
        expires_at=str(item.get("expires_at", "")),
        status=str(item.get("status", BlockStatus.ACTIVE)),
        score=int(item.get("score", 0)),
        offences=int(item.get("offences", 1)),
        reason=str(item.get("reason", "")),
        incident=str(item.get("incident", "")),
    )


def _digest_of(channel: str, item: dict[str, Any]) -> Digest:
    return Digest(
        channel=channel,
        window=int(item["window"]),
        seconds=int(item["seconds"]),
        token=str(item["token"]),
        version=int(item["version"]),
        counts={str(k): int(v) for k, v in dict(item.get("counts", {})).items()},
        top=tuple(
            DigestItem(
                score=int(i["score"]),
                severity=str(i["severity"]),
                title=str(i["title"]),
                response=str(i["response"]),
                event_id=str(i["event_id"]),
            )
            for i in item.get("top", ())
        ),
        members=tuple(str(m) for m in item.get("members", ())),
    )
