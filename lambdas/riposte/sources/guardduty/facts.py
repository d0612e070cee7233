"""What the readers gather from one finding: the parties with their roles, the evidence in the order a human
reads it, and the signals scoring reacts to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from riposte.core.model import EventKind, Party, Role
from riposte.sources.guardduty.wire import Finding, PortDetails, RemoteIp

# Evidence is clipped: runtime paths, command lines and user agents are attacker-controlled and may be long. One
# value (or one item of a list) to MAX_TEXT, a whole line to MAX_LINE.
MAX_TEXT = 200
MAX_LINE = 600
# A list in one evidence line shows this many items, then "and N more".
MAX_ITEMS = 5
# ASNs GuardDuty uses for "unknown" (sample findings use -1, private peers 0).
UNKNOWN_ASNS = frozenset({"", "0", "-1"})
UNKNOWN = "UNKNOWN"


def unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(values: Iterable[str | None], limit: int = MAX_ITEMS) -> str:
    items = unique(clip(v) for v in values if v)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def threat_purpose(finding_type: str) -> str:
    """``Backdoor`` of ``Backdoor:EC2/C&CActivity.B``."""
    return finding_type.split(":", 1)[0]


def resource_family(finding_type: str) -> str:
    """``EC2`` of ``Backdoor:EC2/C&CActivity.B``."""
    return finding_type.split(":", 1)[-1].split("/", 1)[0]


def port(details: PortDetails | None, protocol: str | None = None) -> str | None:
    if details is None or details.port is None:
        return None
    text = f"{details.port}/{protocol}" if protocol else str(details.port)
    return f"{text} ({details.port_name})" if details.port_name and details.port_name != "Unknown" else text


def describe_remote(remote: RemoteIp) -> str:
    """``addr (ASnnn org, Country)``; both addresses of a dual-stack remote, ``v4 / v6 (...)``."""
    parts = []
    org = remote.organization
    if org:
        asn = f"AS{org.asn}" if org.asn and org.asn not in UNKNOWN_ASNS else None
        name = next((n for n in (org.asn_org, org.org) if n and n != UNKNOWN), None)
        parts.append(" ".join(p for p in (asn, name) if p))
    if remote.country and remote.country.country_name and remote.country.country_name != UNKNOWN:
        parts.append(remote.country.country_name)
    where = ", ".join(p for p in parts if p)
    addresses = " / ".join(remote.addresses)
    return f"{addresses} ({where})" if where else addresses


@dataclass
class Facts:
    finding: Finding
    kind: EventKind = EventKind.OTHER
    parties: list[Party] = field(default_factory=list)
    evidence: list[tuple[str, str]] = field(default_factory=list)
    signals: set[str] = field(default_factory=set)
    # "Remote IP" evidence, one description per remote party, shown after the action's own evidence.
    remotes: list[str] = field(default_factory=list)
    # Roles of our own resources, decided by what the finding says happened to them.
    workload_role: Role = Role.AFFECTED  # instance, cluster, function, database
    identity_role: Role = Role.AFFECTED  # access key, principal
    bucket_role: Role = Role.AFFECTED
    # Whether traffic between the resource and a remote crosses our VPC's network ACLs (a Lambda function
    # outside any VPC egresses through AWS-managed networking, where no NACL of ours applies).
    in_vpc: bool = True

    def add(self, label: str, value: str | None) -> None:
        if value:
            self.evidence.append((label, clip(value, MAX_LINE)))

    def party(self, kind: str, value: str | None, role: Role, *, network: bool = False) -> None:
        if value:
            self.parties.append(Party(kind, value, role, network))

    def remote(self, remote: RemoteIp | None, role: Role, *, network: bool) -> None:
        """A remote party: every address it carries, and its description for the evidence."""
        if remote is None or not remote.addresses:
            return
        for address in remote.addresses:
            self.party("ip", address, role, network=network)
        self.remotes.append(describe_remote(remote))

    def remote_address(self, address: str, role: Role, *, network: bool) -> None:
        """An address without details (Kubernetes ``sourceIPs``): added unless already a party."""
        if not any(p.kind == "ip" and p.value == address for p in self.parties):
            self.party("ip", address, role, network=network)
            self.remotes.append(address)
