"""``RecordsPort`` in the state table: one item per record, ``pk = record#<key>``, the value as JSON text (no
DynamoDB number conversions, and the same bytes come back)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class DynamoRecords:
    def __init__(self, table: Any) -> None:
        self._table = table

    def remember(self, key: str, value: Mapping[str, Any]) -> None:
        self._table.put_item(Item={"pk": f"record#{key}", "sk": "record", "value": json.dumps(value, sort_keys=True)})

    def recall(self, key: str) -> dict[str, Any] | None:
        # Consistent: an isolation reads what a concurrent one recorded a moment before.
        item = self._table.get_item(Key={"pk": f"record#{key}", "sk": "record"}, ConsistentRead=True).get("Item")
        return None if item is None else dict(json.loads(str(item["value"])))

    def forget(self, key: str) -> None:
        self._table.delete_item(Key={"pk": f"record#{key}", "sk": "record"})
