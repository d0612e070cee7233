"""The imperative half: carry a plan out through ports, audit every step, and report what happened.

Exactly-once effects without a global lock: actions are idempotent by construction (block_ip finds its own
entry on a redelivery), and each notification is claimed in the state store before it is sent, so a retry
re-sends only what failed (``riposte.engine.notify``: claims, the pager first, resolutions, storm control).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from riposte.actions import ACTIONS, ActionContext, Ports
from riposte.core.config import Config
from riposte.core.model import Outcome, Plan, Result, Status
from riposte.core.ports import AuditRecord
from riposte.engine import notify, policy
from riposte.engine.notify import BREAKER, DELIVERY_LEASE_SECONDS
from riposte.notifiers import Notifier, Route, by_route

__all__ = ["BREAKER", "DELIVERY_LEASE_SECONDS", "execute", "run_actions"]


def _audit(
    ports: Ports, plan: Plan, config: Config, now: datetime, *, kind: str, outcome: Outcome, mode: str = ""
) -> None:
    ports.state.record_audit(
        AuditRecord(
            event_id=plan.event.id,
            time=now.isoformat(),
            kind=kind,
            name=outcome.name,
            target=outcome.target,
            status=str(outcome.status),
            detail=outcome.detail,
            mode=mode or str(config.mode),
            score=plan.score.value,
        )
    )


def _limit(planned: Outcome, plan: Plan, config: Config, ports: Ports, now: float) -> Outcome | None:
    """The blast radius: a refusal when the action's hourly cap is spent; trips the breaker when all actions
    together pass its threshold (the action then runs held, in dry-run)."""
    member = f"{plan.event.id}#{planned.name}#{planned.target}"  # a redelivery counts once
    cap = config.limits.max_per_hour.get(planned.name)
    if cap is not None and ports.state.hit(f"cap#{planned.name}", member, 3600, now) > cap:
        why = f"cap: at most {cap} {planned.name} per hour, spent (limits.max_per_hour)"
        return Outcome(planned.name, planned.target, Status.REFUSED, why)
    count = ports.state.hit("breaker#actions", member, 3600, now)
    if count > config.limits.breaker_per_hour:
        limit = config.limits.breaker_per_hour
        ports.state.trip_breaker(f"{count} actions within an hour, more than limits.breaker_per_hour = {limit}", now)
    return None


def _tripped(why: str) -> Outcome:
    return Outcome(BREAKER, "", Status.DONE, f"tripped: {why}; Riposte only dry-runs until `riposte breaker reset`")


def run_actions(plan: Plan, config: Config, ports: Ports, now: datetime) -> tuple[Outcome, ...]:
    outcomes: list[Outcome] = []
    tripped = ports.state.breaker() if plan.actions else None
    for planned in plan.actions:
        mode = str(config.mode_for(planned.name))
        if planned.status is Status.REFUSED:
            outcome = planned
        elif (refused := _limit(planned, plan, config, ports, now.timestamp())) is not None:
            outcome = refused
        else:
            if tripped is None and (tripped := ports.state.breaker()) is not None:
                outcomes.append(_tripped(tripped))  # this very action tripped it: say so, and page
            held = tripped is not None
            ctx = ActionContext(
                event=plan.event,
                config=config,
                ports=ports,
                now=now,
                score=plan.score.value,
                own=plan.own,
                action=planned.name,
                held=held,
            )
            mode = "held (circuit breaker)" if held else mode
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
        _audit(ports, plan, config, now, kind="action", outcome=outcome, mode=mode)
        outcomes.append(outcome)
    return tuple(outcomes)


def execute(plan: Plan, config: Config, ports: Ports, notifiers: Mapping[str, Notifier], now: datetime) -> Result:
    plan = notify.route(plan, ports.state)  # a resolution calls the pager, and the chats that were told
    _audit(
        ports,
        plan,
        config,
        now,
        kind="decision",
        outcome=Outcome("policy", "", Status.DONE, policy.summary(plan, config)),
    )
    actions = run_actions(plan, config, ports, now)
    if any(o.name == BREAKER for o in actions):  # people must hear of it now: page, whatever the score
        plan = replace(
            plan, notify=tuple(dict.fromkeys((*plan.notify, *by_route(Route.NOTIFY), *by_route(Route.PAGE))))
        )
    result = Result(plan=plan, actions=actions)
    notifications = notify.deliver(result, notifiers, ports.state, config, now)
    for outcome in notifications:
        _audit(ports, plan, config, now, kind="notification", outcome=outcome)
    return Result(plan=plan, actions=result.actions, notifications=notifications)
