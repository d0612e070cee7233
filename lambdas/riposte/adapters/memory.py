"""In-memory implementations of the ports: used by ``riposte run`` without a table, by tests, and as the
reference behaviour the DynamoDB/EC2 adapters must match."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from riposte.core.ports import (
    HIT_CAP,
    AuditRecord,
    BlockRecord,
    BlockStatus,
    Digest,
    NaclEntry,
    OpenIncident,
    RuleNumberTakenError,
)


@dataclass
class MemoryState:
    """Thread-safe like the table it stands in for: conditional writes are atomic (tests run contenders in
    threads against it)."""

    audit: list[AuditRecord] = field(default_factory=list)
    # Keyed like the DynamoDB table: one record per ACL, direction and address; a rewrite replaces it.
    blocks: dict[tuple[str, bool, str], BlockRecord] = field(default_factory=dict)
    # (key, channel) -> ("in_progress", lease_until) | ("delivered", when)
    deliveries: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    # (key, window start) -> distinct members; key -> {source: last seen}
    counts: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    sightings: dict[str, dict[str, float]] = field(default_factory=dict)
    locks: dict[str, tuple[str, float]] = field(default_factory=dict)
    tripped: str | None = None
    incidents: dict[str, OpenIncident] = field(default_factory=dict)
    # (channel, window start) -> digest
    digests: dict[tuple[str, int], Digest] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_audit(self, record: AuditRecord) -> None:
        self.audit.append(record)

    def record_block(self, block: BlockRecord) -> None:
        with self._mutex:
            self.blocks[(block.acl_id, block.egress, block.cidr)] = block

    def discard_block(self, block: BlockRecord) -> None:
        key = (block.acl_id, block.egress, block.cidr)
        with self._mutex:
            current = self.blocks.get(key)
            if current and current.status == BlockStatus.PENDING and current.rule_number == block.rule_number:
                del self.blocks[key]

    def forget_block(self, block: BlockRecord) -> bool:
        key = (block.acl_id, block.egress, block.cidr)
        with self._mutex:
            current = self.blocks.get(key)
            if current is None or current.rule_number != block.rule_number:
                return False
            del self.blocks[key]
            return True

    def list_blocks(self, containers: tuple[str, ...]) -> tuple[BlockRecord, ...]:
        with self._mutex:
            return tuple(b for b in self.blocks.values() if b.acl_id in containers)

    def acquire_lock(self, name: str, owner: str, now: float, lease_seconds: int) -> bool:
        with self._mutex:
            holder = self.locks.get(name)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return False
            self.locks[name] = (owner, now + lease_seconds)
            return True

    def release_lock(self, name: str, owner: str) -> None:
        with self._mutex:
            if self.locks.get(name, ("",))[0] == owner:
                del self.locks[name]

    def claim_delivery(self, key: str, channel: str, now: float, lease_seconds: int) -> bool:
        with self._mutex:
            current = self.deliveries.get((key, channel))
            if current is not None and (current[0] == "delivered" or current[1] > now):
                return False
            self.deliveries[(key, channel)] = ("in_progress", now + lease_seconds)
            return True

    def complete_delivery(self, key: str, channel: str, now: float) -> None:
        self.deliveries[(key, channel)] = ("delivered", now)

    def release_delivery(self, key: str, channel: str) -> None:
        if self.deliveries.get((key, channel), ("",))[0] == "in_progress":  # never undo a delivery
            del self.deliveries[(key, channel)]

    def trip_breaker(self, reason: str, now: float) -> bool:
        with self._mutex:
            if self.tripped is not None:
                return False
            self.tripped = f"{reason} (since {int(now)})"
            return True

    def breaker(self) -> str | None:
        return self.tripped

    def reset_breaker(self) -> None:
        self.tripped = None

    def hit(self, key: str, member: str, window_seconds: int, now: float) -> int:
        with self._mutex:
            members = self.counts.setdefault((key, int(now // window_seconds) * window_seconds), set())
            if len(members) < HIT_CAP:
                members.add(member)
            return len(members)

    def sighting(self, key: str, source: str, now: float, window_seconds: int) -> frozenset[str]:
        seen = self.sightings.setdefault(key, {})
        seen[source] = max(now, seen.get(source, now))
        return frozenset(s for s, when in seen.items() if when >= now - window_seconds)

    def delivered(self, key: str, channel: str) -> bool:
        return self.deliveries.get((key, channel), ("",))[0] == "delivered"

    def forget_delivery(self, key: str, channel: str) -> None:
        with self._mutex:
            if self.delivered(key, channel):
                del self.deliveries[(key, channel)]

    def open_incident(self, incident: str, addresses: tuple[str, ...], now: float) -> None:
        with self._mutex:
            current = self.incidents.get(incident)
            if current is None:
                self.incidents[incident] = OpenIncident(incident, tuple(sorted(set(addresses))), int(now))
            else:
                merged = tuple(sorted({*current.addresses, *addresses}))
                self.incidents[incident] = OpenIncident(incident, merged, current.opened)

    def open_incidents(self) -> tuple[OpenIncident, ...]:
        with self._mutex:
            return tuple(self.incidents.values())

    def close_incident(self, incident: str) -> None:
        with self._mutex:
            self.incidents.pop(incident, None)

    def load_digest(self, channel: str, window: int) -> Digest | None:
        with self._mutex:
            return self.digests.get((channel, window))

    def save_digest(self, digest: Digest, expected_version: int) -> bool:
        with self._mutex:
            current = self.digests.get((digest.channel, digest.window))
            if (current.version if current else 0) != expected_version:
                return False
            self.digests[(digest.channel, digest.window)] = digest
            return True

    def closed_digests(self, channel: str, now: float) -> tuple[Digest, ...]:
        with self._mutex:
            due = (d for (c, _), d in self.digests.items() if c == channel and d.window + d.seconds <= now)
            return tuple(sorted(due, key=lambda d: d.window))

    def drop_digest(self, digest: Digest) -> None:
        with self._mutex:
            current = self.digests.get((digest.channel, digest.window))
            if current is not None and current.token == digest.token:
                del self.digests[(digest.channel, digest.window)]


@dataclass
class MemoryNacls:
    """NACLs as plain lists; records every mutating call so tests can prove dry-run made none."""

    acls: dict[str, list[NaclEntry]] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    # subnet -> the ACL associated with it
    subnets: dict[str, str] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def target_acls(self, subnets: tuple[str, ...] = ()) -> tuple[str, ...]:
        if subnets:
            return tuple(dict.fromkeys(self.subnets[s] for s in subnets if self.subnets.get(s) in self.acls))
        return tuple(self.acls)

    def entries(self, acl_id: str) -> tuple[NaclEntry, ...]:
        with self._mutex:
            return tuple(self.acls[acl_id])

    def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
        with self._mutex:
            entries = self.acls[acl_id]
            if any(e.rule_number == rule_number and e.egress == egress for e in entries):
                raise RuleNumberTakenError(f"{acl_id} rule {rule_number}")
            self.calls.append(("CreateNetworkAclEntry", acl_id, rule_number))
            entries.append(NaclEntry(rule_number, egress, "deny", cidr))

    def replace_deny(self, acl_id: str, rule_number: int, old_cidr: str, new_cidr: str, *, egress: bool) -> bool:
        with self._mutex:
            entries = self.acls[acl_id]
            for index, entry in enumerate(entries):
                if entry.rule_number == rule_number and entry.egress == egress:
                    if entry.rule_action != "deny" or entry.cidr != old_cidr:
                        return False
                    self.calls.append(("ReplaceNetworkAclEntry", acl_id, rule_number))
                    entries[index] = NaclEntry(rule_number, egress, "deny", new_cidr)
                    return True
            return False

    def remove_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> bool:
        with self._mutex:
            entries = self.acls[acl_id]
            for entry in entries:
                if entry.rule_number == rule_number and entry.egress == egress:
                    if entry.rule_action != "deny" or entry.cidr != cidr:
                        return False
                    self.calls.append(("DeleteNetworkAclEntry", acl_id, rule_number))
                    entries.remove(entry)
                    return True
            return False
