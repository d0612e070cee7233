"""DynamoDB behind ``riposte.flowlogs.FlowState``, on the state table (``pk``/``sk`` strings, TTL attribute
``ttl``). The low-level client is passed in (built once per container); it is thread-safe, so the writes of one
window go out a few at a time.

Items (see ``riposte.flowlogs.state`` for the contract):

- ``flowwin#<ip>`` / ``<window>``: one source's merged traffic in one window. Counters grow by atomic ``ADD``;
  ports (a number set), hosts, interfaces and subnets (string sets) by set union, only while under their caps
  (a condition on ``size``); ``parts`` holds the deliveries merged, so that a retried one is not added again.
  Keyed by source first, so that concurrent invocations spread over partitions. Gone two hours after the
  window (TTL): delivery lags minutes, and older windows are never acted on.
- ``flowpop#<window>`` / ``population``: the window's population summary, ``ADD`` on flat per-bucket counts
  (``f<octave>``, ``p<octave>``, ``b<octave>`` for flows, packets and bytes); same TTL.
- ``flowbase#<ip>`` / ``baseline``: the source's baseline, one string written by a conditional put
  (compare-and-set on the string read before); gone a week after its last update.

Calls: UpdateItem, GetItem, BatchGetItem, PutItem (``FLOWLOGS_TABLE_CALLS`` in ``stacks.constructs.flowlogs``
grants exactly these; a test compares the two).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from riposte.adapters.aws import error_code
from riposte.flowlogs.state import Baseline
from riposte.flowlogs.window import Caps, Population, SourceTally

WINDOW_TTL_SECONDS = 2 * 3600
BASELINE_TTL_SECONDS = 7 * 24 * 3600
BATCH_GET_MAX = 100  # keys per BatchGetItem
BATCH_GET_ATTEMPTS = 8  # unprocessed keys (throttling) are asked again, with backoff, then it fails
WORKERS = 8  # concurrent writes per window: latency-bound calls, a few at a time

_COUNTERS = ("flows", "packets", "bytes", "rejects", "admin_short")
_SETS = (("ports", "NS"), ("hosts", "SS"), ("interfaces", "SS"), ("subnets", "SS"))
_METRICS = (("f", "flows"), ("p", "packets"), ("b", "bytes"))

_T = TypeVar("_T")
_R = TypeVar("_R")
_K = TypeVar("_K", int, str)


def encode_baseline(value: Baseline) -> str:
    """One string per baseline: floats by ``repr`` (exact round trip), so a compare-and-set on the string read
    compares exactly the baseline read."""
    parts = [str(value.window), str(value.windows), repr(value.flows), repr(value.packets), repr(value.bytes)]
    if value.prior is not None:
        parts += [repr(x) for x in value.prior]
    return " ".join(parts)


def decode_baseline(text: str) -> Baseline:
    window, windows, flows, packets, nbytes, *prior = text.split()
    return Baseline(
        window=int(window),
        windows=int(windows),
        flows=float(flows),
        packets=float(packets),
        bytes=float(nbytes),
        prior=(float(prior[0]), float(prior[1]), float(prior[2])) if prior else None,
    )


def _number(item: Mapping[str, Any], name: str) -> int:
    found = item.get(name)
    return int(found["N"]) if found else 0


def _strings(item: Mapping[str, Any], name: str, kind: str) -> list[str]:
    found = item.get(name)
    return list(found[kind]) if found else []


def _capped(values: Iterable[_K], cap: int) -> frozenset[_K]:
    # The smallest past the cap, as MemoryFlowState keeps them: enough to say "over the threshold".
    return frozenset(sorted(values)[:cap])


class DynamoFlowState:
    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        caps: Caps | None = None,
        clock: Callable[[], float] = time.time,
        workers: int = WORKERS,
    ) -> None:
        self._client = client
        self._table = table_name
        self.caps = caps or Caps()
        self._clock = clock
        self._workers = workers

    # --- windows ---------------------------------------------------------------------------------------------

    def merge_window(
        self, window: int, tallies: Mapping[str, SourceTally], *, part: str = ""
    ) -> dict[str, SourceTally]:
        items = list(tallies.items())
        merged = self._each(lambda pair: self._merge_one(window, pair[0], pair[1], part), items)
        return {ip: tally for (ip, _), tally in zip(items, merged, strict=True)}

    def _merge_one(self, window: int, ip: str, tally: SourceTally, part: str) -> SourceTally:
        caps = {"ports": self.caps.ports, "hosts": self.caps.hosts}
        caps["interfaces"] = caps["subnets"] = self.caps.interfaces
        full: set[str] = set()
        for _ in range(len(_SETS) + 1):
            request = self._window_update(window, ip, tally, part=part, caps=caps, full=full)
            try:
                response = self._client.update_item(**request)
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                old = error.response.get("Item") or {}
                if part and part in _strings(old, "parts", "SS"):
                    return self._tally(old)  # this delivery was merged before: a retry adds nothing
                # Some set reached its cap since we looked: add the others, and the counters, without it.
                full |= {name for name, kind in _SETS if len(_strings(old, name, kind)) >= caps[name]}
                continue
            return self._tally(response["Attributes"])
        raise RuntimeError(f"flow window {window} of {ip}: the merge kept failing its conditions")

    def _window_update(
        self, window: int, ip: str, tally: SourceTally, *, part: str, caps: Mapping[str, int], full: set[str]
    ) -> dict[str, Any]:
        # Every attribute through a placeholder: several of these names (bytes, ...) are DynamoDB reserved words.
        names = {"#ttl": "ttl"}
        values: dict[str, Any] = {":ttl": {"N": str(window + WINDOW_TTL_SECONDS)}}
        adds = []
        for name in _COUNTERS:
            names[f"#{name}"] = name
            values[f":{name}"] = {"N": str(getattr(tally, name))}
            adds.append(f"#{name} :{name}")
        sets = ["#ttl = if_not_exists(#ttl, :ttl)"]
        conditions = []
        if part:
            names["#parts"] = "parts"
            values[":parts"] = {"SS": [part]}
            values[":part"] = {"S": part}
            adds.append("#parts :parts")
            conditions.append("NOT contains(#parts, :part)")
        for name, kind in _SETS:
            members = sorted(str(m) for m in getattr(tally, name))
            if not members or name in full:
                continue
            names[f"#{name}"] = name
            values[f":{name}"] = {kind: members}
            values[f":{name}_cap"] = {"N": str(caps[name])}
            adds.append(f"#{name} :{name}")
            conditions.append(f"(attribute_not_exists(#{name}) OR size(#{name}) < :{name}_cap)")
        if tally.internal:
            names["#internal"] = "internal"
            values[":internal"] = {"BOOL": True}
            sets.append("#internal = :internal")
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": f"flowwin#{ip}"}, "sk": {"S": str(window)}},
            "UpdateExpression": f"ADD {', '.join(adds)} SET {', '.join(sets)}",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
        return request

    def _tally(self, item: Mapping[str, Any]) -> SourceTally:
        return SourceTally(
            flows=_number(item, "flows"),
            packets=_number(item, "packets"),
            bytes=_number(item, "bytes"),
            rejects=_number(item, "rejects"),
            admin_short=_number(item, "admin_short"),
            ports=_capped((int(p) for p in _strings(item, "ports", "NS")), self.caps.ports),
            hosts=_capped(_strings(item, "hosts", "SS"), self.caps.hosts),
            interfaces=_capped(_strings(item, "interfaces", "SS"), self.caps.interfaces),
            subnets=_capped(_strings(item, "subnets", "SS"), self.caps.interfaces),
            internal=bool(item.get("internal", {}).get("BOOL", False)),
        )

    # --- populations -----------------------------------------------------------------------------------------

    def merge_population(self, window: int, population: Population) -> Population:
        adds = ["#sources :sources"]
        names = {"#ttl": "ttl", "#sources": "sources"}
        values: dict[str, Any] = {
            ":sources": {"N": str(population.sources)},
            ":ttl": {"N": str(window + WINDOW_TTL_SECONDS)},
        }
        for prefix, metric in _METRICS:
            for bucket, count in sorted(population.histogram(metric).items()):
                name = f"{prefix}{bucket}"
                names[f"#{name}"] = name
                values[f":{name}"] = {"N": str(count)}
                adds.append(f"#{name} :{name}")
        response = self._client.update_item(
            TableName=self._table,
            Key=self._population_key(window),
            UpdateExpression=f"ADD {', '.join(adds)} SET #ttl = if_not_exists(#ttl, :ttl)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return _population(response["Attributes"])

    def population(self, window: int) -> Population:
        response = self._client.get_item(TableName=self._table, Key=self._population_key(window), ConsistentRead=True)
        return _population(response.get("Item") or {})

    @staticmethod
    def _population_key(window: int) -> dict[str, Any]:
        return {"pk": {"S": f"flowpop#{window}"}, "sk": {"S": "population"}}

    # --- baselines -------------------------------------------------------------------------------------------

    def baselines(self, ips: Collection[str]) -> dict[str, Baseline]:
        wanted = sorted(set(ips))
        found: dict[str, Baseline] = {}
        for start in range(0, len(wanted), BATCH_GET_MAX):
            keys = [self._baseline_key(ip) for ip in wanted[start : start + BATCH_GET_MAX]]
            for item in self._batch_get(keys):
                found[item["pk"]["S"].removeprefix("flowbase#")] = decode_baseline(item["b"]["S"])
        return found

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = self._client.batch_get_item(RequestItems=request)
            items += response.get("Responses", {}).get(self._table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise RuntimeError(f"baselines: {len(request[self._table]['Keys'])} keys still unprocessed (throttled)")

    def update_baselines(self, changes: Mapping[str, tuple[Baseline, Baseline | None]]) -> frozenset[str]:
        items = list(changes.items())
        stored = self._each(lambda pair: self._put_baseline(pair[0], *pair[1]), items)
        return frozenset(ip for (ip, _), ok in zip(items, stored, strict=True) if not ok)

    def _put_baseline(self, ip: str, value: Baseline, expected: Baseline | None) -> bool:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": {
                **self._baseline_key(ip),
                "b": {"S": encode_baseline(value)},
                "ttl": {"N": str(int(self._clock()) + BASELINE_TTL_SECONDS)},
            },
        }
        if expected is None:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            request["ConditionExpression"] = "#b = :expected"
            request["ExpressionAttributeNames"] = {"#b": "b"}
            request["ExpressionAttributeValues"] = {":expected": {"S": encode_baseline(expected)}}
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False  # a concurrent invocation wrote first: the caller re-reads
            raise
        return True

    @staticmethod
    def _baseline_key(ip: str) -> dict[str, Any]:
        return {"pk": {"S": f"flowbase#{ip}"}, "sk": {"S": "baseline"}}

    # --- helpers ---------------------------------------------------------------------------------------------

    def _each(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        """``fn`` over ``items``, a few at a time (each is one round trip); the first failure is raised."""
        if len(items) <= 1 or self._workers <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))


def _population(item: Mapping[str, Any]) -> Population:
    histograms: dict[str, dict[int, int]] = {metric: {} for _, metric in _METRICS}
    prefixes = dict(_METRICS)
    for name, value in item.items():
        metric = prefixes.get(name[:1])
        if metric is not None and name[1:].isdigit():
            histograms[metric][int(name[1:])] = int(value["N"])
    return Population(sources=_number(item, "sources"), **histograms)
