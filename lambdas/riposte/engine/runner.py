"""The imperative half: carry a plan out through ports, audit every step, and report what happened.

Exactly-once effects without a global lock: actions are idempotent by construction (block_ip finds its own
entry on a redelivery), and each notification is claimed in the state store before it is sent, so a retry
re-sends only what failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from riposte.actions import ACTIONS, ActionContext, Ports
from riposte.core.config import Config
from riposte.core.model import Outcome, Plan, Result, Status
from riposte.core.ports import AuditRecord
from riposte.engine import policy
from riposte.notifiers import Notifier

# A claim whose holder died (timeout, crash) lets a later retry send after this long.
DELIVERY_LEASE_SECONDS = 300


def _audit(ports: Ports, plan: Plan, config: Config, now: datetime, *, kind: str, outcome: Outcome) -> None:
    ports.state.record_audit(
        AuditRecord(
            event_id=plan.event.id,
            time=now.isoformat(),
            kind=kind,
            name=outcome.name,
            target=outcome.target,
            status=str(outcome.status),
            detail=outcome.detail,
            mode=str(config.mode),
            score=plan.score.value,
        )
    )


def run_actions(plan: Plan, config: Config, ports: Ports, now: datetime) -> tuple[Outcome, ...]:
    ctx = ActionContext(event=plan.event, config=config, ports=ports, now=now, score=plan.score.value, own=plan.own)
    outcomes: list[Outcome] = []
    for planned in plan.actions:
        if planned.status is Status.REFUSED:
            outcome = planned
        else:
            try:
                outcome = ACTIONS.get(planned.name)().execute(planned.target, ctx)
            except Exception as error:
                outcome = Outcome(
                    planned.name,
                    planned.target,
                    Status.FAILED,
                    f"{type(error).__name__}: {error}",
                    retryable=True,
                )
        _audit(ports, plan, config, now, kind="action", outcome=outcome)
        outcomes.append(outcome)
    return tuple(outcomes)


def notify(result: Result, notifiers: Mapping[str, Notifier], ports: Ports, now: datetime) -> tuple[Outcome, ...]:
    outcomes: list[Outcome] = []
    # One message per subject and severity: a redelivery or a routine update of the same finding stays quiet,
    # an escalation (say high -> critical) is announced again.
    key = f"{result.plan.event.notification_key}#{result.plan.score.severity}"
    stamp = now.timestamp()
    for channel in result.plan.notify:
        notifier = notifiers.get(channel)
        if notifier is None:
            outcome = Outcome(channel, "", Status.SKIPPED, f"no {channel!r} notifier is available in this deployment")
        elif not ports.state.claim_delivery(key, channel, stamp, DELIVERY_LEASE_SECONDS):
            outcome = Outcome(
                channel, "", Status.SKIPPED, "already delivered (or being delivered) for this finding at this severity"
            )
        else:
            try:
                outcome = notifier.send(result)
            except Exception as error:
                outcome = Outcome(channel, "", Status.FAILED, f"{type(error).__name__}: {error}", retryable=True)
            if outcome.status is Status.DONE:
                ports.state.complete_delivery(key, channel, stamp)
            else:
                ports.state.release_delivery(key, channel)
        outcomes.append(outcome)
    return tuple(outcomes)


def execute(plan: Plan, config: Config, ports: Ports, notifiers: Mapping[str, Notifier], now: datetime) -> Result:
    _audit(
        ports,
        plan,
        config,
        now,
        kind="decision",
        outcome=Outcome("policy", "", Status.DONE, policy.summary(plan, config)),
    )
    result = Result(plan=plan, actions=run_actions(plan, config, ports, now))
    notifications = notify(result, notifiers, ports, now)
    for outcome in notifications:
        _audit(ports, plan, config, now, kind="notification", outcome=outcome)
    return Result(plan=plan, actions=result.actions, notifications=notifications)
