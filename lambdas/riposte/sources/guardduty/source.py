"""The GuardDuty source: a finding, as EventBridge delivers it or as ``get-findings`` returns it, becomes one
``SecurityEvent`` with every remote address, our resources and their roles, and the evidence a human reads.

References: https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-format.html (format),
https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html (bands).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ValidationError

from riposte.core.model import (
    SIGNAL_ARCHIVED,
    SIGNAL_SAMPLE,
    SIGNAL_THREAT_INTEL,
    Entities,
    Role,
    SecurityEvent,
)
from riposte.sources import SOURCES, envelopes
from riposte.sources.base import InputError, Source
from riposte.sources.guardduty import actions, resources, sequence
from riposte.sources.guardduty.facts import Facts, listing, unique
from riposte.sources.guardduty.wire import Action, Finding

DETAIL_TYPE = "GuardDuty Finding"
NAME = "guardduty"
# Types of findings about a backup (a snapshot, an AMI, a recovery point): no live resource is named.
BACKUP_ARTIFACTS = ("!Snapshot", "!AMI", "!RecoveryPoint")


def band(severity: float) -> str:
    """GuardDuty's documented bands: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0."""
    if severity >= 9.0:
        return "Critical"
    if severity >= 7.0:
        return "High"
    if severity >= 4.0:
        return "Medium"
    if severity >= 1.0:
        return "Low"
    return "Informational"


def _flag(value: Any, where: str) -> bool:
    if value is None or value is False or (isinstance(value, str) and value.lower() == "false"):
        return False
    if value is True or (isinstance(value, str) and value.lower() == "true"):
        return True
    raise InputError(f"guardduty: invalid finding: {where}: must be true or false, got {str(value)[:32]!r}")


def is_sample(info: Mapping[str, Any] | None) -> bool:
    """GuardDuty marks its sample findings in ``additionalInfo``: ``sample: true`` flattened beside ``value``
    (EventBridge), inside the ``value`` JSON string (every form, ``Value`` from boto3), or as a string."""
    if not info:
        return False
    flagged = _flag(info.get("sample"), "service.additionalInfo.sample")
    for key in ("value", "Value"):
        text = info.get(key)
        if not isinstance(text, str):
            continue
        try:
            inner = json.loads(text)
        except (ValueError, RecursionError):
            # The sample flag lives here: an unreadable value could hide it, so the finding is refused.
            raise InputError(f"guardduty: invalid finding: service.additionalInfo.{key}: not valid JSON") from None
        if isinstance(inner, dict):
            flagged = _flag(inner.get("sample"), f"service.additionalInfo.{key}.sample") or flagged
    return flagged


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(finding)'}: {e['msg']}" for e in error.errors(include_url=False)
    )


@SOURCES.register
class GuardDutySource(Source):
    name: ClassVar[str] = NAME
    event_patterns: ClassVar[tuple[Mapping[str, Any], ...]] = (
        {"source": ["aws.guardduty"], "detail-type": [DETAIL_TYPE]},
    )

    def matches(self, raw: Mapping[str, Any]) -> bool:
        if raw.get("source") == "aws.guardduty":
            return True
        return ("schemaVersion" in raw or "SchemaVersion" in raw) and ("service" in raw or "Service" in raw)

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        detail: Mapping[str, Any]
        if "detail" in raw or raw.get("source") == "aws.guardduty":
            if raw.get("detail-type") != DETAIL_TYPE:
                raise InputError(f"guardduty: expected detail-type {DETAIL_TYPE!r}, got {raw.get('detail-type')!r}")
            if not isinstance(raw.get("detail"), Mapping):
                raise InputError("guardduty: EventBridge event has no 'detail' object")
            detail = envelopes.eventbridge(raw).detail
        else:
            detail = raw
        try:
            finding = Finding.model_validate(detail)
        except ValidationError as error:
            raise InputError(f"guardduty: invalid finding: {_problems(error)}") from None
        except RecursionError:
            raise InputError("guardduty: invalid finding: nested too deeply") from None
        return to_event(finding)


def _status(finding: Finding, facts: Facts) -> None:
    service = finding.service
    if is_sample(service.additional_info):
        facts.signals.add(SIGNAL_SAMPLE)
    if service.archived:
        facts.signals.add(SIGNAL_ARCHIVED)
    states = [("sample finding" if SIGNAL_SAMPLE in facts.signals else None)]
    states.append("archived" if SIGNAL_ARCHIVED in facts.signals else None)
    facts.add("Status", listing(states))


def _read(finding: Finding, facts: Facts) -> None:
    service = finding.service
    actions.read(service.action or Action(), facts)
    if service.runtime_details is not None:
        resources.runtime(service.runtime_details, facts)
    if service.ebs_volume_scan_details is not None:
        resources.ebs_scan(service.ebs_volume_scan_details, facts)
    if service.malware_scan_details is not None:
        resources.malware_scan(service.malware_scan_details, facts)
    if service.ebs_volume_scan_details is not None or service.malware_scan_details is not None:
        resources.malware_role(facts)
    if service.detection is not None and service.detection.sequence is not None:
        sequence.read(service.detection.sequence, facts)


def to_event(finding: Finding) -> SecurityEvent:
    facts = Facts(finding, evidence=[("Finding type", finding.type)], in_vpc=resources.in_vpc(finding.resource))
    _status(finding, facts)
    resources.evidence(finding.resource, facts)
    _read(finding, facts)
    facts.add("Remote IP", listing(facts.remotes))
    resources.principal_evidence(finding.resource, facts)

    intel = finding.service.evidence.threat_intelligence_details if finding.service.evidence else []
    if lists := unique(t.threat_list_name for t in intel):
        facts.signals.add(SIGNAL_THREAT_INTEL)
        facts.add("Threat list", ", ".join(lists))
    count = finding.service.count or 1
    facts.add("Count", str(count) if count > 1 else None)
    facts.add("Last seen", finding.service.event_last_seen)
    facts.add("Attack sequence", finding.associated_attack_sequence_arn)
    facts.add("Custom detection rule", finding.custom_detection_rule_name)

    backup = any(mark in finding.type for mark in BACKUP_ARTIFACTS)
    resources.parties(finding.resource, facts, workloads=not backup)
    facts.party("account", finding.account_id, Role.AFFECTED)
    # Ours first: the finding's own account leads the accounts.
    ours = [p for p in facts.parties if p.kind == "account" and p.value == finding.account_id]
    others = [p for p in facts.parties if not (p.kind == "account" and p.value == finding.account_id)]
    accounts_last = [p for p in others if p.kind != "account"] + ours + [p for p in others if p.kind == "account"]

    return SecurityEvent(
        source=NAME,
        # updatedAt distinguishes GuardDuty's periodic updates of one finding from a redelivery of the same one.
        id=f"guardduty:{finding.account_id}:{finding.region}:{finding.id}:{finding.updated_at or '-'}",
        subject=f"guardduty:{finding.account_id}:{finding.region}:{finding.id}",
        type=finding.type,
        title=finding.title or finding.type,
        description=finding.description or "",
        kind=facts.kind,
        native_severity=finding.severity,
        severity_note=f"GuardDuty severity {finding.severity:g} ({band(finding.severity)})",
        account=finding.account_id,
        region=finding.region,
        time=finding.updated_at,
        count=count,
        signals=frozenset(facts.signals),
        evidence=tuple(facts.evidence),
        entities=Entities.of(accounts_last),
    )
