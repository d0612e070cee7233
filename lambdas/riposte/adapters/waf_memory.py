"""WAF IP sets in memory: the reference behaviour ``adapters.aws.waf.Wafv2IpSets`` must match (tests run the
same contract against both), and a recorder of mutating calls so tests can prove dry-run made none."""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field

from riposte.core.ports import WAF_SET_CAPACITY, IpSetFullError


def normalized(cidr: str) -> str:
    """One spelling per network: WAF keeps what it was given (``2A0D:5600:24:0:0:0:0:10/128``); we compare and
    record ``2a0d:5600:24::10/128``."""
    return str(ipaddress.ip_network(cidr.strip(), strict=False))


def check_family(container: str, family: int, cidr: str) -> None:
    version = ipaddress.ip_network(cidr, strict=False).version
    if version != family:
        raise ValueError(f"{cidr} is IPv{version}; {container} holds IPv{family} addresses only")


@dataclass
class MemoryWaf:
    """``ip_sets``: container -> (family, addresses). Atomic like WAF's optimistic lock makes each update."""

    ip_sets: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    capacity: int = WAF_SET_CAPACITY
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (API call, container, cidr)
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def sets(self) -> tuple[str, ...]:
        return tuple(self.ip_sets)

    def family(self, container: str) -> int:
        return self.ip_sets[container][0]

    def addresses(self, container: str) -> tuple[str, ...]:
        with self._mutex:
            return tuple(normalized(a) for a in self.ip_sets[container][1])

    def add(self, container: str, cidr: str) -> bool:
        family, held = self.ip_sets[container]
        check_family(container, family, cidr)
        wanted = normalized(cidr)
        with self._mutex:
            if wanted in {normalized(a) for a in held}:
                return False
            if len(held) >= self.capacity:
                raise IpSetFullError(f"{container} holds {len(held)} addresses, its budget of {self.capacity}")
            self.calls.append(("UpdateIPSet", container, wanted))
            held.append(wanted)
            return True

    def remove(self, container: str, cidr: str) -> bool:
        held = self.ip_sets[container][1]
        wanted = normalized(cidr)
        with self._mutex:
            kept = [a for a in held if normalized(a) != wanted]
            if len(kept) == len(held):
                return False
            self.calls.append(("UpdateIPSet", container, wanted))
            held[:] = kept
            return True
