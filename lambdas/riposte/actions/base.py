"""What an action is. Every action declares its IAM permissions (the stack builds the Lambda's policy from
them), says which targets an event offers it, and carries a target out, honouring dry-run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from riposte.actions.accounts import AccountPorts, AccountPortsFactory, NoAccountAccessError, RecordsPort
from riposte.core.config import Config
from riposte.core.guard import OwnAddresses
from riposte.core.model import Outcome, SecurityEvent, Status
from riposte.core.ports import NaclPort, StatePort, WafPort


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
    # WAF IP sets (block_waf, and block_ip's spill-over for full NACLs); None when none is configured.
    waf: WafPort | None = None
    # The resources of the event's account (instances, IAM, security controls), through the member role there.
    # None where no AWS access was built (unit tests of other actions): those actions then only say what they
    # would do in dry-run, and fail in enforce.
    accounts: AccountPortsFactory | None = None
    # Before states for undo; None: actions that must record one refuse to change anything.
    records: RecordsPort | None = None


@dataclass(frozen=True, slots=True)
class ActionContext:
    event: SecurityEvent
    config: Config
    ports: Ports
    now: datetime
    score: int = 0  # the plan's score: what a block is worth when the budget is tight
    own: OwnAddresses = ()  # the account's own addresses, never to be covered by a widened block
    # The action this context runs; set, ``dry_run`` honours the action's own mode (``action_modes``).
    action: str = ""
    # The circuit breaker is tripped: every action only says what it would do.
    held: bool = False

    @property
    def dry_run(self) -> bool:
        return self.held or (self.config.dry_run_for(self.action) if self.action else self.config.dry_run)

    def dry_run_for(self, action: str) -> bool:
        return self.held or self.config.dry_run_for(action)

    @property
    def account(self) -> str | None:
        return self.event.account

    @property
    def region(self) -> str | None:
        return self.event.region

    def aws(self, account: str | None = None, region: str | None = None) -> AccountPorts:
        """The ports of ``account`` and ``region`` (default: the event's). Raises ``MemberAccessError`` when
        Riposte cannot act there, ``NoAccountAccessError`` when this run has no AWS access at all."""
        if self.ports.accounts is None:
            raise NoAccountAccessError("no AWS access in this run")
        return self.ports.accounts(account or self.account, region or self.region)


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

    @classmethod
    def permissions_for(cls, config: Config) -> tuple[Permission, ...]:
        """The permissions ``config`` needs of this action (say, only the heals it enables); the stack grants
        these. Default: all it declares."""
        return cls.permissions

    @abstractmethod
    def execute(self, target: str, ctx: ActionContext) -> Outcome:
        """Carry the action out on one target (or, in dry-run, only read and report). Raise only for
        unexpected errors; the runner turns them into a retryable failure."""

    def undo(self, target: str, ctx: ActionContext) -> Outcome:
        """Put back what ``execute`` changed on ``target``, from the before state it recorded."""
        return Outcome(self.name, target, Status.FAILED, f"{self.name} has no undo")
