"""Maintenance: on an EventBridge schedule, expire Riposte's blocks and reconcile its records with the live NACLs
and WAF IP sets (``riposte.engine.maintenance``), then log and count what it found. It also does the notifiers'
scheduled work (``riposte.engine.notify``): it resolves the PagerDuty incidents none of whose blocks remains
(expired, undone, removed by hand), and sends the storm digests whose window has closed when no notification
came to send them first.

Notification trouble never fails the run (the blocks were maintained; Lambda retrying it would not help): it is
logged and counted, and what was not sent stays in the state store for the next run.

An invocation that could not finish (a container it failed on, a removal that did not verify) raises: Lambda
retries it, then sends it to the on-failure destination (a dead-letter queue with an alarm). A retry is safe: each
run plans afresh from the records and the live entries.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from riposte.core import config as cfg
from riposte.core.model import Outcome, Status
from riposte.engine import maintenance, notify, setup
from riposte.handlers import environment
from riposte.notifiers import NOT_CONFIGURED
from riposte.runtime import Runtime, build

logger = Logger(service="riposte")
metrics = Metrics(namespace="Riposte", service="maintenance")

# How many drift items one log line lists (the counts are always complete; the returned report has them all).
LOGGED_ITEMS = 50
METRICS = {
    "removed": "BlocksExpired",
    "forgotten": "BlockRecordsForgotten",
    "missing": "DriftMissingEntries",
    "unmanaged": "DriftUnmanagedEntries",
    "skipped": "ContainersSkipped",
    "failed": "MaintenanceFailures",
}


# Notifying needs this much time left after maintaining (HTTP retries honour Retry-After up to 15 seconds).
MIN_NOTIFY_SECONDS = 20.0


class MaintenanceFailedError(Exception):
    """Part of the run failed; the invocation is retried, then kept in the dead-letter queue."""


@functools.cache
def runtime() -> tuple[Runtime, maintenance.Targets]:
    """Configuration and clients, validated and built once per container."""
    try:
        env = environment.read_maintenance(os.environ)
    except ValueError as error:
        raise cfg.ConfigError(str(error)) from None
    config = setup.from_json(env.config, environment.CONFIG)
    session = boto3.session.Session()
    rt = build(config, table_name=env.table, session=session)
    # Until the runtime's ports carry the WAF port, build it here from the same configuration.
    waf = rt.ports.waf
    return rt, maintenance.Targets(nacl=rt.ports.nacl, state=rt.ports.state, waf=waf)


def maintain(rt: Runtime, targets: maintenance.Targets, now: datetime, context: LambdaContext) -> dict[str, Any]:
    report = maintenance.run(
        targets,
        maintenance.expiry_planner(now, rt.config.nacl.rule_range),
        now=now,
        dry_run=rt.config.dry_run,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    summary = report.as_dict()
    counts = summary["counts"]
    for key, metric in METRICS.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=counts[key])
    line = {
        "counts": counts,
        "removed": summary["removed"],
        "drift": summary["drift"][:LOGGED_ITEMS],
        "skipped": summary["skipped"],
        "failed": summary["failed"] + [s for s in summary["steps"] if s["status"] == "failed"],
    }
    if counts["missing"] or counts["unmanaged"] or counts["unreadable"]:
        logger.warning("blocks maintained; drift found between block records and the live entries", extra=line)
    else:
        logger.info("blocks maintained", extra=line)
    summary["notifications"] = tell(rt, targets, now, context)
    if not report.ok:
        raise MaintenanceFailedError(f"maintenance incomplete: {counts['failed']} failure(s); see the log line above")
    return summary


def tell(rt: Runtime, targets: maintenance.Targets, now: datetime, context: LambdaContext) -> list[dict[str, Any]]:
    """Resolve incidents whose blocks are gone, send closed digests; logged and counted, never raised."""
    if context.get_remaining_time_in_millis() / 1000 < MIN_NOTIFY_SECONDS:
        logger.warning("no time left to resolve incidents and send digests: the next run does it")
        return []
    outcomes: list[Outcome] = []
    try:
        state = rt.ports.state
        outcomes += notify.resolve_unblocked(rt.notifiers, state, targets.containers(), rt.config, now)
        outcomes += notify.flush_digests(rt.notifiers, state, rt.config, now)
    except Exception:
        metrics.add_metric(name="MaintenanceNotifyFailures", unit=MetricUnit.Count, value=1)
        logger.exception("resolving incidents or sending digests failed: the next run tries again")
    for outcome in outcomes:
        name = "Notifications" + outcome.status.title().replace("_", "")  # e.g. NotificationsDone, as the responder
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if outcome.status is Status.SKIPPED and outcome.detail.startswith(NOT_CONFIGURED):
            metrics.add_metric(name="NotifiersNotConfigured", unit=MetricUnit.Count, value=1)
    told = [{**o.as_notify_dict(), "target": o.target} for o in outcomes]
    if any(o.status is Status.FAILED for o in outcomes):
        logger.warning("some incidents or digests could not be sent: the next run tries again", extra={"told": told})
    elif told:
        logger.info("incidents resolved and digests sent", extra={"told": told})
    return told


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt, targets = runtime()  # a bad configuration fails the invocation with a message naming the field
    return maintain(rt, targets, datetime.now(UTC), context)
