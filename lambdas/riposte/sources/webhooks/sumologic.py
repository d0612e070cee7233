"""Sumo Logic webhook connections: scheduled searches and monitors, with the payload the user's template builds.

Field names are the template's, so they are matched ignoring case and separators (``aggregate_results_json``,
``AggregateResultsJson`` and ``aggregateresultsjson`` are one field). Result rows (``AggregateResultsJson``,
``RawResultsJson``, a monitor's ``ResultsJson``) arrive as a JSON string by default (Sumo quotes every
variable), as an array when the template embeds them unquoted, or as ``""`` when the variable did not resolve:
all three are read. Each row's columns named by ``webhooks.address_fields`` are attackers, counted by the row's
``_count``; host columns (``_sourcehost``, ``dest_ip``...) are ours; ``_raw`` text is never mined for addresses.
A monitor's ``TriggerType`` says ``ResolvedCritical``/``ResolvedWarning`` on recovery; scheduled searches never
resolve, so their blocks end by TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from riposte.sources.webhooks.addresses import field_key
from riposte.sources.webhooks.base import (
    ADAPTERS,
    MAX_ALERTS,
    Adapter,
    Alert,
    Found,
    MapContext,
    iso_time,
    severity_of_word,
    text_of,
    unique,
)
from riposte.sources.webhooks.body import embedded_json
from riposte.sources.webhooks.errors import WebhookError

ROW_FIELDS = ("aggregateresultsjson", "aggregateresults", "rawresultsjson", "rawresults", "resultsjson", "results")
TRIGGER = {"critical": 9.5, "warning": 5.0, "missingdata": 1.0}
COUNT = "count"  # _count, Count


def _first(fields: Mapping[str, Any], *names: str) -> str:
    for name in names:
        if text := text_of(fields.get(name)).strip():
            return text
    return ""


def _count(row: Mapping[str, Any]) -> int:
    for name, value in row.items():
        if field_key(name) == COUNT and not isinstance(value, bool):
            try:
                return max(1, int(float(text_of(value))))
            except (ValueError, OverflowError):
                return 1
    return 1


def _rows(fields: Mapping[str, Any], original: Mapping[str, str]) -> list[tuple[str, Mapping[str, Any]]]:
    rows: list[tuple[str, Mapping[str, Any]]] = []
    for key in ROW_FIELDS:
        if key not in fields:
            continue
        name = original[key]
        value = embedded_json(fields[key], name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise WebhookError(400, "bad_payload", f"{name} must be a list of objects (or that list as JSON text)")
        rows += [(f"{name}[{i}]", row) for i, row in enumerate(value)]
    if len(rows) > MAX_ALERTS:
        raise WebhookError(400, "bad_payload", f"more than {MAX_ALERTS} result rows in one request")
    return rows


def _severity(fields: Mapping[str, Any], trigger: str, ctx: MapContext) -> tuple[float, str]:
    stated = _first(fields, "severity")
    if stated and (value := severity_of_word(stated)) is not None:
        return value, f"Sumo Logic severity {stated} ({value:g})"
    kind = field_key(trigger.replace(" ", "")).replace("resolved", "")
    if kind in TRIGGER:
        return TRIGGER[kind], f"Sumo Logic trigger {trigger} ({TRIGGER[kind]:g})"
    default = ctx.config.webhooks.default_severity
    return ctx.default_severity, f"Sumo Logic gives no severity: default {default}"


@ADAPTERS.register
class SumoLogicAdapter(Adapter):
    name: ClassVar[str] = "sumologic"
    label: ClassVar[str] = "Sumo Logic"

    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        original: dict[str, str] = {}
        fields: dict[str, Any] = {}
        for name, value in payload.items():
            normalized = field_key(name)
            if normalized not in fields:
                fields[normalized], original[normalized] = value, name

        found = Found(ctx)
        for name, value in payload.items():
            if field_key(name) not in ROW_FIELDS:
                found.consider(name, value, name)
        for where, row in _rows(fields, original):
            count = _count(row)
            for column, value in row.items():
                found.consider(column, value, f"{where}.{column}", count)

        name = _first(fields, "searchname", "name", "alertname") or "Sumo Logic alert"
        trigger = _first(fields, "triggertype", "alertstatus")
        resolved = "resolved" in trigger.lower()
        monitor = bool(trigger) or "id" in fields
        # A monitor's alert id stays from trigger to resolution; a scheduled search run is its own alert.
        alert_id = _first(fields, "id", "alertid")
        window = _first(fields, "triggertimestart", "timerange", "triggertimerange", "firetime", "triggertime")
        key = (alert_id,) if monitor and alert_id else (name, window)
        severity, note = _severity(fields, trigger, ctx)
        evidence = (
            ("Monitor" if monitor else "Search", name),
            ("Trigger", trigger),
            ("Condition", _first(fields, "triggercondition", "alertcondition")),
            ("Time range", _first(fields, "timerange", "triggertimerange")),
            *found.host_evidence(),
            ("Query", _first(fields, "searchquery", "query")),
            ("Link", _first(fields, "alertresponseurl", "searchqueryurl", "queryurl", "sourceurl")),
            ("Results", _first(fields, "numrawresults", "numqueryresults")),
        )
        return [
            Alert(
                tool=self.name,
                key=key,
                name=name,
                title=name,
                description=_first(fields, "searchdescription", "description"),
                resolved=resolved,
                severity=severity,
                severity_note=note,
                offenders=found.offenders(),
                skipped=tuple(found.skipped),
                instances=unique(found.instances),
                time=iso_time(_first(fields, "triggertime", "firetime")),
                evidence=evidence,
            )
        ]
