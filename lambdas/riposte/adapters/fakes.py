"""In-memory implementations of the account ports (``riposte.actions.accounts``) and of ``RecordsPort``.

Tests use them to check each action's logic without AWS; every change is recorded in ``calls`` by its IAM action
name (the names actions declare in ``mutating_calls``), so a test proves that dry-run changed nothing.
``MemoryRecords`` also keeps the before states of a ``riposte run`` without a table.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from riposte.actions.accounts import (
    AccessKey,
    AccountPorts,
    IngressRule,
    Instance,
    Interface,
    KeyState,
    MemberAccessError,
    Principal,
    PublicAccessBlock,
    principal_name,
)

Calls = list[tuple[str, ...]]
# Ids the fakes make up start far above the small ones tests write by hand (sg-00000000000000004), so the two
# never collide, whatever order the tests run in.
_ids = itertools.count(0xF000000000000)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids):017x}"


@dataclass
class MemoryRecords:
    records: dict[str, str] = field(default_factory=dict)  # JSON, as a durable store would keep them

    def remember(self, key: str, value: Mapping[str, Any]) -> None:
        self.records[key] = json.dumps(value, sort_keys=True)

    def recall(self, key: str) -> dict[str, Any] | None:
        text = self.records.get(key)
        return None if text is None else dict(json.loads(text))

    def forget(self, key: str) -> None:
        self.records.pop(key, None)


@dataclass
class FakeInstances:
    calls: Calls = field(default_factory=list)
    instances: dict[str, Instance] = field(default_factory=dict)
    quarantine: dict[str, str] = field(default_factory=dict)  # vpc -> group
    snapshot_tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(
        self,
        instance_id: str,
        *,
        vpc_id: str = "vpc-0a1b2c3d4e5f60718",
        interfaces: Mapping[str, tuple[str, ...]] | None = None,
        volumes: tuple[str, ...] = ("vol-0a1b2c3d4e5f60718",),
        tags: Mapping[str, str] | None = None,
        state: str = "running",
    ) -> Instance:
        enis = interfaces if interfaces is not None else {"eni-0a1b2c3d4e5f60718": ("sg-0a1b2c3d4e5f60718",)}
        instance = Instance(
            id=instance_id,
            vpc_id=vpc_id,
            state=state,
            tags=dict(tags or {}),
            interfaces=tuple(Interface(i, g) for i, g in enis.items()),
            volumes=volumes,
            termination_protected=False,
        )
        self.instances[instance_id] = instance
        return instance

    def instance(self, instance_id: str) -> Instance | None:
        return self.instances.get(instance_id)

    def quarantine_group(self, vpc_id: str) -> str | None:
        return self.quarantine.get(vpc_id)

    def create_quarantine_group(self, vpc_id: str, name: str) -> str:
        self.calls.append(("CreateSecurityGroup", vpc_id, name))
        self.quarantine[vpc_id] = group = _new_id("sg")
        return group

    def set_groups(self, interface_id: str, groups: tuple[str, ...]) -> None:
        self.calls.append(("ModifyNetworkInterfaceAttribute", interface_id, *groups))
        for instance in self.instances.values():
            if any(i.id == interface_id for i in instance.interfaces):
                enis = tuple(Interface(i.id, groups) if i.id == interface_id else i for i in instance.interfaces)
                self.instances[instance.id] = replace(instance, interfaces=enis)

    def set_termination_protection(self, instance_id: str, enabled: bool) -> None:
        self.calls.append(("ModifyInstanceAttribute", instance_id, str(enabled)))
        self.instances[instance_id] = replace(self.instances[instance_id], termination_protected=enabled)

    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None:
        self.calls.append(("CreateTags", resource_id, *tags))
        instance = self.instances[resource_id]
        self.instances[resource_id] = replace(instance, tags={**instance.tags, **tags})

    def untag(self, resource_id: str, keys: tuple[str, ...]) -> None:
        self.calls.append(("DeleteTags", resource_id, *keys))
        instance = self.instances[resource_id]
        self.instances[resource_id] = replace(instance, tags={k: v for k, v in instance.tags.items() if k not in keys})

    def snapshots(self, tags: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(s for s, t in self.snapshot_tags.items() if all(t.get(k) == v for k, v in tags.items()))

    def snapshot(self, volume_id: str, description: str, tags: Mapping[str, str]) -> str:
        self.calls.append(("CreateSnapshot", volume_id))
        self.snapshot_tags[snapshot := _new_id("snap")] = dict(tags)
        return snapshot


@dataclass
class FakeIam:
    account: str = "123456789012"
    calls: Calls = field(default_factory=list)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (user, status)
    roles: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    policies: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (kind, name, policy) -> JSON

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::{self.account}:{kind}/{name}"

    def access_key(self, key_id: str) -> AccessKey | None:
        if key_id not in self.keys:
            return None
        user, status = self.keys[key_id]
        return AccessKey(key_id, user, self._arn("user", user), status)

    def set_access_key_status(self, user: str, key_id: str, status: str) -> None:
        self.calls.append(("UpdateAccessKey", key_id, status))
        self.keys[key_id] = (user, status)

    def principal(self, name_or_arn: str) -> Principal | None:
        named = principal_name(name_or_arn)
        if named is None:
            return None
        wants, name = named
        if wants in ("", "role") and name in self.roles:
            return Principal("role", name, self._arn("role", name))
        if wants in ("", "user") and name in self.users:
            return Principal("user", name, self._arn("user", name))
        return None

    def inline_policy(self, principal: Principal, policy_name: str) -> str | None:
        return self.policies.get((principal.kind, principal.name, policy_name))

    def put_inline_policy(self, principal: Principal, policy_name: str, document: str) -> None:
        self.calls.append(("PutRolePolicy" if principal.kind == "role" else "PutUserPolicy", principal.name))
        self.policies[(principal.kind, principal.name, policy_name)] = document

    def delete_inline_policy(self, principal: Principal, policy_name: str) -> None:
        self.calls.append(("DeleteRolePolicy" if principal.kind == "role" else "DeleteUserPolicy", principal.name))
        del self.policies[(principal.kind, principal.name, policy_name)]


@dataclass
class FakeControls:
    calls: Calls = field(default_factory=list)
    trails: dict[str, bool] = field(default_factory=dict)
    detectors: dict[str, bool] = field(default_factory=dict)
    groups: dict[str, list[IngressRule]] = field(default_factory=dict)
    bucket_blocks: dict[str, PublicAccessBlock | None] = field(default_factory=dict)
    account_blocks: dict[str, PublicAccessBlock | None] = field(default_factory=dict)
    ebs_encryption: bool = True
    keys: dict[str, KeyState] = field(default_factory=dict)

    def trail_logging(self, trail: str) -> bool | None:
        return self.trails.get(trail)

    def start_trail_logging(self, trail: str) -> None:
        self.calls.append(("StartLogging", trail))
        self.trails[trail] = True

    def stop_trail_logging(self, trail: str) -> None:
        self.calls.append(("StopLogging", trail))
        self.trails[trail] = False

    def detector_enabled(self, detector_id: str) -> bool | None:
        return self.detectors.get(detector_id)

    def set_detector_enabled(self, detector_id: str, enabled: bool) -> None:
        self.calls.append(("UpdateDetector", detector_id, str(enabled)))
        self.detectors[detector_id] = enabled

    def ingress_rules(self, group_id: str) -> tuple[IngressRule, ...] | None:
        rules = self.groups.get(group_id)
        return None if rules is None else tuple(rules)

    def revoke_ingress(self, group_id: str, rule: IngressRule) -> None:
        self.calls.append(("RevokeSecurityGroupIngress", group_id, rule.describe()))
        self.groups[group_id] = [
            r for r in self.groups[group_id] if (r.protocol, r.from_port, r.to_port, r.cidr) != _spec(rule)
        ]

    def authorize_ingress(self, group_id: str, rule: IngressRule) -> None:
        self.calls.append(("AuthorizeSecurityGroupIngress", group_id, rule.describe()))
        self.groups[group_id].append(replace(rule, rule_id=_new_id("sgr")))

    def bucket_public_access_block(self, bucket: str) -> PublicAccessBlock | None:
        return self.bucket_blocks.get(bucket)

    def put_bucket_public_access_block(self, bucket: str, block: PublicAccessBlock | None) -> None:
        self.calls.append(("PutBucketPublicAccessBlock", bucket))
        self.bucket_blocks[bucket] = copy.copy(block)

    def account_public_access_block(self, account: str) -> PublicAccessBlock | None:
        return self.account_blocks.get(account)

    def put_account_public_access_block(self, account: str, block: PublicAccessBlock | None) -> None:
        self.calls.append(("PutAccountPublicAccessBlock", account))
        self.account_blocks[account] = copy.copy(block)

    def ebs_default_encryption(self) -> bool:
        return self.ebs_encryption

    def set_ebs_default_encryption(self, enabled: bool) -> None:
        self.calls.append(("EnableEbsEncryptionByDefault" if enabled else "DisableEbsEncryptionByDefault",))
        self.ebs_encryption = enabled

    def key_state(self, key_id: str) -> KeyState | None:
        return self.keys.get(key_id)

    def cancel_key_deletion(self, key_id: str) -> None:
        self.calls.append(("CancelKeyDeletion", key_id))
        self.keys[key_id] = KeyState("Disabled")  # as KMS does: a cancelled key comes back disabled

    def enable_key(self, key_id: str) -> None:
        self.calls.append(("EnableKey", key_id))
        self.keys[key_id] = KeyState("Enabled")


def _spec(rule: IngressRule) -> tuple[str, int, int, str]:
    return rule.protocol, rule.from_port, rule.to_port, rule.cidr


@dataclass
class FakeAccount:
    """One account's fakes, sharing one list of calls."""

    account: str = "123456789012"
    region: str = "us-east-1"
    calls: Calls = field(default_factory=list)
    own_principals: frozenset[str] = frozenset()
    instances: FakeInstances = field(init=False)
    iam: FakeIam = field(init=False)
    controls: FakeControls = field(init=False)

    def __post_init__(self) -> None:
        self.instances = FakeInstances(calls=self.calls)
        self.iam = FakeIam(account=self.account, calls=self.calls)
        self.controls = FakeControls(calls=self.calls)

    def ports(self, region: str | None = None) -> AccountPorts:
        return AccountPorts(
            account=self.account,
            region=region or self.region,
            instances=self.instances,
            iam=self.iam,
            controls=self.controls,
            own_principals=self.own_principals,
        )


@dataclass
class FakeAccounts:
    """The factory over fake accounts: an account it does not hold is one without the member role."""

    accounts: dict[str, FakeAccount] = field(default_factory=dict)
    home: str = "123456789012"
    asked: list[tuple[str | None, str | None]] = field(default_factory=list)

    def __call__(self, account: str | None, region: str | None) -> AccountPorts:
        self.asked.append((account, region))
        held = self.accounts.get(account or self.home)
        if held is None:
            raise MemberAccessError(account or self.home, "cannot assume the Riposte member role (AccessDenied)")
        return held.ports(region)
