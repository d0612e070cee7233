"""Attack sequences (GuardDuty Extended Threat Detection): ``service.detection.sequence``.

The finding's ``resource`` is only ``{"resourceType": "AttackSequence"}``; everything is in the sequence: its
signals (findings, API calls, flow logs... each naming the endpoints, actors and resources involved), actors
(IAM identities and their credentials), endpoints (remote addresses and domains) and resources.

Roles. An INBOUND endpoint acts on us (ACTOR); an OUTBOUND one is reached by our resources (PEER). An endpoint
is ``network`` only when a signal that names it was network traffic (flow logs, runtime monitoring, or an
EC2/Runtime/Lambda/RDS finding that is not DNS-only); an endpoint seen only in CloudTrail, S3 data events or EKS
audit logs called an API, where no network ACL of ours applies. The actors' credentials are compromised (the
sequence is the evidence); resources are compromised as the sequence's type says (``AttackSequence:S3/
CompromisedData``: the buckets), otherwise affected.
"""

from __future__ import annotations

import ipaddress

from riposte.core.model import SIGNAL_THREAT_INTEL, EventKind, Role
from riposte.sources.guardduty.facts import Facts, listing, resource_family
from riposte.sources.guardduty.wire import Endpoint, Indicator, Sequence, SequenceResource, Signal

NETWORK_SIGNAL_TYPES = frozenset({"FLOW_LOGS", "RUNTIME_MONITORING"})
NETWORK_FINDING_FAMILIES = frozenset({"EC2", "Runtime", "Lambda", "RDS"})
# Indicators whose values are addresses, and what such an address is to us.
ADDRESS_INDICATORS = {"MALICIOUS_IP": Role.ACTOR, "TOR_IP": Role.ACTOR, "CRYPTOMINING_IP": Role.PEER}
# Resource kinds each sequence type says are compromised (beyond the actors' credentials).
COMPROMISED_KINDS = {
    "S3": frozenset({"bucket"}),
    "EKS": frozenset({"cluster", "instance"}),
    "ECS": frozenset({"cluster", "instance"}),
    "EC2": frozenset({"instance"}),
}
RESOURCE_KINDS = {
    "EC2_INSTANCE": "instance",
    "ACCESS_KEY": "access_key",
    "S3_BUCKET": "bucket",
    "EKS_CLUSTER": "cluster",
    "ECS_CLUSTER": "cluster",
}
S3_ARN_PREFIX = "arn:aws:s3:::"


def _network_signal(signal: Signal) -> bool:
    kind = (signal.type or "").upper()
    if kind in NETWORK_SIGNAL_TYPES:
        return True
    name = signal.name or ""
    return kind == "FINDING" and resource_family(name) in NETWORK_FINDING_FAMILIES and "!DNS" not in name


def _describe(endpoint: Endpoint) -> str:
    system = endpoint.autonomous_system
    asn = f"AS{system.number}" if system and system.number else None
    where = [" ".join(p for p in (asn, system.name if system else None) if p)]
    where.append(endpoint.location.country or "" if endpoint.location else "")
    text = ", ".join(w for w in where if w)
    return f"{endpoint.ip} ({text})" if text else str(endpoint.ip)


def _endpoints(sequence: Sequence, facts: Facts) -> None:
    on_network = {e for s in sequence.signals if _network_signal(s) for e in s.endpoint_ids if e}
    for endpoint in sequence.endpoints:
        outbound = (endpoint.connection.direction or "").upper() == "OUTBOUND" if endpoint.connection else False
        role = Role.PEER if outbound else Role.ACTOR
        if endpoint.ip:
            facts.party("ip", endpoint.ip, role, network=endpoint.id in on_network)
            facts.remotes.append(_describe(endpoint))
        if endpoint.domain and outbound:
            facts.party("domain", endpoint.domain, Role.PEER)
        facts.add("Domain", endpoint.domain)


def _indicator_addresses(indicators: list[Indicator], facts: Facts) -> None:
    """Addresses named only by an indicator (a Tor exit, a malicious IP) are parties too; their path is
    unknown, so they are never offered to block_ip."""
    for indicator in indicators:
        role = ADDRESS_INDICATORS.get(indicator.key or "")
        if role is None:
            continue
        facts.signals.add(SIGNAL_THREAT_INTEL)
        for value in indicator.values:
            try:
                address = str(ipaddress.ip_address(value)) if isinstance(value, str) and "%" not in value else None
            except ValueError:
                address = None
            if address:
                facts.remote_address(address, role, network=False)


def _actors(sequence: Sequence, facts: Facts) -> None:
    described = []
    for actor in sequence.actors:
        user, process = actor.user, actor.process
        if user is None:
            if process and (process.name or process.path):
                described.append(f"process {process.name or process.path} ({process.path or '?'})")
            continue
        facts.party("access_key", user.credential_uid, Role.COMPROMISED)
        facts.party("principal", user.name, Role.COMPROMISED)
        account = user.account.uid if user.account else None
        if account and account != facts.finding.account_id:
            facts.party("account", account, Role.ACTOR)
        mfa = actor.session.mfa_status if actor.session else None
        details = ", ".join(p for p in (user.credential_uid, f"MFA {mfa.lower()}" if mfa else None) if p)
        who = " ".join(p for p in (user.type, user.name) if p)
        described.append(f"{who} ({details})" if who and details else who)
    facts.add("Actors", listing(described))


def _resource(resource: SequenceResource, compromised: frozenset[str], facts: Facts) -> None:
    kind = RESOURCE_KINDS.get(resource.resource_type or "")
    data = resource.data
    if kind == "access_key":
        facts.party("access_key", resource.uid, Role.COMPROMISED)
        facts.party("principal", data.access_key.user_name if data and data.access_key else None, Role.COMPROMISED)
    elif kind == "bucket":
        name = resource.name or (resource.uid or "").removeprefix(S3_ARN_PREFIX)
        facts.party(kind, name, Role.COMPROMISED if kind in compromised else Role.AFFECTED)
    elif kind == "cluster":
        facts.party(kind, resource.name or resource.uid, Role.COMPROMISED if kind in compromised else Role.AFFECTED)
    elif kind == "instance":
        facts.party(kind, resource.uid, Role.COMPROMISED if kind in compromised else Role.AFFECTED)
    instance_role = Role.COMPROMISED if "instance" in compromised else Role.AFFECTED
    for instance in data.instance_ids if data else []:
        facts.party("instance", instance, instance_role)
    if resource.account_id and resource.account_id != facts.finding.account_id:
        facts.party("account", resource.account_id, Role.AFFECTED)


def _indicators(sequence: Sequence) -> list[Indicator]:
    return [*sequence.sequence_indicators, *(i for s in sequence.signals for i in s.signal_indicators)]


def _signals(sequence: Sequence, facts: Facts) -> None:
    names = [f"{s.name} (x{s.count})" if s.name and s.count and s.count > 1 else s.name for s in sequence.signals]
    facts.add("Signals", f"{len(sequence.signals)}: {listing(names, limit=8)}" if sequence.signals else None)
    indicators = _indicators(sequence)
    for label, key in (("Tactics", "ATTACK_TACTIC"), ("Techniques", "ATTACK_TECHNIQUE"), ("APIs", "HIGH_RISK_API")):
        values = (v for i in indicators if i.key == key for v in i.values if isinstance(v, str))
        facts.add(label, listing(values, limit=8))


def read(sequence: Sequence, facts: Facts) -> None:
    facts.kind = EventKind.ATTACK_SEQUENCE
    _signals(sequence, facts)
    _actors(sequence, facts)
    _endpoints(sequence, facts)
    _indicator_addresses(_indicators(sequence), facts)
    compromised = COMPROMISED_KINDS.get(resource_family(facts.finding.type), frozenset())
    for resource in sequence.resources:
        _resource(resource, compromised, facts)
