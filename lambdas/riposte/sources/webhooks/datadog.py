"""Datadog's Webhooks integration: the default payload and custom ones built from its $VARIABLES.

Every variable arrives as text. Attacker addresses come from tags (``$TAGS``: ``key:value`` joined by commas,
split on the first colon only since IPv6 values hold colons), the alert scope (``$ALERT_SCOPE``), the group in a
multi-alert's title (``[Triggered on {src_ip:45.13.105.20}] ...``) and top-level fields of a custom payload, all
named by ``webhooks.address_fields``. ``$ALERT_CYCLE_KEY`` stays the same from trigger to recovery, so it keys the
alert; Datadog retries on 5xx with the same payload. A recovery is ``alert_transition: Recovered`` (or
``alert_type: success``, or a title starting ``[Recovered``). The default payload has no transition and no tags:
the setup guide prescribes the extended one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from riposte.sources.webhooks.base import (
    ADAPTERS,
    Adapter,
    Alert,
    Found,
    MapContext,
    digest,
    iso_time,
    text_of,
    unique,
)

# Fields of the extended template; anything else in a custom payload is read only for address fields.
KNOWN = (
    "id",
    "title",
    "body",
    "event_type",
    "date",
    "alert_transition",
    "alert_id",
    "alert_cycle_key",
    "alert_title",
    "alert_status",
    "alert_query",
    "alert_scope",
    "alert_type",
    "alert_priority",
    "tags",
    "hostname",
    "link",
    "aggreg_key",
)
PRIORITY = {"p1": 9.5, "p2": 8.0, "p3": 5.0, "p4": 3.0, "p5": 1.0}
ALERT_TYPE = {"error": 8.0, "warning": 5.0, "info": 3.0}
_TITLE_PREFIX = re.compile(r"^\[[^\]]*\]\s*")
_TITLE_GROUP = re.compile(r"^\[[^\]]*?\bon \{([^}]*)\}\]")


def _pairs(text: str) -> list[tuple[str, str]]:
    """``k:v,k2:v2`` -> pairs, split on the first colon (IPv6 values have more)."""
    pairs = []
    for item in text.split(","):
        name, sep, value = item.strip().partition(":")
        if sep and name:
            pairs.append((name, value.strip()))
    return pairs


def _tags(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, list):
        return [pair for item in value if isinstance(item, str) for pair in _pairs(item)]
    return _pairs(value) if isinstance(value, str) else []


def _severity(fields: Mapping[str, str], ctx: MapContext) -> tuple[float, str]:
    priority, kind = fields["alert_priority"].lower(), fields["alert_type"].lower()
    if fields["alert_transition"].lower() == "no data":
        return 1.0, "Datadog transition No Data (1)"
    if priority in PRIORITY:
        return PRIORITY[priority], f"Datadog priority {priority.upper()} ({PRIORITY[priority]:g})"
    if kind in ALERT_TYPE:
        return ALERT_TYPE[kind], f"Datadog alert type {kind} ({ALERT_TYPE[kind]:g})"
    default = ctx.config.webhooks.default_severity
    return ctx.default_severity, f"Datadog gives no priority or alert type: default {default}"


@ADAPTERS.register
class DatadogAdapter(Adapter):
    name: ClassVar[str] = "datadog"
    label: ClassVar[str] = "Datadog"

    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        fields = {name: text_of(payload.get(name)).strip() for name in KNOWN}
        found = Found(ctx)
        for name, value in payload.items():
            if name not in KNOWN:
                found.consider(name, value, name)
        for name, value in _tags(payload.get("tags")):
            found.consider(name, value, f"tags.{name}")
        for name, value in _pairs(fields["alert_scope"]):
            found.consider(name, value, f"alert_scope.{name}")
        if group := _TITLE_GROUP.match(fields["title"]):
            for name, value in _pairs(group[1]):
                found.consider(name, value, f"title.{name}")
        if fields["hostname"]:
            found.hosts.append(fields["hostname"])

        title = _TITLE_PREFIX.sub("", fields["title"]) or fields["alert_title"]
        transition = fields["alert_transition"]
        resolved = (
            transition.lower() == "recovered"
            or fields["alert_type"].lower() == "success"
            or fields["title"].lower().startswith("[recovered")
        )
        key = (
            (fields["alert_cycle_key"],)
            if fields["alert_cycle_key"]
            else (fields["alert_id"], fields["alert_scope"])
            if fields["alert_id"]
            else (fields["aggreg_key"] or fields["id"] or digest(title),)
        )
        severity, note = _severity(fields, ctx)
        body = fields["body"].replace("%%%", "").strip()
        evidence = (
            ("Monitor", fields["alert_id"]),
            ("Transition", transition),
            ("Priority", fields["alert_priority"]),
            ("Scope", fields["alert_scope"]),
            *found.host_evidence(),
            ("Query", fields["alert_query"]),
            ("Link", fields["link"]),
        )
        return [
            Alert(
                tool=self.name,
                key=key,
                name=fields["alert_title"] or title or "Datadog alert",
                title=title or "Datadog alert",
                description=fields["alert_status"] or body,
                resolved=resolved,
                severity=severity,
                severity_note=note,
                offenders=found.offenders(),
                skipped=tuple(found.skipped),
                instances=unique(found.instances),
                time=iso_time(fields["date"]),
                evidence=evidence,
            )
        ]
