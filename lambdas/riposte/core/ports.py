"""The small interfaces the core needs from the world. ``adapters.aws`` implements them with boto3 and
``memory`` in memory; the core only ever sees these protocols."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Distinct members a counting window remembers; past it the count stays at the cap (every threshold is below).
HIT_CAP = 1000


class RuleNumberTakenError(Exception):
    """Someone (a concurrent invocation, a human) took the rule number between our read and our write."""


class RuleQuotaExceededError(Exception):
    """AWS refused the entry: the network ACL holds as many rules as the account's quota allows."""


@dataclass(frozen=True, slots=True)
class NaclEntry:
    rule_number: int
    egress: bool
    rule_action: str  # "allow" | "deny"
    cidr: str  # IPv4 or IPv6 CIDR
    protocol: str = "-1"


class NaclPort(Protocol):
    def target_acls(self, subnets: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The network ACLs the configuration lets Riposte modify (listed IDs and those of listed VPCs); given
        ``subnets``, only those associated with them (none when no such ACL is modifiable)."""
        ...

    def entries(self, acl_id: str) -> tuple[NaclEntry, ...]: ...

    def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
        """Create a deny-all-protocols entry; raise ``RuleNumberTakenError`` if the number is in use."""
        ...

    def replace_deny(self, acl_id: str, rule_number: int, old_cidr: str, new_cidr: str, *, egress: bool) -> bool:
        """Make deny entry ``rule_number`` deny ``new_cidr`` instead of ``old_cidr`` in one call (no moment
        without a block), only if it still denies exactly ``old_cidr``; False (nothing changed) otherwise."""
        ...

    def remove_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> bool:
        """Delete the deny entry ``rule_number`` only if it still denies exactly ``cidr`` in that direction of
        that ACL; False (and nothing deleted) when it does not: a number reused by someone else is never
        removed."""
        ...


@dataclass(frozen=True, slots=True)
class AuditRecord:
    event_id: str
    time: str
    kind: str  # "decision" | "action" | "notification"
    name: str  # action or notifier name; "policy" for decisions
    target: str
    status: str
    detail: str
    mode: str
    score: int | None = None

    def as_item(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


class BlockStatus:
    PENDING = "pending"  # recorded before the entry is created; not yet confirmed
    ACTIVE = "active"  # the entry exists and was read back


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """Proof that Riposte made an entry (what expiry may remove). Written ``pending`` before the entry is
    created, ``active`` once the entry was read back; a lost attempt removes its own pending record."""

    acl_id: str  # the network ACL; for a WAF IP set "waf:<scope>:<name>:<id>"
    cidr: str
    rule_number: int  # 0 in a WAF IP set
    egress: bool
    event_id: str
    created_at: str
    expires_at: str
    status: str = BlockStatus.ACTIVE
    score: int = 0  # the score that decided the block: what eviction weighs
    offences: int = 1  # how often this address was blocked lately: what the TTL ladder climbs
    reason: str = ""  # what it did, for people listing blocks
    incident: str = ""  # the event's notification key: the PagerDuty incident this block belongs to


class StatePort(Protocol):
    def record_audit(self, record: AuditRecord) -> None: ...

    def record_block(self, block: BlockRecord) -> None:
        """Write (or overwrite) the record of a block, keyed by ACL, direction and CIDR."""
        ...

    def discard_block(self, block: BlockRecord) -> None:
        """Remove the record of ``block`` only while it is still pending with the same rule number: a lost
        attempt takes back its own claim and nothing else."""
        ...

    def forget_block(self, block: BlockRecord) -> bool:
        """Remove the record of ``block`` (expired, undone, evicted, replaced) only if it still names the same
        rule number; False when it changed meanwhile."""
        ...

    def list_blocks(self, containers: tuple[str, ...]) -> tuple[BlockRecord, ...]:
        """Every block record in these ACLs / WAF IP sets (their ``acl_id``), pending ones included."""
        ...

    def acquire_lock(self, name: str, owner: str, now: float, lease_seconds: int) -> bool:
        """Take the named lock for ``owner`` unless someone else holds an unexpired lease on it."""
        ...

    def release_lock(self, name: str, owner: str) -> None:
        """Give the lock back if ``owner`` still holds it."""
        ...

    def claim_delivery(self, key: str, channel: str, now: float, lease_seconds: int) -> bool:
        """Claim the right to send ``key`` (what the message is about) to ``channel``. False if it was
        delivered, or another invocation holds an unexpired claim. A claim whose holder died expires after
        ``lease_seconds``."""
        ...

    def complete_delivery(self, key: str, channel: str, now: float) -> None: ...

    def release_delivery(self, key: str, channel: str) -> None:
        """Give a claim back after a failed send, so that the retry may send."""
        ...

    def trip_breaker(self, reason: str, now: float) -> bool:
        """Trip the circuit breaker (Riposte then only dry-runs) unless it is already tripped; True when this
        call tripped it."""
        ...

    def breaker(self) -> str | None:
        """Why the breaker is tripped (and since when), or None when it is not."""
        ...

    def reset_breaker(self) -> None: ...

    def hit(self, key: str, member: str, window_seconds: int, now: float) -> int:
        """Count ``member`` (an event id) under ``key`` in the fixed window containing ``now``; return how many
        distinct members the window holds, this one included. Idempotent (a redelivered event counts once) and
        atomic across concurrent invocations; saturates at ``HIT_CAP``."""
        ...

    def sighting(self, key: str, source: str, now: float, window_seconds: int) -> frozenset[str]:
        """Record that ``source`` saw ``key`` (an address, a principal) at ``now``; return every source that saw
        it within the last ``window_seconds``, this one included."""
        ...

    # --- notifications: who was told, incidents to resolve, storm digests (``riposte.engine.notify``) ---

    def delivered(self, key: str, channel: str) -> bool:
        """True when ``key`` was delivered to ``channel`` (a completed claim; an unexpired claim is not)."""
        ...

    def forget_delivery(self, key: str, channel: str) -> None:
        """Remove a completed delivery, so that ``key`` may be sent to ``channel`` again (after its incident was
        resolved); a claim in progress is left alone."""
        ...

    def open_incident(self, incident: str, addresses: tuple[str, ...], now: float) -> None:
        """Remember that ``incident`` was paged about blocks of ``addresses`` (added to those it already has; the
        time it was first opened is kept)."""
        ...

    def open_incidents(self) -> tuple[OpenIncident, ...]:
        """Every incident paged about blocks and not resolved yet."""
        ...

    def close_incident(self, incident: str) -> None: ...

    def load_digest(self, channel: str, window: int) -> Digest | None:
        """The digest of ``channel`` for the window starting at ``window`` (epoch seconds), if any."""
        ...

    def save_digest(self, digest: Digest, expected_version: int) -> bool:
        """Write ``digest`` only if the stored one still has ``expected_version`` (0: none is stored); False when
        another writer got there first (read again and retry)."""
        ...

    def closed_digests(self, channel: str, now: float) -> tuple[Digest, ...]:
        """The digests of ``channel`` whose window ended at or before ``now``: due to be sent."""
        ...

    def drop_digest(self, digest: Digest) -> None:
        """Remove ``digest`` (sent) only if the stored one is the same generation (its ``token``)."""
        ...


# --- WAF IP sets as a block target (block_waf, block_ip's spill-over, expiry) ---

# A WAF IP set's block records use ``acl_id = "waf:<scope>:<name>:<id>"`` and rule number 0.
WAF_CONTAINER_PREFIX = "waf:"
# AWS WAF's quota: addresses (CIDRs) per IP set.
WAF_SET_CAPACITY = 10_000


class IpSetFullError(Exception):
    """The IP set already holds as many addresses as its budget allows; nothing was changed."""


class IpSetConflictError(Exception):
    """Others kept changing the IP set between our read and our write (WAF's optimistic lock) for every
    attempt; nothing was changed. Worth retrying later."""


def is_waf_container(container: str) -> bool:
    return container.startswith(WAF_CONTAINER_PREFIX)


def container_lock(container: str) -> str:
    """The lease (``StatePort.acquire_lock``) that whoever changes a block container holds meanwhile: block_ip,
    block_waf, the expirer, the reconciler and ``riposte unblock`` alike, so that records and live entries
    never change under one another."""
    return f"waf#{container}" if is_waf_container(container) else f"nacl#{container}"


class WafPort(Protocol):
    def sets(self) -> tuple[str, ...]:
        """The configured IP sets, as block containers (``waf:<scope>:<name>:<id>``)."""
        ...

    def family(self, container: str) -> int:
        """The set's address family: 4 or 6 (a WAF IP set holds one family only)."""
        ...

    def addresses(self, container: str) -> tuple[str, ...]:
        """Every address (CIDR) in the set, normalized (``ipaddress.ip_network``), whoever added it."""
        ...

    def add(self, container: str, cidr: str) -> bool:
        """Add ``cidr``; False when it was already there (nothing changed). ``IpSetFullError`` when the set is at
        its budget, ``IpSetConflictError`` when concurrent writers won every attempt."""
        ...

    def remove(self, container: str, cidr: str) -> bool:
        """Remove ``cidr`` from the set; False when it was not there (nothing changed)."""
        ...


# --- notifications (``riposte.engine.notify``) ---


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """A PagerDuty incident opened about blocks: resolved once none of its blocks remains."""

    incident: str  # the events' notification key: PagerDuty's dedup_key
    addresses: tuple[str, ...]  # what its block actions targeted
    opened: int  # epoch seconds


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One decision folded into a digest, as one line."""

    score: int
    severity: str
    title: str  # untrusted (the event's): the renderer makes it inert
    response: str  # what Riposte did, one line
    event_id: str


@dataclass(frozen=True, slots=True)
class Digest:
    """Decisions folded during a storm, per chat channel and fixed window: counts per severity and the top items
    by score. ``members`` (short hashes of what was folded) make a retried fold count once; ``token`` names this
    generation, so its send claim never covers a later digest of the same window."""

    channel: str
    window: int  # start, epoch seconds
    seconds: int  # length
    token: str
    version: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    top: tuple[DigestItem, ...] = ()
    members: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())
