"""Datadog's Webhooks integration: the default payload and custom ones built from its $VARIABLES.

Every variable arrives as text. Attacker addresses come from tags (``$TAGS``: ``key:value`` joined by commas,
split on the first colon only since IPv6 values hold colons), the alert scope (``$ALERT_SCOPE``), the group in a
multi-alert's title (``[Triggered on {src_ip:45.13.105.20}] ...``) and top-level fields of a custom payload, all
named by ``webhooks.address_fields``, plus Datadog's standard attribute for the client address
(``@network.client.ip``), which log monitors group by. The ``alert_*`` fields are read at the top level or, as
some templates write them, inside an ``"alert"`` object (``alert.alert_scope`` or ``alert.scope``).

The alert's key stays the same from trigger to recovery: ``$ALERT_CYCLE_KEY``, else the monitor (``$ALERT_ID``)
and its group (the scope, or the title's ``{...}``), else ``$AGGREG_KEY``, else the title without its prefixes
and its group. Never ``$ID``: that is the notification's own id, new every time. Datadog retries on 5xx with the
same payload. A recovery is ``alert_transition: Recovered`` or ``OK`` (or ``alert_type: success``, or a title
whose transition reads ``[Recovered...]`` or ``[OK...]``, after a priority prefix such as ``[P2]``). The default
payload has no transition and no tags: the setup guide prescribes the extended one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from riposte.sources.webhooks.addresses import field_keys
from riposte.sources.webhooks.base import (
    ADAPTERS,
    Adapter,
    Alert,
    Found,
    MapContext,
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
NESTED = "alert"  # an object some templates put the alert_* fields in
PRIORITY = {"p1": 9.5, "p2": 8.0, "p3": 5.0, "p4": 3.0, "p5": 1.0}
ALERT_TYPE = {"error": 8.0, "warning": 5.0, "info": 3.0}
RECOVERED = ("recovered", "ok")


def _recovered(transition: str) -> bool:
    """ "Recovered", "OK", and the recoveries of a warning ("Warn Recovered", "Warning Recovered")."""
    lowered = transition.lower().strip()
    return lowered in RECOVERED or lowered.endswith(" recovered")


# Datadog's standard attributes that hold the client's address, read whatever webhooks.address_fields says
# (a host field of the same name still wins: ours are never attackers).
STANDARD_ADDRESS_FIELDS = field_keys(("network.client.ip",))
# A monitor with a priority prefixes it: "[P2] [Recovered on {src_ip:45.13.104.10}] SSH brute force".
_TITLE_PRIORITY = re.compile(r"^\[(P[1-5])\]\s*", re.IGNORECASE)
_TITLE_PREFIX = re.compile(r"^\[([^\]]*)\]\s*")
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


def _fields(payload: Mapping[str, Any]) -> dict[str, str]:
    """The known fields as text: top-level first, else from the ``alert`` object (``alert_x`` or ``x`` there)."""
    nested = payload.get(NESTED)
    inner: Mapping[str, Any] = nested if isinstance(nested, dict) else {}
    fields = {}
    for name in KNOWN:
        value = text_of(payload.get(name)).strip()
        if not value and name.startswith("alert_"):
            value = text_of(inner.get(name)).strip() or text_of(inner.get(name.removeprefix("alert_"))).strip()
        fields[name] = value
    return fields


def _title(title: str) -> tuple[str, str, str, str]:
    """(priority, transition, group, name) from a title such as ``[P2] [Triggered on {src_ip:...}] Name``."""
    priority = ""
    if match := _TITLE_PRIORITY.match(title):
        priority, title = match[1], title[match.end() :]
    group = match[1] if (match := _TITLE_GROUP.match(title)) else ""
    transition = ""
    if match := _TITLE_PREFIX.match(title):
        transition, title = match[1].split(" on {", 1)[0].strip(), title[match.end() :]
    return priority, transition, group, title.strip()


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
        fields = _fields(payload)
        priority, title_transition, group, title = _title(fields["title"])
        fields["alert_priority"] = fields["alert_priority"] or priority
        standard = STANDARD_ADDRESS_FIELDS - ctx.host_keys
        found = Found(dataclasses.replace(ctx, address_keys=ctx.address_keys | standard))
        for name, value in payload.items():
            if name not in KNOWN and name != NESTED:
                found.consider(name, value, name)
        for name, value in _tags(payload.get("tags")):
            found.consider(name, value, f"tags.{name}")
        for name, value in _pairs(fields["alert_scope"]):
            found.consider(name, value, f"alert_scope.{name}")
        for name, value in _pairs(group):
            found.consider(name, value, f"title.{name}")
        if fields["hostname"]:
            found.hosts.append(fields["hostname"])

        title = title or fields["alert_title"]
        transition = fields["alert_transition"] or title_transition
        resolved = _recovered(transition) or fields["alert_type"].lower() == "success" or _recovered(title_transition)
        scope = fields["alert_scope"] or group
        key = (
            (fields["alert_cycle_key"],)
            if fields["alert_cycle_key"]
            else (fields["alert_id"], scope)
            if fields["alert_id"]
            else (fields["aggreg_key"],)
            if fields["aggreg_key"]
            else ("title", title, scope)  # never $ID: it changes with every notification
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
