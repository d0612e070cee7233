"""The runner against in-memory ports: dry-run, audit, exactly-once notifications, failures that retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from riposte.actions import Ports
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import config as cfg
from riposte.core.model import Outcome, Result, Status
from riposte.core.ports import AuditRecord, BlockRecord, NaclEntry
from riposte.engine import pipeline, policy, runner, setup
from riposte.notifiers import Notifier, Route, SecretSpec
from tests.conftest import load_event

ACL = "acl-0123456789abcdef0"
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
ENFORCE = {"mode": "enforce", "nacl": {"network_acl_ids": [ACL]}}


class FakeNotifier(Notifier):
    name: ClassVar[str] = "slack"
    route: ClassVar[Route] = Route.NOTIFY
    secret: ClassVar[SecretSpec] = SecretSpec("slack_webhook_url", "riposte/slack-webhook-url", "test")

    def __init__(self, outcomes: list[Status]) -> None:
        super().__init__(transport=None, destination=lambda: None)  # type: ignore[arg-type]
        self.outcomes = outcomes
        self.sent: list[Result] = []

    def render(self, result: Result) -> dict[str, Any]:
        return {}

    def send(self, result: Result) -> Outcome:
        self.sent.append(result)
        status = self.outcomes.pop(0)
        return Outcome("slack", "", status, retryable=status is Status.FAILED)


def ports(entries: list[NaclEntry] | None = None) -> tuple[Ports, MemoryNacls, MemoryState]:
    nacls = MemoryNacls({ACL: list(entries or [NaclEntry(100, False, "allow", "0.0.0.0/0")])})
    state = MemoryState()
    return Ports(nacl=nacls, state=state), nacls, state


def run(config: cfg.Config, p: Ports, notifier: Notifier, name: str = "c2_activity_outbound.json") -> Result:
    plan = pipeline.plan(load_event(name), config)
    return runner.execute(plan, config, p, {"slack": notifier}, NOW)


def test_enforce_adds_the_block_records_it_and_audits_every_step() -> None:
    config = setup.parse(ENFORCE)
    p, nacls, state = ports()
    result = run(config, p, FakeNotifier([Status.DONE]))
    (action,) = result.actions
    assert action.status is Status.DONE
    assert nacls.calls == [("CreateNetworkAclEntry", ACL, 1)]
    (block,) = state.blocks.values()
    assert (block.acl_id, block.cidr, block.rule_number) == (ACL, "91.240.118.77/32", 1)
    assert block.expires_at == "2026-11-29T04:00:00+00:00"
    kinds = [(r.kind, r.name, r.status) for r in state.audit]
    assert kinds == [
        ("decision", "policy", "done"),
        ("action", "block_ip", "done"),
        ("notification", "slack", "done"),
        ("notification", "pagerduty", "skipped"),
    ]
    assert "score 90" in state.audit[0].detail


def test_dry_run_makes_no_mutating_call_but_says_what_it_would_do() -> None:
    config = setup.parse({**ENFORCE, "mode": "dry_run"})
    p, nacls, state = ports()
    result = run(config, p, FakeNotifier([Status.DONE]))
    (action,) = result.actions
    assert action.status is Status.DRY_RUN
    assert action.detail == f"{ACL}: would deny 91.240.118.77/32 as rule 1 (dry run)"
    assert nacls.calls == []
    assert state.blocks == {}
    assert any(r.kind == "action" and r.status == "dry_run" for r in state.audit)


def test_a_redelivered_event_adds_nothing_and_is_not_announced_twice() -> None:
    config = setup.parse(ENFORCE)
    p, nacls, _ = ports()
    notifier = FakeNotifier([Status.DONE, Status.DONE])
    run(config, p, notifier)
    second = run(config, p, notifier)
    assert len(nacls.calls) == 1
    assert second.actions[0].detail == f"{ACL}: already denied by rule 1"
    assert len(notifier.sent) == 1
    assert second.notifications[0].status is Status.SKIPPED


def test_a_failed_notification_is_retryable_and_the_retry_sends_it() -> None:
    config = setup.parse(ENFORCE)
    p, nacls, _ = ports()
    notifier = FakeNotifier([Status.FAILED, Status.DONE])
    first = run(config, p, notifier)
    assert first.retryable
    second = run(config, p, notifier)
    assert not second.retryable
    assert len(notifier.sent) == 2
    assert len(nacls.calls) == 1  # the block was not repeated


def test_a_range_full_of_foreign_rules_is_refused_clearly_without_overwriting_and_without_retry() -> None:
    config = setup.parse({**ENFORCE, "nacl": {"network_acl_ids": [ACL], "rule_range": [1, 2]}})
    foreign = [NaclEntry(1, False, "deny", "192.0.2.1/32"), NaclEntry(2, False, "deny", "192.0.2.2/32")]
    p, nacls, _ = ports(foreign)
    result = run(config, p, FakeNotifier([Status.DONE]))
    (action,) = result.actions
    assert action.status is Status.REFUSED
    assert action.detail == (f"{ACL}: managed range 1-2 is full; aggregation is off; no block of Riposte's to evict")
    assert not action.retryable
    assert nacls.calls == []
    assert nacls.acls[ACL] == foreign


def test_an_unexpected_adapter_error_becomes_an_audited_retryable_failure() -> None:
    class Broken(MemoryNacls):
        def entries(self, acl_id: str) -> tuple[NaclEntry, ...]:
            raise ConnectionError("endpoint unreachable")

    config = setup.parse(ENFORCE)
    state = MemoryState()
    p = Ports(nacl=Broken({ACL: []}), state=state)
    result = run(config, p, FakeNotifier([Status.DONE]))
    assert result.actions[0].status is Status.FAILED
    assert result.actions[0].detail == "ConnectionError: endpoint unreachable"
    assert result.retryable
    assert any(r.kind == "action" and r.status == "failed" for r in state.audit)


def test_refused_targets_are_audited_and_never_executed() -> None:
    config = setup.parse({**ENFORCE, "allowlist": ["34.120.0.0/16"]})
    p, nacls, state = ports()
    result = run(config, p, FakeNotifier([Status.DONE]), "tor_client_partner.json")
    assert result.actions[0].status is Status.REFUSED
    assert nacls.calls == []
    assert [r.status for r in state.audit if r.kind == "action"] == ["refused"]


def test_a_concurrent_writer_taking_the_number_is_stepped_around() -> None:
    class Racy(MemoryNacls):
        raced = False

        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            if not self.raced:  # another invocation takes the number between our read and our write
                self.raced = True
                self.acls[acl_id].append(NaclEntry(rule_number, egress, "deny", "192.0.2.99/32"))
            super().add_deny(acl_id, rule_number, cidr, egress=egress)

    config = setup.parse(ENFORCE)
    nacls = Racy({ACL: []})
    state = MemoryState()
    result = run(config, Ports(nacl=nacls, state=state), FakeNotifier([Status.DONE]))
    assert result.actions[0].status is Status.DONE
    ((_, _, number),) = nacls.calls
    assert 2 <= number <= 99
    (record,) = state.blocks.values()  # the record follows the number finally used, and is confirmed
    assert (record.rule_number, record.status) == (number, "active")


def test_the_block_is_recorded_before_the_entry_so_no_rule_is_ever_left_unowned() -> None:
    class Unwritable(MemoryState):
        def record_block(self, block: BlockRecord) -> None:
            raise ConnectionError("table unreachable")

    config = setup.parse(ENFORCE)
    p, nacls, _ = ports()
    p = Ports(nacl=nacls, state=Unwritable())
    result = run(config, p, FakeNotifier([Status.DONE]))
    assert (result.actions[0].status, result.actions[0].retryable) == (Status.FAILED, True)
    assert nacls.calls == []


def test_a_routine_update_of_a_finding_stays_quiet_but_an_escalation_is_announced() -> None:
    config = setup.parse(ENFORCE)
    p, _, _ = ports()
    notifier = FakeNotifier([Status.DONE, Status.DONE])
    raw = load_event("bitcoin_outbound.json")  # high (85)
    runner.execute(pipeline.plan(raw, config), config, p, {"slack": notifier}, NOW)
    raw["detail"]["updatedAt"] = "2026-11-28T04:15:00.000Z"  # GuardDuty's 15-minute update, same severity
    update = runner.execute(pipeline.plan(raw, config), config, p, {"slack": notifier}, NOW)
    assert update.notifications[0].status is Status.SKIPPED
    raw["detail"]["updatedAt"] = "2026-11-28T04:30:00.000Z"
    raw["detail"]["severity"] = 9.5  # escalated to critical
    escalated = runner.execute(pipeline.plan(raw, config), config, p, {"slack": notifier}, NOW)
    assert escalated.notifications[0].status is Status.DONE
    assert len(notifier.sent) == 2


# --- exact records, the delivery lease, notifiers that raise ----------------------------------------------------

C2_SUBJECT = "guardduty:123456789012:us-east-1:a1c2e3f4a5b6c7d8e9f0a1b2c3d4e501"


class Raising(FakeNotifier):
    def send(self, result: Result) -> Outcome:
        self.sent.append(result)
        raise RuntimeError("webhook exploded")


def test_every_audit_record_carries_the_event_time_mode_and_score() -> None:
    config = setup.parse(ENFORCE)
    p, _, state = ports()
    plan = pipeline.plan(load_event("c2_activity_outbound.json"), config)
    runner.execute(plan, config, p, {"slack": FakeNotifier([Status.DONE])}, NOW)
    common: dict[str, Any] = {
        "event_id": plan.event.id,
        "time": "2026-11-28T04:00:00+00:00",
        "mode": "enforce",
        "score": 90,
    }
    assert state.audit == [
        AuditRecord(
            kind="decision", name="policy", target="", status="done", detail=policy.summary(plan, config), **common
        ),
        AuditRecord(
            kind="action",
            name="block_ip",
            target="91.240.118.77",
            status="done",
            detail=f"{ACL}: added 91.240.118.77/32 as rule 1, expires in 24h",
            **common,
        ),
        AuditRecord(kind="notification", name="slack", target="", status="done", detail="", **common),
        AuditRecord(
            kind="notification",
            name="pagerduty",
            target="",
            status="skipped",
            detail="no 'pagerduty' notifier is available in this deployment",
            **common,
        ),
    ]


def test_the_result_holds_the_plan_the_actions_and_the_notifications() -> None:
    config = setup.parse(ENFORCE)
    p, _, _ = ports()
    plan = pipeline.plan(load_event("c2_activity_outbound.json"), config)
    result = runner.execute(plan, config, p, {"slack": FakeNotifier([Status.DONE])}, NOW)
    assert result.plan == plan
    assert [(o.name, o.status) for o in result.actions] == [("block_ip", Status.DONE)]
    assert [(o.name, o.status) for o in result.notifications] == [("slack", Status.DONE), ("pagerduty", Status.SKIPPED)]


def test_a_notifier_that_raises_is_a_retryable_failure_and_the_retry_sends() -> None:
    config = setup.parse(ENFORCE)
    p, nacls, state = ports()
    first = run(config, p, Raising([]))
    assert first.notifications[0] == Outcome(
        "slack", "", Status.FAILED, "RuntimeError: webhook exploded", retryable=True
    )
    assert first.retryable
    assert ("notification", "slack", "failed") in [(r.kind, r.name, r.status) for r in state.audit]
    assert (f"{C2_SUBJECT}#critical", "slack") not in state.deliveries  # the claim was given back
    notifier = FakeNotifier([Status.DONE])
    second = run(config, p, notifier)
    assert second.notifications[0].status is Status.DONE
    assert len(notifier.sent) == 1
    assert len(nacls.calls) == 1


@pytest.mark.parametrize("status", [Status.FAILED, Status.SKIPPED])
def test_only_a_delivery_that_was_done_is_remembered(status: Status) -> None:
    config = setup.parse(ENFORCE)
    p, _, state = ports()
    run(config, p, FakeNotifier([status]))
    assert (f"{C2_SUBJECT}#critical", "slack") not in state.deliveries
    run(config, p, FakeNotifier([Status.DONE]))
    assert state.deliveries[(f"{C2_SUBJECT}#critical", "slack")] == ("delivered", NOW.timestamp())


def test_a_notifier_is_given_the_result_with_what_the_actions_did() -> None:
    config = setup.parse(ENFORCE)
    p, _, _ = ports()
    notifier = FakeNotifier([Status.DONE])
    result = run(config, p, notifier)
    (sent,) = notifier.sent
    assert sent.plan == result.plan
    assert sent.actions == result.actions
    assert sent.actions[0].status is Status.DONE


def test_a_missing_notifier_is_skipped_without_claiming_a_delivery() -> None:
    config = setup.parse(ENFORCE)
    p, _, state = ports()
    result = run(config, p, FakeNotifier([Status.DONE]))
    assert result.notifications[1] == Outcome(
        "pagerduty", "", Status.SKIPPED, "no 'pagerduty' notifier is available in this deployment"
    )
    assert not result.notifications[1].retryable
    assert [channel for _, channel in state.deliveries] == ["slack"]


def test_a_delivery_is_keyed_by_subject_and_severity_and_stamped_with_the_runs_clock() -> None:
    config = setup.parse(ENFORCE)
    p, _, state = ports()
    run(config, p, FakeNotifier([Status.DONE]))
    assert state.deliveries == {(f"{C2_SUBJECT}#critical", "slack"): ("delivered", NOW.timestamp())}


def test_the_delivery_lease_runs_out_after_exactly_five_minutes_of_the_runs_clock() -> None:
    # An invocation claimed the delivery at NOW and died before sending: a retry within the lease stays quiet
    # (the holder may still be sending), one after the lease sends.
    assert runner.DELIVERY_LEASE_SECONDS == 300
    config = setup.parse(ENFORCE)
    p, _, state = ports()
    assert state.claim_delivery(f"{C2_SUBJECT}#critical", "slack", NOW.timestamp(), runner.DELIVERY_LEASE_SECONDS)
    plan = pipeline.plan(load_event("c2_activity_outbound.json"), config)
    notifier = FakeNotifier([Status.DONE])
    early = runner.execute(plan, config, p, {"slack": notifier}, NOW + timedelta(seconds=299))
    assert early.notifications[0] == Outcome(
        "slack", "", Status.SKIPPED, "already delivered (or being delivered) for this finding at this severity"
    )
    assert notifier.sent == []
    late = runner.execute(plan, config, p, {"slack": notifier}, NOW + timedelta(seconds=300))
    assert late.notifications[0].status is Status.DONE
    assert len(notifier.sent) == 1


def test_a_claim_is_taken_with_the_lease_and_the_runs_clock() -> None:
    claims: list[tuple[str, str, float, int]] = []

    class Spy(MemoryState):
        def claim_delivery(self, key: str, channel: str, now: float, lease_seconds: int) -> bool:
            claims.append((key, channel, now, lease_seconds))
            return super().claim_delivery(key, channel, now, lease_seconds)

    config = setup.parse(ENFORCE)
    run(config, Ports(nacl=MemoryNacls({ACL: []}), state=Spy()), FakeNotifier([Status.DONE]))
    assert claims == [(f"{C2_SUBJECT}#critical", "slack", NOW.timestamp(), 300)]


def test_a_failing_action_does_not_stop_the_next_one_and_each_is_audited() -> None:
    config = setup.parse({**ENFORCE, "thresholds": {"notify": 10, "page": 90, "act": 10}})
    state = MemoryState()
    plan = pipeline.plan(load_event("port_probe_multi.json"), config)

    class Flaky(MemoryNacls):
        def add_deny(self, acl_id: str, rule_number: int, cidr: str, *, egress: bool) -> None:
            raise ConnectionError("throttled")

    broken = Ports(nacl=Flaky({ACL: []}), state=state)
    result = runner.execute(plan, config, broken, {}, NOW)
    assert [(o.name, o.target, o.status, o.retryable) for o in result.actions] == [
        ("block_ip", "45.13.104.50", Status.FAILED, True),
        ("block_ip", "10.0.0.9", Status.REFUSED, False),
    ]
    assert result.actions[0].detail == "ConnectionError: throttled"
    assert [(r.kind, r.target, r.status) for r in state.audit if r.kind == "action"] == [
        ("action", "45.13.104.50", "failed"),
        ("action", "10.0.0.9", "refused"),
    ]
