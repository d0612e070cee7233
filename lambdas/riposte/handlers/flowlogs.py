"""Flow logs: CloudWatch Logs subscription -> windows, baselines and detectors -> events -> the responder's pipeline.

Two ways in, one function:

- **direct**: a subscription filter invokes the function asynchronously with ``{"awslogs": {"data": ...}}``. A
  failure to process (throttling, an unreachable table, an action worth retrying) raises: Lambda retries the
  invocation twice, then hands it to the on-failure destination (a dead-letter queue with an alarm).
- **kinesis**: the subscription writes to a Kinesis data stream; each record is one gzipped payload. A record
  that fails is reported as a batch item failure: Lambda retries from it, bisects the batch, and finally
  records the failed range in the on-failure destination (the records stay in the stream for its retention).

Either way a retry never counts a payload's traffic twice: each payload merges into the shared windows under
its own name (``part``; see ``riposte.flowlogs.state``). A ``CONTROL_MESSAGE`` (CloudWatch Logs checking the
destination) is ignored. Lines that are not flow records are counted as metrics, never fatal.

With ``RIPOSTE_STATE=memory`` and no table it runs on in-memory state, ports and the default configuration
(unless ``RIPOSTE_CONFIG`` says otherwise), touching nothing outside the process: benchmarks and local trials.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import operator
import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riposte.actions import Ports
from riposte.core import config as cfg
from riposte.core.model import Result, SecurityEvent, Status
from riposte.engine import context, pipeline, runner, setup
from riposte.flowlogs import FlowFormat, FlowState, MemoryFlowState, Networks, Thresholds, analyze
from riposte.handlers import environment
from riposte.runtime import Runtime
from riposte.sources import InputError, envelopes
from riposte.sources import flowlogs as source

logger = Logger(service="riposte")
metrics = Metrics(namespace="Riposte", service="flowlogs")
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)

CONTROL_MESSAGE = "CONTROL_MESSAGE"
# Counters of an analysis -> metric names (lines by what became of them, and the bounded state's bookkeeping).
COUNTER_METRICS = {
    "tallied": "FlowRecordsTallied",
    "not_inbound": "FlowRecordsNotInbound",
    "replies": "FlowRecordsReplies",
    "nodata": "FlowRecordsNoData",
    "skipdata": "FlowRecordsSkipData",
    "missing": "FlowRecordsMissingFields",
    "malformed": "FlowRecordsMalformed",
    "stale": "FlowRecordsStale",
    "sources_dropped": "FlowSourcesDropped",
    "candidates": "FlowCandidates",
    "writes": "FlowStateWrites",
}


class RetryableFailureError(Exception):
    """Some action or notification failed and may succeed when the payload is processed again."""


@dataclass(frozen=True)
class FlowRuntime:
    """Built once per container: the responder's runtime plus what the flow-log core needs."""

    rt: Runtime
    state: FlowState
    fmt: FlowFormat
    thresholds: Thresholds
    networks: Networks


def clock() -> float:
    """Now, in unix seconds (a function, so that tests and the bench can replay old payloads)."""
    return time.time()


@functools.cache
def runtime() -> FlowRuntime:
    """Configuration, clients and state, validated and built once per container."""
    try:
        env = environment.read_flowlogs(os.environ)
    except ValueError as error:
        raise cfg.ConfigError(str(error)) from None
    config = setup.from_json(env.config, environment.CONFIG) if env.config else setup.check(cfg.Config())
    thresholds = source.thresholds(config)
    state: FlowState
    if env.state == "memory":
        from riposte.adapters.fakes import MemoryRecords
        from riposte.adapters.memory import MemoryNacls, MemoryState

        ports = Ports(nacl=MemoryNacls(), state=MemoryState(), records=MemoryRecords())
        rt = Runtime(config=config, ports=ports, notifiers={})
        state = MemoryFlowState(caps=thresholds.caps)
    else:
        import boto3

        from riposte.adapters.aws.flowstate import DynamoFlowState
        from riposte.runtime import build

        session = boto3.session.Session()
        rt = build(config, table_name=env.table, session=session)
        state = DynamoFlowState(session.client("dynamodb"), env.table, caps=thresholds.caps)
    return FlowRuntime(
        rt=rt, state=state, fmt=source.flow_format(config), thresholds=thresholds, networks=source.networks(config)
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One CloudWatch Logs subscription payload as this function reads it (see ``delivery``)."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    # The messages as decoded: one that is not a string is counted malformed by ``analyze`` (see ``delivery``).
    messages: list[Any]
    first: tuple[object, object]  # (message, timestamp) of the first and last log events, for ``part_of``
    last: tuple[object, object]
    malformed: int = 0  # log events left out: not an object, or without a string message


_MESSAGE = operator.itemgetter("message")


def delivery(data: str | bytes) -> Delivery:
    """Decode ``awslogs.data`` (base64 of gzip of JSON) or the gzip bytes of a Kinesis record.

    The same payloads, errors and counts as ``envelopes.cloudwatch_logs``, through which goes any payload that
    does not decode here or that has a log event without a message: this is its fast path, for the payloads
    CloudWatch Logs sends. It matters because decoding costs more than half of what the records do
    (``make bench``, 27k-record payload, 2026-11-29, us per record): pydantic-core's JSON parser (a dependency
    already, with pydantic) reads the gunzipped bytes in ~0.65x ``json.loads``'s time (keys cached: every
    event repeats "id", "timestamp" and "message"), and the messages are one list taken from the events in C,
    where the envelope builds a tuple of them and one of timestamps in a Python loop that checks each event
    (~0.25 over the floor's decoding, this path ~0.05 under it with the parser). Whether each message is a
    string is left to the tally loop, which reads it anyway: a pass over the messages to check costs ~0.07.
    """
    events = _events(data)
    if events is not None:
        payload, found = events
        try:
            messages = list(map(_MESSAGE, found))
        except (TypeError, KeyError):  # an event that is not an object, or without a message: the envelope's
            pass
        else:
            return Delivery(
                message_type=str(payload.get("messageType", "")),
                owner=str(payload.get("owner", "")),
                log_group=str(payload.get("logGroup", "")),
                log_stream=str(payload.get("logStream", "")),
                messages=messages,
                first=_stamped(found[0]) if found else ("", 0),
                last=_stamped(found[-1]) if found else ("", 0),
            )
    logs = envelopes.cloudwatch_logs(data)  # raises InputError saying what is wrong, or counts what it leaves out
    return Delivery(
        message_type=logs.message_type,
        owner=logs.owner,
        log_group=logs.log_group,
        log_stream=logs.log_stream,
        messages=list(logs.messages),
        first=(logs.messages[0], logs.timestamps[0]) if logs.messages else ("", 0),
        last=(logs.messages[-1], logs.timestamps[-1]) if logs.messages else ("", 0),
        malformed=logs.malformed,
    )


def _events(data: str | bytes) -> tuple[dict[str, Any], list[Any]] | None:
    """The decoded payload and its log events, or None for the envelope to judge (and name what is wrong)."""
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) else data
        # pydantic-core accepts no JSON that json.loads refuses and reads the rest alike; what it refuses and
        # json.loads takes (a byte-order mark, UTF-16, a lone surrogate escape) is read by the envelope.
        payload = pydantic_core.from_json(gzip.decompress(raw), cache_strings="keys")
    except (ValueError, OSError, EOFError, zlib.error):  # binascii.Error is a ValueError, BadGzipFile an OSError
        return None
    events = payload.get("logEvents", []) if isinstance(payload, dict) else None
    return (payload, events) if isinstance(events, list) else None


def _awslogs_data(event: Mapping[str, Any]) -> str:
    """``awslogs.data`` of a CloudWatch Logs -> Lambda subscription event (as ``envelopes.awslogs`` reads it)."""
    inner = event.get("awslogs")
    data = inner.get("data") if isinstance(inner, Mapping) else None
    if not isinstance(data, str):
        raise InputError("not a CloudWatch Logs subscription event: no 'awslogs.data'")
    return data


def _stamped(event: dict[str, Any]) -> tuple[object, object]:
    stamp = event.get("timestamp")
    return event["message"], stamp if isinstance(stamp, int) else 0


def part_of(logs: Delivery) -> str:
    """A name for one payload, the same when it is delivered again: its stream, size and first and last
    records (which carry their interface, addresses, ports and times, so two payloads never share them)."""
    text = "\n".join(map(str, (logs.log_group, logs.log_stream, len(logs.messages), *logs.first, *logs.last)))
    # surrogatepass: JSON may escape a lone surrogate, which strict UTF-8 refuses; the name must still be made.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=9).hexdigest()


def offenders(logs: Delivery, part: str) -> list[SecurityEvent]:
    """The events one payload's records make, judged with the shared state; counters become metrics."""
    frt = runtime()
    result = analyze(
        [logs.messages],
        frt.state,
        fmt=frt.fmt,
        thresholds=frt.thresholds,
        now=int(clock()),
        networks=frt.networks,
        part=part,
    )
    counts = result.counters.as_dict()
    counts["malformed"] += logs.malformed  # log events left out of the messages
    for counter, name in COUNTER_METRICS.items():
        if counts[counter]:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[counter])
    region = os.environ.get("AWS_REGION") or None
    events = [source.to_event(o, account=logs.owner or None, region=region) for o in result.offenders]
    logger.info("flow-log payload analyzed", extra={"part": part, "counters": counts, "offenders": len(events)})
    return events


def respond(event: SecurityEvent, rt: Runtime, now: datetime) -> Result:
    """The responder's pipeline for one event: context, plan (with the account's own addresses), carry out."""
    own = rt.own()  # never block one of ours; when they cannot be read the payload fails and is retried
    gathered = context.gather(event, rt.config, rt.ports.state, now.timestamp())
    plan = pipeline.plan_event(event, rt.config, gathered, own)
    return runner.execute(plan, rt.config, rt.ports, rt.notifiers, now=now)


def _count(result: Result) -> None:
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    for prefix, outcomes in (("Actions", result.actions), ("Notifications", result.notifications)):
        for outcome in outcomes:  # e.g. ActionsDone, ActionsRefused, NotificationsSkipped
            name = prefix + outcome.status.title().replace("_", "")
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def process(logs: Delivery, part: str) -> list[dict[str, Any]]:
    """One payload, end to end. Raises ``RetryableFailureError`` when something worth retrying failed."""
    metrics.add_metric(name="PayloadsReceived", unit=MetricUnit.Count, value=1)
    if logs.message_type == CONTROL_MESSAGE:
        logger.debug("CloudWatch Logs control message ignored", log_group=logs.log_group)
        return []
    summaries = []
    failed = []
    for event in offenders(logs, part):
        result = respond(event, runtime().rt, datetime.fromtimestamp(clock(), UTC))
        _count(result)
        summary = {
            "event_id": event.id,
            "type": event.type,
            "score": result.plan.score.value,
            "actions": [o.as_action_dict() for o in result.actions],
            "notify": [o.as_notify_dict() for o in result.notifications],
        }
        logger.info("flow-log offender processed", extra=summary)
        summaries.append(summary)
        if result.retryable:
            bad = [o.name for o in (*result.actions, *result.notifications) if o.status is Status.FAILED]
            failed.append(f"{event.id}: retryable failure in {', '.join(bad)}")
    if failed:
        raise RetryableFailureError("; ".join(failed))
    return summaries


def record_handler(record: KinesisStreamRecord) -> list[dict[str, Any]]:
    try:
        logs = delivery(envelopes.kinesis_data(record.raw_event))
    except InputError as error:
        metrics.add_metric(name="PayloadsRejected", unit=MetricUnit.Count, value=1)
        logger.error("Kinesis record is not a CloudWatch Logs payload", error=str(error))
        raise
    # The sequence number names the record across retries and bisections.
    return process(logs, f"k{record.kinesis.sequence_number}")


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    runtime()  # a bad configuration fails the invocation with a message naming the field
    if "awslogs" in event:
        try:
            logs = delivery(_awslogs_data(event))
        except InputError as error:
            metrics.add_metric(name="PayloadsRejected", unit=MetricUnit.Count, value=1)
            logger.error("not a CloudWatch Logs payload; retried, then kept in the dead-letter queue", error=str(error))
            raise
        return {"processed": process(logs, part_of(logs))}
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    raise InputError("neither a CloudWatch Logs subscription event ({'awslogs': ...}) nor a Kinesis batch")
