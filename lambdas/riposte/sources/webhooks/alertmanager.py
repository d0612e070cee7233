"""Prometheus Alertmanager's webhook (payload version 4), and the shape Grafana's unified alerting shares.

One POST carries a group of alerts, each firing or resolved on its own (the group's ``status`` only says whether
any still fires). Attacker addresses come from labels and annotations named by ``webhooks.address_fields``;
``instance`` and the other host labels are our own targets. The fingerprint (a hash of the label set; the labels
themselves when it is missing) and ``startsAt`` identify one alert episode: Alertmanager re-sends firing alerts
every ``repeat_interval`` with both unchanged, so the re-sends map to the same event ids. The receiver joins them;
``externalURL`` does not, since each replica of an HA pair has its own and either may send the resolution.
Reference: prometheus/alertmanager notify/webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riposte.sources.webhooks.base import (
    ADAPTERS,
    MAX_ALERTS,
    Adapter,
    Alert,
    Found,
    MapContext,
    digest,
    iso_time,
    severity_of_word,
    unique,
)
from riposte.sources.webhooks.errors import WebhookError


class PromAlert(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""
    # Grafana only
    valueString: str = ""
    silenceURL: str = ""
    dashboardURL: str = ""


class PromPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    alerts: list[PromAlert] = Field(max_length=MAX_ALERTS)
    truncatedAlerts: int = 0
    receiver: str = ""
    orgId: int | None = None
    externalURL: str = ""


def problems(error: ValidationError, tool: str) -> WebhookError:
    where = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors(include_url=False)[:5]
    )
    return WebhookError(400, "bad_payload", f"not a {tool} webhook payload: {where}")


def _severity(alert: PromAlert, label: str, ctx: MapContext) -> tuple[float, str]:
    word = alert.labels.get("severity") or alert.labels.get("priority") or ""
    value = severity_of_word(word) if word else None
    if value is None:
        default = ctx.config.webhooks.default_severity
        return ctx.default_severity, f"{label} gives no known severity label: default {default}"
    return value, f"{label} severity {word} ({value:g})"


def read_alert(alert: PromAlert, index: int, ctx: MapContext, found: Found) -> None:
    for part, values in (("labels", alert.labels), ("annotations", alert.annotations)):
        for name, value in values.items():
            found.consider(name, value, f"alerts[{index}].{part}.{name}")


def to_alert(
    alert: PromAlert, found: Found, ctx: MapContext, *, tool: str, label: str, scope: str, truncated: int
) -> Alert:
    name = alert.labels.get("alertname") or f"{label} alert"
    severity, note = _severity(alert, label, ctx)
    fingerprint = alert.fingerprint or digest(*(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    resolved = alert.status == "resolved"
    evidence = [
        ("Alert", name),
        ("Status", alert.status),
        *found.host_evidence(),
        ("Started", alert.startsAt if iso_time(alert.startsAt) else ""),
        ("Ended", alert.endsAt if resolved else ""),
        ("Source", alert.generatorURL),
        ("Runbook", alert.annotations.get("runbook_url", "")),
        ("Dashboard", alert.dashboardURL),
        ("Truncated", f"{truncated} more alerts of this group were not sent (max_alerts)" if truncated else ""),
    ]
    return Alert(
        tool=tool,
        key=(scope, fingerprint, alert.startsAt),
        name=name,
        title=alert.annotations.get("summary") or name,
        description=alert.annotations.get("description", ""),
        resolved=resolved,
        severity=severity,
        severity_note=note,
        offenders=found.offenders(),
        skipped=tuple(found.skipped),
        instances=unique(found.instances),
        time=iso_time(alert.startsAt),
        evidence=tuple(evidence),
    )


@ADAPTERS.register
class AlertmanagerAdapter(Adapter):
    name: ClassVar[str] = "alertmanager"
    label: ClassVar[str] = "Alertmanager"

    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        try:
            group = PromPayload.model_validate(payload)
        except ValidationError as error:
            raise problems(error, self.label) from None
        found_alerts = []
        for index, alert in enumerate(group.alerts):
            found = Found(ctx)
            read_alert(alert, index, ctx, found)
            found_alerts.append(
                to_alert(
                    alert,
                    found,
                    ctx,
                    tool=self.name,
                    label=self.label,
                    scope=group.receiver,
                    truncated=group.truncatedAlerts,
                )
            )
        return found_alerts
