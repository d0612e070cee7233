"""What a webhook adapter is, the normalized alert every adapter produces, and how an alert becomes events.

An adapter reads one tool's payload (already decoded and size-checked) into ``Alert`` values; ``events_of`` then
turns each alert into security events, one per offending address (or one without an address, so that a person
still hears about it). Identities are derived here, the same way for every tool:

- ``subject``: ``webhooks:<tool>:<alert digest>[:<address>]``; the digest covers what the tool keeps stable for
  one alert episode (Alertmanager/Grafana fingerprint and start, Datadog's alert cycle, a CloudWatch alarm...).
  Firing and resolved notifications of one episode share it, so the engine can resolve what it paged.
- ``id``: the subject, then ``firing`` or ``resolved`` (and a digest of what distinguishes deliveries that the
  tool does not re-send, such as a CloudWatch state change). A retried or repeated delivery maps to the same
  id, so it acts and notifies once.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from riposte.core.config import Config
from riposte.core.model import SIGNAL_RESOLVED, Entities, EventKind, Party, Role, SecurityEvent
from riposte.core.registry import Registry
from riposte.sources.webhooks import addresses
from riposte.sources.webhooks.addresses import field_key, field_keys
from riposte.sources.webhooks.errors import WebhookError

SOURCE_PREFIX = "webhooks"
# A resolved (recovered, OK) alert: it must never act. The engine reads it to resolve what it paged.

# Text from a tool is cut at these lengths (on a word boundary): a message must fit a queue message and a
# Slack block, and nobody reads more.
MAX_TITLE = 300
MAX_DESCRIPTION = 2000
MAX_EVIDENCE = 500

# Severity words, as tools and people spell them, on the 0-10 scale the scorer multiplies by ten (the bands:
# low 1.0-3.9, medium 4.0-6.9, high 7.0-8.9, critical 9.0-10).
SEVERITY_WORDS: dict[str, float] = {
    "critical": 9.5,
    "crit": 9.5,
    "emergency": 9.5,
    "high": 8.0,
    "error": 8.0,
    "major": 8.0,
    "medium": 5.0,
    "warning": 5.0,
    "warn": 5.0,
    "moderate": 5.0,
    "low": 3.0,
    "minor": 3.0,
    "info": 1.0,
    "informational": 1.0,
    "none": 0.0,
}


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, marked with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def severity_of_word(word: str) -> float | None:
    return SEVERITY_WORDS.get(word.strip().lower())


@dataclass(frozen=True, slots=True)
class Offender:
    address: str  # canonical, from ``addresses.parse``
    count: int = 1


@dataclass(frozen=True, slots=True)
class Skipped:
    """A value in an address field that is no address: where it was (``alerts[1].labels.src_ip``) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as a tool sent it, normalized: the input every adapter produces and ``events_of`` consumes."""

    tool: str
    key: tuple[str, ...]  # stable for one alert episode across re-sends and its resolution
    name: str  # the rule or monitor: the event's type
    title: str
    resolved: bool
    severity: float  # 0-10
    severity_note: str
    description: str = ""
    offenders: tuple[Offender, ...] = ()
    # What else distinguishes one delivery from another of the same key and state (a CloudWatch state change).
    occurrence: str = ""
    instances: tuple[str, ...] = ()  # our EC2 instances named by the alert
    account: str | None = None
    region: str | None = None
    time: str | None = None
    evidence: tuple[tuple[str, str], ...] = field(default=())
    skipped: tuple[Skipped, ...] = ()  # values of its address fields that were not addresses


@dataclass(frozen=True, slots=True)
class MapContext:
    """What an adapter needs from the configuration, resolved once per request."""

    config: Config
    address_keys: frozenset[str]
    host_keys: frozenset[str]

    @classmethod
    def of(cls, config: Config) -> MapContext:
        hooks = config.webhooks
        return cls(config, field_keys(hooks.address_fields), field_keys(hooks.host_fields))

    @property
    def default_severity(self) -> float:
        return SEVERITY_WORDS[self.config.webhooks.default_severity]


INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
# Alerts per request: one batch from Alertmanager or Grafana is far smaller; more is an attack on our time.
MAX_ALERTS = 1000


class Found:
    """Addresses and hosts gathered from one alert's fields, labels, tags or rows, by field name.

    A value under an address field is read as a strict literal, or as ``ip:port``/``[v6]:port`` whose address
    is one. Empty and ``-`` are no address (an unresolved template variable, a log's missing field). Anything
    else is skipped and recorded in ``skipped``, naming where it was and why: one bad label must not lose the
    other alerts of the request (Alertmanager and Datadog never retry a 4xx), and the alert still becomes an
    event, without that address. A value under a host field is ours: shown as evidence, and never an attacker
    even when an address field repeats it."""

    def __init__(self, ctx: MapContext) -> None:
        self.ctx = ctx
        self._counts: dict[str, int] = {}
        self.hosts: list[str] = []
        self.instances: list[str] = []
        self.skipped: list[Skipped] = []

    def consider(self, name: str, value: Any, where: str, count: int = 1) -> None:
        key = field_key(name)
        if key in self.ctx.host_keys:
            for item in value if isinstance(value, list) else [value]:
                text = str(item).strip() if isinstance(item, str | int | float) else ""
                if INSTANCE_ID.fullmatch(text):
                    self.instances.append(text)
                elif text:
                    self.hosts.append(text)
        elif key in self.ctx.address_keys:
            for item in value if isinstance(value, list) else [value]:
                if item is None or item in addresses.NO_ADDRESS:
                    continue
                self.read(item, where, count)

    def read(self, value: Any, where: str, count: int = 1) -> None:
        """``value`` from an address field: its address counted, or the value recorded in ``skipped``."""
        try:
            address = self._parse(value)
        except WebhookError as error:
            bare = addresses.without_port(value) if isinstance(value, str) else None
            try:
                address = self._parse(bare) if bare else ""
            except WebhookError:
                address = ""
            if not address:
                self.skipped.append(Skipped(where, str(error)))
                return
        try:
            self._count(address, count)
        except WebhookError as error:  # past webhooks.max_addresses: this one is left out, the alert goes on
            self.skipped.append(Skipped(where, f"{address}: {error} (webhooks.max_addresses); left out"))

    def add(self, value: Any, where: str, count: int = 1) -> None:
        """``value``, which the sender states is an address (the generic tool's ``ip``): strict, else 400."""
        try:
            address = self._parse(value)
        except WebhookError as error:
            raise WebhookError(error.status, error.code, f"{where}: {error}") from None
        self._count(address, count)

    def _parse(self, value: Any) -> str:
        hooks = self.ctx.config.webhooks
        return addresses.parse(value, min_prefix_v4=hooks.min_prefix_ipv4, min_prefix_v6=hooks.min_prefix_ipv6)

    def _count(self, address: str, count: int) -> None:
        hooks = self.ctx.config.webhooks
        if address not in self._counts and len(self._counts) >= hooks.max_addresses:
            raise too_many_addresses(hooks.max_addresses)
        self._counts[address] = self._counts.get(address, 0) + max(count, 1)

    def offenders(self) -> tuple[Offender, ...]:
        ours = {a for a in (addresses.host_part(h) for h in self.hosts) if a}
        return tuple(Offender(a, n) for a, n in self._counts.items() if a not in ours)

    def host_evidence(self) -> tuple[tuple[str, str], ...]:
        shown = ", ".join(dict.fromkeys(self.hosts))
        return (("Host", shown),) if shown else ()


def too_many_addresses(limit: int) -> WebhookError:
    return WebhookError(400, "too_many_addresses", f"more than {limit} addresses in one request")


def iso_time(value: Any) -> str | None:
    """An ISO 8601 UTC time from what tools send: ISO strings, epoch milliseconds (as text or number), or Sumo
    Logic's ``05/12/2026 09:20:11 AM UTC``. None when it cannot be read (the raw value stays in the evidence)."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    moment: datetime | None = None
    try:
        if re.fullmatch(r"[0-9]{12,14}", text):
            moment = datetime.fromtimestamp(int(text) / 1000, UTC)
        elif text.endswith(" UTC"):
            moment = datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p UTC").replace(tzinfo=UTC)
        elif text and not text.startswith("0001-"):
            parsed = datetime.fromisoformat(re.sub(r"([+-][0-9]{2})([0-9]{2})$", r"\1:\2", text))
            moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def text_of(value: Any) -> str:
    """A scalar as text (templates often send numbers and booleans as either); anything else is empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return ""


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


class Adapter(ABC):
    """One alerting tool's payload -> alerts. ``auth`` says how its requests are authenticated: ``secret`` (a
    bearer token or an HMAC signature, from the tool's secret) or ``sns`` (SNS's own message signature)."""

    name: ClassVar[str]
    label: ClassVar[str]  # how people write the tool's name
    auth: ClassVar[str] = "secret"

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        return []

    @abstractmethod
    def alerts(self, payload: Mapping[str, Any], ctx: MapContext) -> list[Alert]:
        """The alerts in ``payload`` (a JSON object); ``WebhookError`` (400) naming the field when malformed."""


BUILTINS = tuple(
    f"riposte.sources.webhooks.{tool}" for tool in ("alertmanager", "datadog", "generic", "grafana", "sns", "sumologic")
)
ADAPTERS: Registry[type[Adapter]] = Registry("webhook tool", BUILTINS)


def source_name(tool: str) -> str:
    return f"{SOURCE_PREFIX}:{tool}"


def _event(alert: Alert, offender: Offender | None) -> SecurityEvent:
    severity, note = alert.severity, alert.severity_note
    if alert.resolved:  # a resolved alert has no severity left: it must never act
        severity, note = 0.0, f"{note}, now resolved"
    base = f"{SOURCE_PREFIX}:{alert.tool}:{digest(*alert.key)}"
    subject = f"{base}:{offender.address}" if offender else base
    state = "resolved" if alert.resolved else "firing"
    event_id = f"{subject}:{state}" + (f":{digest(alert.occurrence)[:8]}" if alert.occurrence else "")
    parties = [Party("ip", offender.address, Role.ACTOR, network=True)] if offender else []
    parties += [Party("instance", i, Role.AFFECTED) for i in alert.instances]
    parties += [Party("account", alert.account, Role.AFFECTED)] if alert.account else []
    evidence = list(alert.evidence)
    if offender and offender.count > 1:
        evidence.append(("Count", str(offender.count)))
    evidence += skipped_evidence(alert.skipped)
    return SecurityEvent(
        source=source_name(alert.tool),
        id=event_id,
        subject=subject,
        type=clip(alert.name, MAX_TITLE) or alert.tool,
        title=clip(alert.title, MAX_TITLE) or alert.name,
        description=clip(alert.description, MAX_DESCRIPTION),
        kind=EventKind.ALERT,
        native_severity=severity,
        severity_note=note,
        account=alert.account,
        region=alert.region,
        time=alert.time,
        count=offender.count if offender else 1,
        signals=frozenset({SIGNAL_RESOLVED}) if alert.resolved else frozenset(),
        evidence=tuple((label, clip(value, MAX_EVIDENCE)) for label, value in evidence if value),
        entities=Entities.of(parties),
    )


# Skipped values shown on an event: enough to see what the tool sends; the reply lists them all.
MAX_SKIPPED_SHOWN = 5


def skipped_evidence(skipped: tuple[Skipped, ...]) -> list[tuple[str, str]]:
    """The skipped values as evidence, so that the person reading the alert sees what could not be acted on."""
    shown = [("Skipped address", str(s)) for s in skipped[:MAX_SKIPPED_SHOWN]]
    if len(skipped) > MAX_SKIPPED_SHOWN:
        shown.append(("Skipped address", f"and {len(skipped) - MAX_SKIPPED_SHOWN} more"))
    return shown


def events_of(alert: Alert) -> list[SecurityEvent]:
    """One event per offending address; one without an address when the alert names none (people still hear of
    it; nothing can be acted on)."""
    if not alert.offenders:
        return [_event(alert, None)]
    return [_event(alert, offender) for offender in alert.offenders]
