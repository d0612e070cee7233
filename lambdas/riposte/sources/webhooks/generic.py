"""The generic webhook, for scripts and tools without an adapter of their own:

    {"ip": "<address or CIDR>" | ["...", ...], "reason": "...", "severity": "low|medium|high|critical",
     "ttl_minutes": N, "id": "<optional idempotency key>"}

``ip``, ``reason`` and ``severity`` are required; ``ttl_minutes`` asks for how long a block should last (shown
as evidence; the block's expiry is the engine's). Unknown fields are refused, so a typo never goes unnoticed.
A retried request is the same request: without an ``id`` its identity is its content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from riposte.sources.webhooks.alertmanager import problems
from riposte.sources.webhooks.base import (
    ADAPTERS,
    SEVERITY_WORDS,
    Adapter,
    Alert,
    Found,
    MapContext,
    too_many_addresses,
)

MAX_TTL_MINUTES = 365 * 24 * 60


class GenericReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ip: StrictStr | Annotated[list[StrictStr], Field(min_length=1)]
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    severity: Literal["low", "medium", "high", "critical"]
    ttl_minutes: Annotated[int, Field(ge=1, le=MAX_TTL_MINUTES)] | None = None
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] | None = None


@ADAPTERS.register
class GenericAdapter(Adapter):
    name: ClassVar[str] = "generic"
    label: ClassVar[str] = "generic"

    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        try:
            report = GenericReport.model_validate(payload)
        except ValidationError as error:
            raise problems(error, self.label) from None
        found = Found(ctx)
        values = [report.ip] if isinstance(report.ip, str) else report.ip
        if len(values) > ctx.config.webhooks.max_addresses:
            raise too_many_addresses(ctx.config.webhooks.max_addresses)
        for index, value in enumerate(values):
            found.add(value, "ip" if isinstance(report.ip, str) else f"ip[{index}]")
        offenders = found.offenders()
        content = json.dumps([sorted(o.address for o in offenders), report.reason, report.severity, report.ttl_minutes])
        severity = SEVERITY_WORDS[report.severity]
        return [
            Alert(
                tool=self.name,
                key=("id", report.id) if report.id else ("content", content),
                name="Reported address",
                title=report.reason,
                description=report.reason,
                resolved=False,
                severity=severity,
                severity_note=f"reported severity {report.severity} ({severity:g})",
                offenders=offenders,
                evidence=(
                    ("Reason", report.reason),
                    ("Requested block", f"{report.ttl_minutes} minutes" if report.ttl_minutes else ""),
                ),
            )
        ]
