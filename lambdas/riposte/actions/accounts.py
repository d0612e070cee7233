"""What the actions that act on an account's own resources need from it, as small protocols.

Every such action runs in the account (and region) of the event: the responder's own account with its own
credentials, a member account through the member role (``adapters.aws.sessions``). ``AccountPortsFactory``
builds the ports for one account and region; ``adapters.fakes`` implements every protocol in memory.

``RecordsPort`` keeps what an action changed (the before state) so that its undo can put it back. It is a local
protocol until ``StatePort`` grows the same two calls (``remember``/``recall``); see docs/actions.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class MemberAccessError(Exception):
    """Riposte cannot act in an account: no member role there, or the account is not one it may act in.

    ``retryable`` is False when only a person can fix it (deploy the member stack, list the account): SQS
    retries would only delay the notification and fill the dead-letter queue.
    """

    def __init__(self, account: str, reason: str, *, retryable: bool = False) -> None:
        super().__init__(f"account {account}: {reason}")
        self.account = account
        self.retryable = retryable


class NoAccountAccessError(Exception):
    """This run was built without AWS access (``Ports.accounts`` is None): unit tests of other parts."""


# --- instances ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interface:
    """A network interface of an instance and the security groups on it."""

    id: str
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    vpc_id: str
    state: str  # pending | running | stopping | stopped | shutting-down | terminated
    tags: Mapping[str, str]
    interfaces: tuple[Interface, ...]
    volumes: tuple[str, ...]
    termination_protected: bool


class InstancePort(Protocol):
    def instance(self, instance_id: str) -> Instance | None:
        """The instance, or None when it does not exist in this account and region."""
        ...

    def quarantine_group(self, vpc_id: str) -> str | None:
        """The quarantine group Riposte created in ``vpc_id`` (found by its tag), if any."""
        ...

    def create_quarantine_group(self, vpc_id: str, name: str) -> str:
        """Create the tagged quarantine group in ``vpc_id`` with no rule at all (no egress either)."""
        ...

    def set_groups(self, interface_id: str, groups: tuple[str, ...]) -> None: ...

    def set_termination_protection(self, instance_id: str, enabled: bool) -> None: ...

    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None: ...

    def untag(self, resource_id: str, keys: tuple[str, ...]) -> None: ...

    def snapshots(self, tags: Mapping[str, str]) -> tuple[str, ...]:
        """Snapshots carrying all of ``tags`` (to take each forensic snapshot once)."""
        ...

    def snapshot(self, volume_id: str, description: str, tags: Mapping[str, str]) -> str: ...


# --- IAM ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessKey:
    id: str
    user: str
    user_arn: str
    status: str  # Active | Inactive


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "role" | "user"
    name: str
    arn: str


def identity(arn: str) -> tuple[str, str] | None:
    """("role" | "user", name) of an IAM role or user ARN, or of an assumed-role session ARN; paths dropped,
    because a session ARN carries none. None for anything else."""
    resource = arn.split(":", 5)[-1] if arn.startswith("arn:") and arn.count(":") >= 5 else ""
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role" and rest:
        return "role", rest.split("/")[0]
    if kind in ("role", "user") and rest:
        return kind, rest.split("/")[-1]
    return None


def principal_name(name_or_arn: str) -> tuple[str, str] | None:
    """What a principal party names: ("role" | "user", name) for an ARN, ("", name) for a bare name (either
    kind), None for an ARN of anything else (a federated user, a service)."""
    if name_or_arn.startswith("arn:"):
        return identity(name_or_arn)
    return ("", name_or_arn) if name_or_arn else None


class IamPort(Protocol):
    def access_key(self, key_id: str) -> AccessKey | None:
        """The long-term access key and its owner, or None when no user of this account owns it."""
        ...

    def set_access_key_status(self, user: str, key_id: str, status: str) -> None: ...

    def principal(self, name_or_arn: str) -> Principal | None:
        """The role or user a party names: a role or user ARN, an assumed-role session ARN, or a bare name
        (a role first: GuardDuty names an instance role's credentials by the role's name)."""
        ...

    def inline_policy(self, principal: Principal, policy_name: str) -> str | None:
        """The inline policy's document as JSON, or None when there is none by that name."""
        ...

    def put_inline_policy(self, principal: Principal, policy_name: str, document: str) -> None: ...

    def delete_inline_policy(self, principal: Principal, policy_name: str) -> None: ...


# --- security controls (self-heal) -------------------------------------------------------------------------


# CloudTrail spells protocols by name for tcp/udp/icmp and by number for the rest; EC2 answers by name.
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


def protocol_name(protocol: str) -> str:
    return PROTOCOL_NAMES.get(protocol.lower(), protocol.lower())


@dataclass(frozen=True, slots=True)
class IngressRule:
    """One ingress permission: a protocol ("tcp", "udp", "icmp", "-1" for all), a port range and one CIDR."""

    protocol: str
    from_port: int
    to_port: int
    cidr: str
    rule_id: str = ""

    def describe(self) -> str:
        ports = "all ports" if self.protocol == "-1" else f"{self.protocol} {self.from_port}-{self.to_port}"
        return f"{ports} from {self.cidr}" + (f" ({self.rule_id})" if self.rule_id else "")


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = True
    ignore_public_acls: bool = True
    block_public_policy: bool = True
    restrict_public_buckets: bool = True

    @property
    def complete(self) -> bool:
        return (
            self.block_public_acls
            and self.ignore_public_acls
            and self.block_public_policy
            and (self.restrict_public_buckets)
        )

    def as_dict(self) -> dict[str, bool]:
        return {
            "block_public_acls": self.block_public_acls,
            "ignore_public_acls": self.ignore_public_acls,
            "block_public_policy": self.block_public_policy,
            "restrict_public_buckets": self.restrict_public_buckets,
        }


@dataclass(frozen=True, slots=True)
class KeyState:
    state: str  # Enabled | Disabled | PendingDeletion | ...
    deletion_date: str = ""


class ControlsPort(Protocol):
    """The account's security controls, each read before it is switched back on."""

    def trail_logging(self, trail: str) -> bool | None:
        """Whether the trail (name or ARN) is logging; None when there is no such trail."""
        ...

    def start_trail_logging(self, trail: str) -> None: ...

    def stop_trail_logging(self, trail: str) -> None: ...

    def detector_enabled(self, detector_id: str) -> bool | None: ...

    def set_detector_enabled(self, detector_id: str, enabled: bool) -> None: ...

    def ingress_rules(self, group_id: str) -> tuple[IngressRule, ...] | None:
        """Every ingress rule of the group, one CIDR each; None when the group does not exist."""
        ...

    def revoke_ingress(self, group_id: str, rule: IngressRule) -> None: ...

    def authorize_ingress(self, group_id: str, rule: IngressRule) -> None: ...

    def bucket_public_access_block(self, bucket: str) -> PublicAccessBlock | None:
        """The bucket's block, or None when it has none."""
        ...

    def put_bucket_public_access_block(self, bucket: str, block: PublicAccessBlock | None) -> None:
        """Set the bucket's block; None removes it."""
        ...

    def account_public_access_block(self, account: str) -> PublicAccessBlock | None: ...

    def put_account_public_access_block(self, account: str, block: PublicAccessBlock | None) -> None: ...

    def ebs_default_encryption(self) -> bool: ...

    def set_ebs_default_encryption(self, enabled: bool) -> None: ...

    def key_state(self, key_id: str) -> KeyState | None: ...

    def cancel_key_deletion(self, key_id: str) -> None: ...

    def enable_key(self, key_id: str) -> None: ...


# --- one account, and how to reach it ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountPorts:
    account: str
    region: str
    instances: InstancePort
    iam: IamPort
    controls: ControlsPort
    # Riposte's own identities there (the responder's role, the member role, the CLI's user), as ARNs: an
    # action never disables or denies them.
    own_principals: frozenset[str] = field(default_factory=frozenset)


class AccountPortsFactory(Protocol):
    def __call__(self, account: str | None, region: str | None) -> AccountPorts:
        """The ports for ``account`` and ``region`` (None: the responder's own); raise ``MemberAccessError``
        when Riposte cannot act there."""
        ...


class RecordsPort(Protocol):
    """Small durable records by key: the before state an action's undo restores."""

    def remember(self, key: str, value: Mapping[str, Any]) -> None: ...

    def recall(self, key: str) -> dict[str, Any] | None: ...

    def forget(self, key: str) -> None: ...
