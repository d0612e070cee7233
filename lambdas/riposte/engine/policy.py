"""Turn a scored event into a plan: which actions on which targets, and who to tell.

Refusals happen here, centrally, before any action runs: protected addresses (``guard``), and the per-event
quota. A refused target stays in the plan with its reason, so it is audited and shown, never dropped.
"""

from __future__ import annotations

from riposte.actions import ACTIONS
from riposte.core import guard
from riposte.core.config import Config
from riposte.core.model import NO_ACTION_SIGNALS, Outcome, Plan, Score, SecurityEvent, Status
from riposte.notifiers import Route, by_route


def _review(action_name: str, target_kind: str, target: str, config: Config, own: guard.OwnAddresses) -> Outcome:
    if target_kind == "ip" and (why := guard.target_refusal(target, config.allowlist, own)):
        return Outcome(action_name, target, Status.REFUSED, f"protected address: {why}")
    return Outcome(action_name, target, Status.PLANNED)


def plan_actions(
    event: SecurityEvent, score: Score, config: Config, own: guard.OwnAddresses = ()
) -> tuple[Outcome, ...]:
    """``own``: the account's own addresses as discovered at run time (none in ``riposte score``)."""
    if score.value < config.thresholds.act or event.signals & NO_ACTION_SIGNALS:
        return ()
    outcomes: list[Outcome] = []
    allowed = config.blocks.max_per_event
    for name in config.actions:
        action = ACTIONS.get(name)()
        for target in action.targets(event, config):
            outcome = _review(name, action.target_kind, target, config, own)
            if outcome.status is Status.PLANNED:
                if allowed == 0:
                    outcome = Outcome(
                        name,
                        target,
                        Status.REFUSED,
                        f"quota: at most {config.blocks.max_per_event} actions per event",
                    )
                else:
                    allowed -= 1
            outcomes.append(outcome)
    return tuple(outcomes)


def channels(score: Score, actions: tuple[Outcome, ...], config: Config) -> tuple[str, ...]:
    """The registered notifiers this plan calls on: those on the notify route, then those on the page route."""
    chosen: list[str] = []
    # Anything Riposte does (or would do) is announced, whatever the notify threshold says.
    if score.value >= config.thresholds.notify or any(a.status is Status.PLANNED for a in actions):
        chosen.extend(by_route(Route.NOTIFY))
    if score.value >= config.thresholds.page:
        chosen.extend(by_route(Route.PAGE))
    return tuple(chosen)


def decide(event: SecurityEvent, score: Score, config: Config, own: guard.OwnAddresses = ()) -> Plan:
    actions = plan_actions(event, score, config, own)
    return Plan(event=event, score=score, actions=actions, notify=channels(score, actions, config), own=own)


def summary(plan: Plan, config: Config) -> str:
    """One line saying why the plan is what it is, for the audit trail."""
    t = config.thresholds
    parts = [f"score {plan.score.value} ({plan.score.severity})"]
    if not_live := sorted(plan.event.signals & NO_ACTION_SIGNALS):
        parts.append(f"{' and '.join(not_live)}: never acted on")
    elif plan.score.value < t.act:
        parts.append(f"below act threshold {t.act}: no action")
    elif not plan.actions:
        parts.append("no action applies to this event")
    else:
        parts.append(", ".join(f"{a.name} {a.target}: {a.status}" for a in plan.actions))
    parts.append(f"notify: {', '.join(plan.notify) or 'nobody'} (notify >= {t.notify}, page >= {t.page})")
    parts.append(f"mode {config.mode}")
    return "; ".join(parts)
