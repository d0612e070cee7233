"""disable_access_key on in-memory fakes: long-term keys set Inactive (never deleted), stolen session credentials
answered by an inline deny on aws:TokenIssueTime, Riposte's own roles and break-glass principals refused, dry-run
without a change, and undo."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from riposte.actions.disable_access_key import REVOKE_POLICY, DisableAccessKey, record_key, revoke_document
from riposte.adapters.fakes import FakeAccount, MemoryRecords
from riposte.core.model import EventKind, Party, Role, SecurityEvent, Status
from tests.unit.test_actions_common import NOW, config, context, event

KEY = "AKIA4EXAMPLEKEY00001"
SESSION_KEY = "ASIA4EXAMPLEKW3PQ9ZT"
ROLE = "web-instance-role"


@pytest.fixture
def account() -> FakeAccount:
    account = FakeAccount(own_principals=frozenset({"arn:aws:sts::123456789012:assumed-role/riposte-responder/s"}))
    account.iam.users |= {"ci-deployer", "breakglass-admin"}
    account.iam.keys[KEY] = ("ci-deployer", "Active")
    account.iam.keys["AKIA4EXAMPLEKEY00002"] = ("breakglass-admin", "Active")
    account.iam.roles |= {ROLE, "riposte-responder", "riposte-member"}
    return account


def api_event(*parties: Party) -> SecurityEvent:
    return event(*parties, type_="UnauthorizedAccess:IAMUser/MaliciousIPCaller", kind=EventKind.API_CALL)


def test_targets_long_term_keys_and_for_stolen_session_credentials_the_principal_that_issued_them() -> None:
    action = DisableAccessKey()
    leaked = api_event(Party("access_key", KEY, Role.COMPROMISED), Party("principal", "ci-deployer", Role.COMPROMISED))
    assert action.targets(leaked, config()) == (KEY,)  # the user's key, not the user
    stolen = api_event(Party("access_key", SESSION_KEY, Role.COMPROMISED), Party("principal", ROLE, Role.COMPROMISED))
    assert action.targets(stolen, config()) == (ROLE,)
    not_ours = api_event(Party("access_key", KEY, Role.AFFECTED), Party("principal", ROLE, Role.ACTOR))
    assert action.targets(not_ours, config()) == ()
    without_sessions = config(credentials={"revoke_sessions": False})
    assert action.targets(stolen, without_sessions) == ()


def test_a_long_term_key_is_set_inactive_never_deleted_and_recorded(account: FakeAccount) -> None:
    records = MemoryRecords()
    ev = api_event(Party("access_key", KEY, Role.COMPROMISED))
    outcome = DisableAccessKey().execute(
        KEY, context(ev, config(actions=("disable_access_key",)), account, records=records)
    )
    assert outcome.status is Status.DONE, outcome.detail
    assert account.iam.keys[KEY] == ("ci-deployer", "Inactive")
    assert account.calls == [("UpdateAccessKey", KEY, "Inactive")]
    assert records.recall(record_key(KEY)) == {
        "account": "123456789012",
        "region": "us-east-1",
        "event_id": "test:event-1",
        "at": NOW.isoformat(),
        "user": "ci-deployer",
        "status": "Active",
    }
    again = DisableAccessKey().execute(
        KEY, context(ev, config(actions=("disable_access_key",)), account, records=records)
    )
    assert (again.status, again.detail) == (Status.DONE, "already inactive (user ci-deployer)")
    assert len(account.calls) == 1


def test_dry_run_reads_and_changes_nothing(account: FakeAccount) -> None:
    records = MemoryRecords()
    conf = config("dry_run", ("disable_access_key",))
    key = DisableAccessKey().execute(KEY, context(api_event(), conf, account, records=records))
    role = DisableAccessKey().execute(ROLE, context(api_event(), conf, account, records=records))
    assert (key.status, role.status) == (Status.DRY_RUN, Status.DRY_RUN)
    assert key.detail == f"would set {KEY} of user ci-deployer Inactive (now Active) (dry run)"
    assert "for sessions issued before 2026-11-29T12:00:00Z" in role.detail
    assert account.calls == []
    assert records.records == {}


def test_stolen_session_credentials_get_an_inline_deny_for_sessions_issued_before_now(account: FakeAccount) -> None:
    records = MemoryRecords()
    ctx = context(api_event(), config(actions=("disable_access_key",)), account, records=records)
    outcome = DisableAccessKey().execute(ROLE, ctx)
    assert outcome.status is Status.DONE, outcome.detail
    document = json.loads(account.iam.policies[("role", ROLE, REVOKE_POLICY)])
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == "*"
    assert statement["Condition"] == {"DateLessThan": {"aws:TokenIssueTime": "2026-11-29T12:00:00Z"}}
    assert account.calls == [("PutRolePolicy", ROLE)]


def test_a_redelivery_keeps_the_cutoff_so_sessions_issued_since_keep_working(account: FakeAccount) -> None:
    records = MemoryRecords()
    ctx = context(api_event(), config(actions=("disable_access_key",)), account, records=records)
    DisableAccessKey().execute(ROLE, ctx)
    later = replace(ctx, now=NOW.replace(hour=13))
    again = DisableAccessKey().execute(ROLE, later)
    assert again.status is Status.DONE
    assert "already denied" in again.detail
    assert json.loads(account.iam.policies[("role", ROLE, REVOKE_POLICY)]) == json.loads(revoke_document(NOW))
    assert account.calls == [("PutRolePolicy", ROLE)]


@pytest.mark.parametrize(
    "target",
    [
        "riposte-responder",  # the responder's own role (from its caller identity)
        "riposte-member",  # the member role (organization.member_role_name)
        "arn:aws:iam::123456789012:role/riposte-member",
    ],
)
def test_riposte_never_denies_its_own_roles(account: FakeAccount, target: str) -> None:
    outcome = DisableAccessKey().execute(target, context(api_event(), config(actions=("disable_access_key",)), account))
    assert outcome.status is Status.REFUSED
    assert "Riposte's own role" in outcome.detail
    assert account.calls == []


@pytest.mark.parametrize(
    ("target", "patterns"),
    [
        ("AKIA4EXAMPLEKEY00002", ["breakglass-*"]),  # matched by the key's owner
        (ROLE, [ROLE]),
        (ROLE, ["arn:aws:iam::*:role/web-*"]),
        (KEY, [KEY]),  # or the key itself
    ],
)
def test_break_glass_principals_are_refused(account: FakeAccount, target: str, patterns: list[str]) -> None:
    conf = config(actions=("disable_access_key",), credentials={"break_glass": patterns})
    outcome = DisableAccessKey().execute(target, context(api_event(), conf, account))
    assert outcome.status is Status.REFUSED
    assert "break-glass" in outcome.detail
    assert account.calls == []


def test_a_break_glass_pattern_for_someone_else_does_not_protect(account: FakeAccount) -> None:
    conf = config(actions=("disable_access_key",), credentials={"break_glass": ["breakglass-*"]})
    outcome = DisableAccessKey().execute(KEY, context(api_event(), conf, account))
    assert outcome.status is Status.DONE


def test_an_unknown_key_or_principal_fails_without_a_change(account: FakeAccount) -> None:
    conf = config(actions=("disable_access_key",))
    for target in ("AKIA4EXAMPLEKEY0000F", "no-such-role"):
        outcome = DisableAccessKey().execute(target, context(api_event(), conf, account))
        assert outcome.status is Status.FAILED
    assert account.calls == []


def test_undo_reactivates_the_key_it_disabled(account: FakeAccount) -> None:
    records = MemoryRecords()
    conf = config(actions=("disable_access_key",))
    DisableAccessKey().execute(KEY, context(api_event(), conf, account, records=records))
    outcome = DisableAccessKey().undo(KEY, context(api_event(), conf, account, records=records))
    assert outcome.status is Status.DONE
    assert account.iam.keys[KEY] == ("ci-deployer", "Active")
    assert records.recall(record_key(KEY)) is None


def test_undo_never_reactivates_a_key_riposte_did_not_disable(account: FakeAccount) -> None:
    account.iam.keys[KEY] = ("ci-deployer", "Inactive")  # a person switched it off
    outcome = DisableAccessKey().undo(KEY, context(api_event(), config(actions=("disable_access_key",)), account))
    assert outcome.status is Status.FAILED
    assert account.iam.keys[KEY] == ("ci-deployer", "Inactive")


def test_undo_removes_the_deny_or_puts_back_the_policy_it_replaced(account: FakeAccount) -> None:
    conf = config(actions=("disable_access_key",))
    records = MemoryRecords()
    DisableAccessKey().execute(ROLE, context(api_event(), conf, account, records=records))
    assert DisableAccessKey().undo(ROLE, context(api_event(), conf, account, records=records)).status is Status.DONE
    assert ("role", ROLE, REVOKE_POLICY) not in account.iam.policies

    earlier = revoke_document(NOW.replace(year=2025))
    account.iam.policies[("role", ROLE, REVOKE_POLICY)] = earlier  # someone revoked sessions before
    DisableAccessKey().execute(ROLE, context(api_event(), conf, account, records=records))
    DisableAccessKey().undo(ROLE, context(api_event(), conf, account, records=records))
    assert account.iam.policies[("role", ROLE, REVOKE_POLICY)] == earlier


def test_undo_leaves_a_deny_policy_a_person_changed_since(account: FakeAccount) -> None:
    conf = config(actions=("disable_access_key",))
    records = MemoryRecords()
    DisableAccessKey().execute(ROLE, context(api_event(), conf, account, records=records))
    edited = revoke_document(NOW.replace(hour=18))
    account.iam.policies[("role", ROLE, REVOKE_POLICY)] = edited
    outcome = DisableAccessKey().undo(ROLE, context(api_event(), conf, account, records=records))
    assert outcome.status is Status.REFUSED
    assert account.iam.policies[("role", ROLE, REVOKE_POLICY)] == edited


def test_session_revocation_switched_off_is_refused(account: FakeAccount) -> None:
    conf = config(actions=("disable_access_key",), credentials={"revoke_sessions": False})
    outcome = DisableAccessKey().execute(ROLE, context(api_event(), conf, account))
    assert outcome.status is Status.REFUSED
    assert account.calls == []
    names = {a for p in DisableAccessKey.permissions_for(conf) for a in p.actions}
    assert "iam:PutRolePolicy" not in names
    assert "iam:UpdateAccessKey" in names
