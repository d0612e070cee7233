"""What an action is. Every action declares its IAM permissions (the stack builds the Lambda's policy from
them), says which targets an event offers it, and carries a target out, honouring dry-run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from riposte.core.config import Config
from riposte.core.guard import OwnAddresses
from riposte.core.model import Outcome, SecurityEvent
from riposte.core.ports import NaclPort, StatePort


class WafSpill(Protocol):
    def spill(self, cidr: str) -> str:
        """Add ``cidr`` to a WAF IP set of its family; the set's container id ("waf:<scope>:<name>:<id>").
        Raises ``ValueError`` with the reason when no set can take it (none of that family, all full)."""
        ...


@dataclass(frozen=True, slots=True)
class Permission:
    """IAM actions and the resource scope they need. ``scope`` is a name the stack resolves from the
    configuration ("network_acl": the configured NACLs only), or "*" for actions with no resource-level
    permissions (Describe*)."""

    actions: tuple[str, ...]
    scope: str


@dataclass(frozen=True, slots=True)
class Ports:
    nacl: NaclPort
    state: StatePort
    # Spill-over for full NACLs (WAF IP sets); None when none is configured.
    waf: WafSpill | None = None


@dataclass(frozen=True, slots=True)
class ActionContext:
    event: SecurityEvent
    config: Config
    ports: Ports
    now: datetime
    score: int = 0  # the plan's score: what a block is worth when the budget is tight
    own: OwnAddresses = ()  # the account's own addresses, never to be covered by a widened block

    @property
    def dry_run(self) -> bool:
        return self.config.dry_run


class Action(ABC):
    name: ClassVar[str]
    # What kind of thing a target is; the guard refuses protected "ip" targets before ``execute`` runs.
    target_kind: ClassVar[str]
    permissions: ClassVar[tuple[Permission, ...]]
    # Calls that change the world, by their API name; dry-run must make none of them.
    mutating_calls: ClassVar[tuple[str, ...]]

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        """Problems with ``config`` when this action is enabled, each ``"<field>: <message>"``."""
        return []

    @abstractmethod
    def targets(self, event: SecurityEvent, config: Config) -> tuple[str, ...]:
        """The targets this action would act on for ``event``, chosen by the parties' roles (pure)."""

    @abstractmethod
    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        """Carry the action out on one target (or, in dry-run, only read and report). Raise only for
        unexpected errors; the runner turns them into a retryable failure."""
