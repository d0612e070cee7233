"""Responder: SQS (fed by EventBridge) -> plan -> act -> notify, with partial batch failures.

A record fails (and SQS retries it, then moves it to the dead-letter queue) when its body cannot be processed
or when an action or notification failed in a way worth retrying. Nothing is dropped silently.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from riposte import sources
from riposte.core import config as cfg
from riposte.core.model import Result, SecurityEvent, Status
from riposte.engine import context, pipeline, runner, setup
from riposte.handlers import environment
from riposte.notifiers import NOT_CONFIGURED
from riposte.runtime import Runtime, build
from riposte.sources import InputError, envelopes, webhooks

logger = Logger(service="riposte")
metrics = Metrics(namespace="Riposte", service="responder")
# Report every failed record, even when all failed, rather than failing the invocation: same redelivery,
# clearer signal (the function did not crash; these records need another go).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class RetryableFailureError(Exception):
    """Some action or notification failed and may succeed on a retry of the same message."""


def settings() -> environment.ResponderEnvironment:
    try:
        return environment.read_responder(os.environ)
    except ValueError as error:
        raise cfg.ConfigError(str(error)) from None


@functools.cache
def runtime() -> Runtime:
    """Configuration and clients, validated and built once per container."""
    env = settings()
    config = setup.with_own_principals(setup.from_json(env.config, environment.CONFIG), env.self_arns.split(","))
    return build(config, table_name=env.table)


def decode(record: SQSRecord) -> list[SecurityEvent]:
    """The events one record carries. Which queue it came from decides what it may hold: the webhook queue (only
    the webhook function may send to it) carries webhook events; the ingest queue only EventBridge events whose
    source AWS itself sets."""
    webhook_queue = settings().webhook_queue_arn
    if webhook_queue and record.event_source_arn == webhook_queue:
        return webhooks.from_queue_message(record.body)
    return [sources.from_eventbridge(envelopes.json_object(record.body, "message body"))]


def _count(result: Result) -> None:
    for prefix, outcomes in (("Actions", result.actions), ("Notifications", result.notifications)):
        for outcome in outcomes:  # e.g. ActionsDone, ActionsDryRun, NotificationsSkipped
            name = prefix + outcome.status.title().replace("_", "")
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    for outcome in result.notifications:  # a secret not filled in (or malformed): someone should fill it
        if outcome.status is Status.SKIPPED and outcome.detail.startswith(NOT_CONFIGURED):
            metrics.add_metric(name="NotifiersNotConfigured", unit=MetricUnit.Count, value=1)


def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    try:
        events = decode(record)
    except InputError as error:
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        logger.error(
            "event rejected; it will be retried, then kept in the dead-letter queue",
            message_id=record.message_id,
            error=str(error),
        )
        raise
    summaries = [process(event) for event in events]
    if failed := [s for s in summaries if s["retryable"]]:
        raise RetryableFailureError("; ".join(f"{s['event_id']}: retryable failure in {s['failed']}" for s in failed))
    return summaries


def process(event: SecurityEvent) -> dict[str, Any]:
    rt = runtime()
    now = datetime.now(UTC)
    # The account's own addresses are never blocked; when they cannot be read the record fails and is retried.
    own = rt.own()
    plan = pipeline.plan_event(event, rt.config, context.gather(event, rt.config, rt.ports.state, now.timestamp()), own)
    result = runner.execute(plan, rt.config, rt.ports, rt.notifiers, now=now)
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    _count(result)
    summary = {
        "event_id": plan.event.id,
        "type": plan.event.type,
        "score": plan.score.value,
        "actions": [o.as_action_dict() for o in result.actions],
        "notify": [o.as_notify_dict() for o in result.notifications],
    }
    logger.info("event processed", extra=summary)
    failed = [o.name for o in (*result.actions, *result.notifications) if o.status is Status.FAILED]
    return {**summary, "retryable": result.retryable, "failed": ", ".join(failed)}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    runtime()  # a bad configuration fails the invocation with a message naming the field
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
