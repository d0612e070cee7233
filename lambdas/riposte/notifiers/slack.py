"""Slack incoming-webhook notifier: one Block Kit message with the evidence, the score's reasons and what
Riposte did. Text from the event is attacker-influenced (user names, domains), so it is escaped and cannot
ping @channel or forge links. Limits (Block Kit): header 150 chars, section text 3000, 10 fields of 2000."""

from __future__ import annotations

from typing import Any, ClassVar

from riposte.core.model import Outcome, Result, Severity, Status
from riposte.notifiers import NOTIFIERS
from riposte.notifiers.base import Notifier, Route, SecretSpec

HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10

ICONS = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":large_blue_circle:",
    Severity.INFO: ":white_circle:",
}
VERBS = {
    Status.DONE: "done",
    Status.DRY_RUN: "dry run (not applied)",
    Status.REFUSED: "refused",
    Status.FAILED: "FAILED",
    Status.PLANNED: "planned",
    Status.SKIPPED: "skipped",
}


def escape(text: str) -> str:
    # Slack's mrkdwn control characters; escaping them neutralizes <!channel>, <@U123> and <url|label>.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _action_line(outcome: Outcome) -> str:
    line = f"• `{outcome.name}` {escape(outcome.target)}: *{VERBS[outcome.status]}*"
    return f"{line} ({escape(outcome.detail)})" if outcome.detail else line


def render(result: Result) -> dict[str, Any]:
    plan = result.plan
    event, score = plan.event, plan.score
    severity = score.severity
    header = clip(f"{severity.value.upper()} {score.value}/100: {event.title}", HEADER_MAX)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
    ]
    if event.description:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(escape(event.description), TEXT_MAX)}}
        )
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{escape(label)}*\n{escape(value)}", FIELD_MAX)}
        for label, value in event.evidence[:FIELDS_MAX]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    reasons = "\n".join(f"• {escape(r)}" for r in score.reasons)
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(f"*Why {score.value}*\n{reasons}", TEXT_MAX)},
        }
    )
    if result.actions:
        lines = "\n".join(_action_line(o) for o in result.actions)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(f"*Response*\n{lines}", TEXT_MAX)}})
    context = " · ".join(
        escape(part) for part in (event.source, f"account {event.account}", event.region, event.time, event.id) if part
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(context, TEXT_MAX)}]})
    done = [o for o in result.actions if o.status in (Status.DONE, Status.DRY_RUN)]
    fallback = f"{ICONS[severity]} {escape(header)}"
    if done:
        fallback += " — " + ", ".join(f"{o.name} {escape(o.target)} ({VERBS[o.status]})" for o in done)
    return {"text": clip(fallback, TEXT_MAX), "blocks": blocks}


@NOTIFIERS.register
class SlackNotifier(Notifier):
    name: ClassVar[str] = "slack"
    route: ClassVar[Route] = Route.NOTIFY
    secret: ClassVar[SecretSpec] = SecretSpec(
        field="slack_webhook_url",
        default="riposte/slack-webhook-url",
        description="Slack incoming-webhook URL for Riposte (fill in after deploy)",
    )

    def render(self, result: Result) -> dict[str, Any]:
        return render(result)
