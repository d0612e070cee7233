"""Grafana unified alerting's webhook contact point (payload version 1): Alertmanager's shape plus Grafana's own
fields. Besides labels and annotations, the query labels in ``valueString`` (``labels={src_ip=...}``) are read,
since a rule grouped by the address shows it there. Grafana sends no retries of its own but re-sends a firing
alert at the next group flush with the same fingerprint and start. Reference: grafana/alerting
receivers/webhook. A custom payload template (Grafana 12) replaces this shape and is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError

from riposte.sources.webhooks.alertmanager import PromPayload, problems, read_alert, to_alert
from riposte.sources.webhooks.base import ADAPTERS, Adapter, Alert, Found, MapContext

_QUERY_LABELS = re.compile(r"labels=\{([^}]*)\}")


def _value_string_labels(text: str) -> list[tuple[str, str]]:
    pairs = []
    for group in _QUERY_LABELS.findall(text):
        for item in group.split(", "):
            name, sep, value = item.partition("=")
            if sep:
                pairs.append((name.strip(), value.strip()))
    return pairs


@ADAPTERS.register
class GrafanaAdapter(Adapter):
    name: ClassVar[str] = "grafana"
    label: ClassVar[str] = "Grafana"

    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        try:
            group = PromPayload.model_validate(payload)
        except ValidationError as error:
            raise problems(error, self.label) from None
        # Not externalURL: each instance of an HA setup may have its own, and any of them may send the resolution.
        scope = f"org {group.orgId}"
        result = []
        for index, alert in enumerate(group.alerts):
            found = Found(ctx)
            read_alert(alert, index, ctx, found)
            for name, value in _value_string_labels(alert.valueString):
                found.consider(name, value, f"alerts[{index}].valueString.{name}")
            result.append(
                to_alert(
                    alert, found, ctx, tool=self.name, label=self.label, scope=scope, truncated=group.truncatedAlerts
                )
            )
        return result
