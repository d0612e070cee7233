"""What the account-level actions share: per-action modes (dry_run / approve / enforce), reaching the event's
account (and failing clearly where Riposte has no member role), and the helpers their tests use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from riposte.actions import ACTIONS, ActionContext, Ports
from riposte.adapters.fakes import FakeAccount, FakeAccounts, MemoryRecords
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import config as cfg
from riposte.core.model import Entities, EventKind, Outcome, Party, Plan, Result, Role, Score, SecurityEvent, Status
from riposte.engine import runner, setup

HOME = "123456789012"
MEMBER = "111111111111"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def event(
    *parties: Party, type_: str = "Backdoor:EC2/C&CActivity.B", account: str = HOME, **changes: Any
) -> SecurityEvent:
    return SecurityEvent(
        source="test",
        id=changes.pop("id", "test:event-1"),
        type=type_,
        title=type_,
        kind=changes.pop("kind", EventKind.NETWORK_CONNECTION),
        entities=Entities.of(parties),
        account=account,
        region=changes.pop("region", "us-east-1"),
        **changes,
    )


def config(mode: str = "enforce", actions: tuple[str, ...] = (), **extra: Any) -> cfg.Config:
    return setup.parse({"mode": mode, "actions": list(actions), **extra})


def context(
    ev: SecurityEvent,
    conf: cfg.Config,
    *accounts: FakeAccount,
    records: MemoryRecords | None = None,
    with_records: bool = True,
) -> ActionContext:
    factory = FakeAccounts({a.account: a for a in accounts}) if accounts else None
    ports = Ports(
        nacl=MemoryNacls(),
        state=MemoryState(),
        accounts=factory,
        records=(records if records is not None else MemoryRecords()) if with_records else None,
    )
    return ActionContext(event=ev, config=conf, ports=ports, now=NOW)


def changes(account: FakeAccount) -> list[tuple[str, ...]]:
    return list(account.calls)


# --- modes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "own", "effective"),
    [
        ("enforce", None, "enforce"),
        ("enforce", "approve", "approve"),
        ("enforce", "dry_run", "dry_run"),
        ("dry_run", "enforce", "dry_run"),  # never less careful than the global mode
        ("approve", "enforce", "approve"),
        ("dry_run", None, "dry_run"),
    ],
)
def test_a_per_action_mode_can_only_be_more_careful_than_the_global_one(
    mode: str, own: str | None, effective: str
) -> None:
    modes = {"isolate_instance": own} if own else {}
    conf = config(
        mode, ("isolate_instance", "block_ip"), action_modes=modes, nacl={"vpc_ids": ["vpc-0123456789abcdef0"]}
    )
    assert conf.mode_for("isolate_instance") is cfg.Mode(effective)
    assert conf.dry_run_for("isolate_instance") is (effective != "enforce")
    assert conf.mode_for("block_ip") is cfg.Mode(mode)


def test_the_action_context_honours_the_mode_of_the_action_it_runs() -> None:
    conf = config(
        "enforce",
        ("block_ip", "heal"),
        action_modes={"heal": "approve"},
        nacl={"vpc_ids": ["vpc-0123456789abcdef0"]},
    )
    ctx = context(event(), conf)
    assert ctx.dry_run is False  # no action named: the global mode, as the runner builds it today
    assert ActionContext(event=ctx.event, config=conf, ports=ctx.ports, now=NOW, action="heal").dry_run is True
    assert ActionContext(event=ctx.event, config=conf, ports=ctx.ports, now=NOW, action="block_ip").dry_run is False


def test_a_mode_for_an_action_that_is_not_enabled_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(cfg.ConfigError, match=r"riposte\.toml: action_modes: isolate_instanse: not in actions"):
        setup.parse({"actions": ["isolate_instance"], "action_modes": {"isolate_instanse": "approve"}}, "riposte.toml")


def test_approve_mode_changes_nothing_and_says_it_waits_for_a_person() -> None:
    member = FakeAccount()
    member.instances.add("i-0a1b2c3d4e5f60718")
    conf = config("enforce", ("isolate_instance",), action_modes={"isolate_instance": "approve"})
    ev = event(Party("instance", "i-0a1b2c3d4e5f60718", Role.COMPROMISED))
    outcome = ACTIONS.get("isolate_instance")().execute("i-0a1b2c3d4e5f60718", context(ev, conf, member))
    assert outcome.status is Status.DRY_RUN
    assert "approve mode" in outcome.detail
    assert member.calls == []


@pytest.mark.parametrize(
    ("name", "target", "party"),
    [
        ("isolate_instance", "i-0a1b2c3d4e5f60718", Party("instance", "i-0a1b2c3d4e5f60718", Role.COMPROMISED)),
        ("disable_access_key", "AKIA4EXAMPLEKEY00001", Party("access_key", "AKIA4EXAMPLEKEY00001", Role.COMPROMISED)),
        ("heal", f"ebs_default_encryption:{MEMBER}/us-east-1", Party("account", MEMBER, Role.AFFECTED)),
    ],
)
def test_an_account_without_the_member_role_is_a_clear_failure_not_retried(
    name: str, target: str, party: Party
) -> None:
    home = FakeAccount(HOME)  # the member account has no role: the factory holds no fake for it
    conf = config("enforce", (name,), organization={"member_accounts": [MEMBER], "external_id": "ext-1234"})
    ev = event(party, type_="ebs_default_encryption_disabled", account=MEMBER)
    outcome = ACTIONS.get(name)().execute(target, context(ev, conf, home))
    assert outcome.status is Status.FAILED
    assert f"account {MEMBER}" in outcome.detail
    assert "AccessDenied" in outcome.detail
    assert outcome.retryable is False
    assert home.calls == []


class RecordingNotifier:
    """Stands in for Slack: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Result] = []

    def send(self, result: Result) -> Outcome:
        self.sent.append(result)
        return Outcome("slack", "", Status.DONE, "HTTP 200")


def test_the_missing_member_role_reaches_the_audit_and_the_notification_and_the_event_is_not_retried() -> None:
    conf = config(
        "enforce", ("isolate_instance",), organization={"member_accounts": [MEMBER], "external_id": "ext-1234"}
    )
    ev = event(Party("instance", "i-0a1b2c3d4e5f60718", Role.COMPROMISED), account=MEMBER)
    state = MemoryState()
    ports = Ports(nacl=MemoryNacls(), state=state, accounts=FakeAccounts({}), records=MemoryRecords())
    plan = Plan(ev, Score(90, ()), (Outcome("isolate_instance", "i-0a1b2c3d4e5f60718", Status.PLANNED),), ("slack",))
    notifier = RecordingNotifier()
    result = runner.execute(plan, conf, ports, {"slack": notifier}, NOW)
    (outcome,) = result.actions
    assert outcome.status is Status.FAILED
    assert not result.retryable  # the handler does not send it back to SQS; people are told instead
    assert [r.status for r in state.audit if r.kind == "action"] == ["failed"]
    (told,) = notifier.sent
    assert told.actions[0].detail == outcome.detail


def test_without_aws_access_dry_run_says_what_it_would_do_and_enforce_fails() -> None:
    ev = event(Party("instance", "i-0a1b2c3d4e5f60718", Role.COMPROMISED))
    action = ACTIONS.get("isolate_instance")()
    dry = action.execute("i-0a1b2c3d4e5f60718", context(ev, config("dry_run", ("isolate_instance",))))
    assert dry.status is Status.DRY_RUN
    assert dry.detail.startswith("would isolate i-0a1b2c3d4e5f60718 (dry run)")
    enforce = action.execute("i-0a1b2c3d4e5f60718", context(ev, config("enforce", ("isolate_instance",))))
    assert enforce.status is Status.FAILED
    assert "no AWS access" in enforce.detail


def test_every_account_action_declares_what_its_undo_needs_and_undo_is_a_method() -> None:
    for name in ("isolate_instance", "disable_access_key", "heal"):
        cls = ACTIONS.get(name)
        assert callable(cls().undo)
        undo_permissions = getattr(cls, "undo_permissions", ())
        assert all(":" in a for p in undo_permissions for a in p.actions)


def test_block_ip_still_has_no_undo() -> None:
    outcome = ACTIONS.get("block_ip")().undo("91.240.118.77", context(event(), config("dry_run", ("block_ip",))))
    assert outcome.status is Status.FAILED
    assert "no undo" in outcome.detail
