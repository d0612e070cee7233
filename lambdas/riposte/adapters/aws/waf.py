"""AWS WAF (wafv2) IP sets behind the core's ``WafPort``.

WAF has no "add one address" call: UpdateIPSet replaces the whole list, guarded by the LockToken that GetIPSet
returned. A writer that lost the race gets ``WAFOptimisticLockException``; we re-read and retry with jittered
backoff, a bounded number of times, so concurrent invocations (and people editing the set) never overwrite
each other's addresses. CLOUDFRONT-scope sets exist only in us-east-1, whatever the stack's region.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from riposte.adapters.aws import error_code
from riposte.adapters.waf_memory import check_family, normalized
from riposte.core.config import IpSet, Waf, WafScope
from riposte.core.ports import WAF_SET_CAPACITY, IpSetConflictError, IpSetFullError

# Lost races before giving up (the caller's queue retries the event later).
ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
CLOUDFRONT_REGION = "us-east-1"
# The calls this adapter makes (the stack grants exactly these, on the configured sets only).
CALLS = ("wafv2:GetIPSet", "wafv2:UpdateIPSet")


def backoff(attempt: int) -> float:
    """Full jitter: contenders that collided spread out instead of colliding again."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))  # noqa: S311


# Module-level so tests can replace it (no real sleeping in unit tests).
pause: Callable[[float], None] = time.sleep


class Wafv2IpSets:
    """``clients``: a wafv2 client per scope used ("REGIONAL": the stack's region, "CLOUDFRONT": us-east-1)."""

    def __init__(
        self, clients: Mapping[str, Any], ip_sets: tuple[IpSet, ...], *, capacity: int = WAF_SET_CAPACITY
    ) -> None:
        self._clients = clients
        self._sets = {s.container: s for s in ip_sets}
        self._capacity = capacity
        self._families: dict[str, int] = {}

    def sets(self) -> tuple[str, ...]:
        return tuple(self._sets)

    def _read(self, container: str) -> tuple[dict[str, Any], str]:
        ip_set = self._sets[container]
        response = self._clients[str(ip_set.scope)].get_ip_set(Name=ip_set.name, Scope=str(ip_set.scope), Id=ip_set.id)
        described: dict[str, Any] = response["IPSet"]
        # A set's family never changes: remember it (``family`` then costs no call).
        self._families[container] = 6 if described.get("IPAddressVersion") == "IPV6" else 4
        return described, str(response["LockToken"])

    def family(self, container: str) -> int:
        if container not in self._families:
            self._read(container)
        return self._families[container]

    def addresses(self, container: str) -> tuple[str, ...]:
        described, _ = self._read(container)
        return tuple(normalized(a) for a in described.get("Addresses", []))

    def add(self, container: str, cidr: str) -> bool:
        wanted = normalized(cidr)

        def change(held: list[str]) -> list[str] | None:
            check_family(container, self._families[container], wanted)  # known from the read just made
            if wanted in {normalized(a) for a in held}:
                return None
            if len(held) >= self._capacity:
                raise IpSetFullError(f"{container} holds {len(held)} addresses, its budget of {self._capacity}")
            return [*held, wanted]

        return self._update(container, change)

    def remove(self, container: str, cidr: str) -> bool:
        wanted = normalized(cidr)

        def change(held: list[str]) -> list[str] | None:
            kept = [a for a in held if normalized(a) != wanted]
            return None if len(kept) == len(held) else kept

        return self._update(container, change)

    def _update(self, container: str, change: Callable[[list[str]], list[str] | None]) -> bool:
        """Read, apply ``change`` (None: nothing to do), write with the read's LockToken; on a lost race, again."""
        ip_set = self._sets[container]
        client = self._clients[str(ip_set.scope)]
        for attempt in range(ATTEMPTS):
            described, token = self._read(container)
            addresses = change(list(described.get("Addresses", [])))
            if addresses is None:
                return False
            update: dict[str, Any] = {
                "Name": ip_set.name,
                "Scope": str(ip_set.scope),
                "Id": ip_set.id,
                "Addresses": addresses,
                "LockToken": token,
            }
            # UpdateIPSet replaces the set's whole specification: keep the description someone gave it.
            if described.get("Description"):
                update["Description"] = described["Description"]
            try:
                client.update_ip_set(**update)
            except ClientError as error:
                if error_code(error) != "WAFOptimisticLockException":
                    raise
                pause(backoff(attempt))
                continue
            return True
        raise IpSetConflictError(f"{container} kept changing under us ({ATTEMPTS} attempts)")


def clients_for(session: Any, waf: Waf) -> dict[str, Any]:
    """One wafv2 client per scope the configuration uses (none when no set is configured)."""
    scopes = {s.scope for s in waf.ip_sets}
    clients: dict[str, Any] = {}
    if WafScope.REGIONAL in scopes:
        clients[str(WafScope.REGIONAL)] = session.client("wafv2")
    if WafScope.CLOUDFRONT in scopes:
        clients[str(WafScope.CLOUDFRONT)] = session.client("wafv2", region_name=CLOUDFRONT_REGION)
    return clients


def from_config(session: Any, waf: Waf) -> Wafv2IpSets | None:
    """The WAF port for this configuration, or None when it lists no IP set."""
    if not waf.ip_sets:
        return None
    return Wafv2IpSets(clients_for(session, waf), waf.ip_sets, capacity=waf.max_addresses)
