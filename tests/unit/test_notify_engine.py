"""The notification engine against in-memory state: the pager first, resolutions (from a source, and once an
incident's blocks are gone), delivery records forgotten after a resolve, and exactly-once everywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from riposte.actions import Ports
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import config as cfg
from riposte.core.model import (
    SIGNAL_RESOLVED,
    Entities,
    EventKind,
    Outcome,
    Party,
    Plan,
    Result,
    Role,
    Score,
    SecurityEvent,
    Status,
)
from riposte.core.ports import BlockRecord, BlockStatus, Digest, OpenIncident
from riposte.engine import notify, runner, setup
from riposte.notifiers import NOT_CONFIGURED, Notifier, Route, SecretSpec

NOW = datetime(2026, 11, 28, 4, 0, 10, tzinfo=UTC)
ACL = "acl-0123456789abcdef0"
SUBJECT = "webhooks:alertmanager:2c5d8a1f0e3b7946:45.13.104.66"


class Recorder(Notifier):
    """A notifier that records what it was asked to do and answers from a script (DONE by default)."""

    name: ClassVar[str] = "slack"
    route: ClassVar[Route] = Route.NOTIFY
    secret: ClassVar[SecretSpec] = SecretSpec("slack_webhook_url", "riposte/slack-webhook-url", "test")
    folds: ClassVar[bool] = False

    def __init__(self, *statuses: Status, journal: list[str] | None = None) -> None:
        super().__init__(transport=None, destination=lambda: "https://example.invalid/hook")  # type: ignore[arg-type]
        self.statuses = list(statuses)
        self.sent: list[Result] = []
        self.digests: list[Digest] = []
        self.resolved: list[str] = []
        self.journal = journal if journal is not None else []

    def _next(self, detail: str = "") -> Outcome:
        status = self.statuses.pop(0) if self.statuses else Status.DONE
        return Outcome(self.name, "", status, detail or str(status), retryable=status is Status.FAILED)

    def render(self, result: Result) -> dict[str, Any]:
        return {}

    def send(self, result: Result) -> Outcome:
        self.journal.append(self.name)
        self.sent.append(result)
        return self._next()

    def send_digest(self, digest: Digest) -> Outcome:
        self.digests.append(digest)
        return self._next()

    def resolve(self, incident: str, why: str) -> Outcome:
        self.resolved.append(incident)
        return self._next()


class Pager(Recorder):
    name: ClassVar[str] = "pagerduty"
    route: ClassVar[Route] = Route.PAGE
    secret: ClassVar[SecretSpec] = SecretSpec("pagerduty_routing_key", "riposte/pagerduty-routing-key", "test")


def event(
    *, resolved: bool = False, subject: str = SUBJECT, ident: str = "", ip: str = "45.13.104.66"
) -> SecurityEvent:
    state = "resolved" if resolved else "firing"
    return SecurityEvent(
        source="webhooks:alertmanager",
        id=ident or f"{subject}:{state}",
        type="SSHBruteForce",
        title="SSH brute force on bastion",
        kind=EventKind.ALERT,
        entities=Entities.of([Party("ip", ip, Role.ACTOR, network=True)]),
        subject=subject,
        signals=frozenset({SIGNAL_RESOLVED}) if resolved else frozenset(),
        region="us-east-1",
    )


def plan(ev: SecurityEvent | None = None, score: int = 88, notify_: tuple[str, ...] = ("slack", "pagerduty")) -> Plan:
    return Plan(event=ev or event(), score=Score(score, ("because",)), notify=notify_)


def blocked(target: str = "45.13.104.66", status: Status = Status.DONE) -> tuple[Outcome, ...]:
    return (Outcome("block_ip", target, status, f"{ACL}: added {target}/32 as rule 1, expires in 24h"),)


def config(**notify_settings: Any) -> cfg.Config:
    return setup.parse({"notify": notify_settings} if notify_settings else {})


def deliver(
    p: Plan, state: MemoryState, *notifiers: Notifier, actions: tuple[Outcome, ...] = (), when: datetime = NOW
) -> tuple[Outcome, ...]:
    result = Result(plan=p, actions=actions)
    return notify.deliver(result, {n.name: n for n in notifiers}, state, config(), when)


# --- the pager first ------------------------------------------------------------------------------------------


def test_the_pager_is_called_first_and_the_chat_message_carries_its_outcome() -> None:
    journal: list[str] = []
    slack, pager = Recorder(journal=journal), Pager(Status.FAILED, journal=journal)
    outcomes = deliver(plan(), MemoryState(), slack, pager)
    assert journal == ["pagerduty", "slack"]
    assert [o.name for o in outcomes] == ["slack", "pagerduty"]  # reported in the plan's order
    (told,) = slack.sent
    assert [(o.name, o.status) for o in told.notifications] == [("pagerduty", Status.FAILED)]
    assert pager.sent[0].notifications == ()


def test_a_chat_only_plan_keeps_its_order_and_tells_the_chat_nothing_paged() -> None:
    slack = Recorder()
    (outcome,) = deliver(plan(notify_=("slack",)), MemoryState(), slack)
    assert outcome.status is Status.DONE
    assert slack.sent[0].notifications == ()


def test_an_escalation_pages_again_with_the_same_incident_but_a_redelivery_does_not() -> None:
    state, pager = MemoryState(), Pager()
    deliver(plan(score=75), state, pager)
    deliver(plan(score=75), state, pager)  # redelivery, or a routine update at the same severity
    deliver(plan(score=95), state, pager)  # escalated: high -> critical
    assert [(r.plan.event.notification_key, r.plan.score.severity) for r in pager.sent] == [
        (SUBJECT, "high"),
        (SUBJECT, "critical"),
    ]


# --- resolutions from the source ------------------------------------------------------------------------------


def test_a_resolution_calls_the_pager_and_only_the_chats_that_were_told() -> None:
    state = MemoryState()
    quiet = notify.route(plan(event(resolved=True), score=0, notify_=()), state)
    assert quiet.notify == ("pagerduty",)  # PagerDuty drops a resolve for a key it never opened
    deliver(plan(), state, Recorder(), Pager())  # Slack was told of the incident (at high)
    told = notify.route(plan(event(resolved=True), score=0, notify_=()), state)
    assert told.notify == ("slack", "pagerduty")


def test_a_plan_that_is_not_a_resolution_is_routed_as_it_is() -> None:
    p = plan(notify_=("slack",))
    assert notify.route(p, MemoryState()) is p


def test_a_resolution_forgets_who_was_told_so_the_next_episode_is_announced_and_paged_again() -> None:
    state, slack, pager = MemoryState(), Recorder(), Pager()
    deliver(plan(), state, slack, pager, actions=blocked())
    assert SUBJECT in state.incidents
    resolution = notify.route(plan(event(resolved=True), score=0, notify_=()), state)
    outcomes = deliver(resolution, state, slack, pager)
    assert [(o.name, o.status) for o in outcomes] == [("slack", Status.DONE), ("pagerduty", Status.DONE)]
    assert [r.plan.event.id for r in pager.sent] == [f"{SUBJECT}:firing", f"{SUBJECT}:resolved"]
    assert not notify.was_told(state, SUBJECT, "slack")
    assert not notify.was_told(state, SUBJECT, "pagerduty")
    assert state.incidents == {}  # resolved: the maintenance run has nothing left to resolve
    # The same resolution redelivered: nothing is sent twice.
    again = deliver(notify.route(plan(event(resolved=True), score=0, notify_=()), state), state, slack, pager)
    assert [(o.name, o.status) for o in again] == [("pagerduty", Status.SKIPPED)]
    # The alert fires again (a new episode): announced and paged again, at the same severity as before.
    deliver(plan(event(ident=f"{SUBJECT}:firing:2")), state, slack, pager)
    assert len(slack.sent) == 3
    assert len(pager.sent) == 3


def test_a_failed_resolution_keeps_who_was_told_and_the_open_incident() -> None:
    state, pager = MemoryState(), Pager(Status.DONE, Status.FAILED)
    deliver(plan(notify_=("pagerduty",)), state, pager, actions=blocked())
    outcomes = deliver(plan(event(resolved=True), score=0, notify_=("pagerduty",)), state, pager)
    assert outcomes[0].status is Status.FAILED
    assert notify.was_told(state, SUBJECT, "pagerduty")
    assert SUBJECT in state.incidents
    retried = deliver(plan(event(resolved=True), score=0, notify_=("pagerduty",)), state, pager)
    assert retried[0].status is Status.DONE
    assert state.incidents == {}


def test_the_runner_routes_a_resolution_and_audits_the_pager_call() -> None:
    state = MemoryState()
    ports = Ports(nacl=MemoryNacls({ACL: []}), state=state)
    resolution = plan(event(resolved=True), score=0, notify_=())
    result = runner.execute(resolution, config(), ports, {"pagerduty": Pager()}, NOW)
    assert [(o.name, o.status) for o in result.notifications] == [("pagerduty", Status.DONE)]
    assert result.plan.notify == ("pagerduty",)
    assert "notify: pagerduty" in state.audit[0].detail
    assert [(r.kind, r.name, r.status) for r in state.audit[1:]] == [("notification", "pagerduty", "done")]


# --- incidents paged about blocks -----------------------------------------------------------------------------


def test_an_incident_paged_about_blocks_is_remembered_with_the_addresses_blocked() -> None:
    state = MemoryState()
    actions = (*blocked("45.13.104.66"), *blocked("45.13.104.67", Status.FAILED), *blocked("45.13.104.66"))
    deliver(plan(), state, Recorder(), Pager(), actions=actions)
    assert state.incidents == {SUBJECT: OpenIncident(SUBJECT, ("45.13.104.66",), int(NOW.timestamp()))}


@pytest.mark.parametrize(
    ("pager_status", "actions", "remembered"),
    [
        (Status.DONE, blocked(), True),
        (Status.FAILED, blocked(), False),  # not paged: nothing to resolve
        (Status.SKIPPED, blocked(), False),  # not configured
        (Status.DONE, blocked(status=Status.DRY_RUN), False),  # nothing was blocked
        (Status.DONE, (Outcome("isolate_instance", "i-0a1b2c3d4e5f60718", Status.DONE),), False),
    ],
)
def test_only_a_page_about_a_block_that_was_made_is_remembered(
    pager_status: Status, actions: tuple[Outcome, ...], remembered: bool
) -> None:
    state = MemoryState()
    deliver(plan(notify_=("pagerduty",)), state, Pager(pager_status), actions=actions)
    assert (SUBJECT in state.incidents) is remembered


def test_a_retry_whose_block_succeeds_only_now_remembers_the_incident_paged_before() -> None:
    state, pager = MemoryState(), Pager()
    deliver(plan(notify_=("pagerduty",)), state, pager, actions=blocked(status=Status.FAILED))
    assert state.incidents == {}
    outcomes = deliver(plan(notify_=("pagerduty",)), state, pager, actions=blocked())
    assert outcomes[0].status is Status.SKIPPED  # paged once only
    assert SUBJECT in state.incidents


def record(cidr: str, incident: str = "another", status: str = BlockStatus.ACTIVE) -> BlockRecord:
    return BlockRecord(
        ACL, cidr, 1, False, "e", "2026-11-28T04:00:00+00:00", "2026-11-29T04:00:00+00:00", status, incident=incident
    )


OPEN = OpenIncident(SUBJECT, ("45.13.104.66",), 0)


@pytest.mark.parametrize(
    ("blocks", "still"),
    [
        ((), False),
        ((record("45.13.104.67/32"),), False),  # a neighbour's block
        ((record("45.13.104.66/32"),), True),  # the address, blocked for another incident
        ((record("45.13.104.0/24"),), True),  # an aggregate covering it
        ((record("45.13.104.66/32", status=BlockStatus.PENDING),), True),  # may yet be confirmed
        ((record("2a0d:5600:24::/48"),), False),  # another family
        ((record("91.240.118.9/32", incident=SUBJECT),), True),  # carries the incident
        ((record("not a cidr"),), False),
    ],
)
def test_an_incident_is_still_blocked_while_a_record_carries_it_or_covers_an_address(
    blocks: tuple[BlockRecord, ...], still: bool
) -> None:
    assert notify.still_blocked(OPEN, blocks) is still


def test_a_bad_address_in_an_open_incident_is_passed_over() -> None:
    incident = OpenIncident(SUBJECT, ("nonsense", "45.13.104.66"), 0)
    assert notify.still_blocked(incident, (record("45.13.104.66/32"),))
    assert not notify.still_blocked(incident, ())


def test_an_incident_is_resolved_once_and_only_once_its_blocks_are_gone() -> None:
    state, slack, pager = MemoryState(), Recorder(), Pager()
    notifiers = {"slack": slack, "pagerduty": pager}
    deliver(plan(), state, slack, pager, actions=blocked())
    state.record_block(record("45.13.104.66/32", incident=SUBJECT))
    assert notify.resolve_unblocked(notifiers, state, (ACL,), config(), NOW) == []
    assert pager.resolved == []
    state.blocks.clear()  # expired, or undone
    (outcome,) = notify.resolve_unblocked(notifiers, state, (ACL,), config(), NOW)
    assert (outcome.name, outcome.status) == ("pagerduty", Status.DONE)
    assert pager.resolved == [SUBJECT]
    assert slack.resolved == []  # the chat opens no incident
    assert state.incidents == {}
    assert not notify.was_told(state, SUBJECT, "slack")
    assert not notify.was_told(state, SUBJECT, "pagerduty")
    assert notify.resolve_unblocked(notifiers, state, (ACL,), config(), NOW) == []
    assert pager.resolved == [SUBJECT]
    (audit,) = state.audit
    assert (audit.event_id, audit.kind, audit.name, audit.status) == (SUBJECT, "notification", "pagerduty", "done")


def test_a_resolve_that_fails_is_tried_again_by_the_next_run() -> None:
    state, pager = MemoryState(), Pager(Status.DONE, Status.FAILED, Status.DONE)
    deliver(plan(notify_=("pagerduty",)), state, pager, actions=blocked())
    (failed,) = notify.resolve_unblocked({"pagerduty": pager}, state, (ACL,), config(), NOW)
    assert failed.status is Status.FAILED
    assert SUBJECT in state.incidents
    (done,) = notify.resolve_unblocked({"pagerduty": pager}, state, (ACL,), config(), NOW + timedelta(minutes=5))
    assert done.status is Status.DONE
    assert pager.resolved == [SUBJECT, SUBJECT]
    assert state.incidents == {}


def test_an_incident_whose_pager_is_no_longer_configured_is_closed_as_skipped() -> None:
    state = MemoryState()
    state.open_incident(SUBJECT, ("45.13.104.66",), 0)
    pager = Pager()
    pager.resolve = lambda incident, why: pager.skipped("the secret is empty")  # type: ignore[method-assign]
    (outcome,) = notify.resolve_unblocked({"pagerduty": pager}, state, (ACL,), config(), NOW)
    assert outcome.status is Status.SKIPPED
    assert outcome.detail.startswith(NOT_CONFIGURED)
    assert state.incidents == {}


def test_a_resolve_another_run_is_sending_is_left_to_it_and_one_already_sent_is_closed() -> None:
    state, pager = MemoryState(), Pager()
    state.open_incident(SUBJECT, ("45.13.104.66",), 7)
    key = f"{SUBJECT}#resolve#blocks#7"
    assert state.claim_delivery(key, "pagerduty", NOW.timestamp(), 300)  # another run holds it
    (busy,) = notify.resolve_unblocked({"pagerduty": pager}, state, (ACL,), config(), NOW)
    assert (busy.status, busy.detail) == (Status.SKIPPED, "being resolved")
    assert SUBJECT in state.incidents
    state.complete_delivery(key, "pagerduty", NOW.timestamp())  # it sent, then died before closing
    assert notify.resolve_unblocked({"pagerduty": pager}, state, (ACL,), config(), NOW) == []
    assert state.incidents == {}
    assert pager.resolved == []


def test_a_pager_that_raises_is_a_retryable_failure_of_the_resolve() -> None:
    state, pager = MemoryState(), Pager()
    state.open_incident(SUBJECT, (), 0)

    def explode(incident: str, why: str) -> Outcome:
        raise RuntimeError("boom")

    pager.resolve = explode  # type: ignore[method-assign]
    (outcome,) = notify.resolve_unblocked({"pagerduty": pager}, state, (ACL,), config(), NOW)
    assert (outcome.status, outcome.retryable, outcome.detail) == (Status.FAILED, True, "RuntimeError: boom")
    assert state.claim_delivery(f"{SUBJECT}#resolve#blocks#0", "pagerduty", NOW.timestamp(), 300)  # given back


def test_nothing_is_read_when_no_incident_is_open() -> None:
    class NoBlocks(MemoryState):
        def list_blocks(self, containers: tuple[str, ...]) -> tuple[BlockRecord, ...]:
            raise AssertionError("blocks listed for no incident")

    assert notify.resolve_unblocked({"pagerduty": Pager()}, NoBlocks(), (ACL,), config(), NOW) == []


def test_the_claim_key_of_a_resolution_is_that_resolution() -> None:
    firing = Result(plan=plan(), actions=())
    ended = Result(plan=plan(event(resolved=True, ident="x:resolved:1"), score=0), actions=())
    assert notify.claim_key(firing) == f"{SUBJECT}#high"
    assert notify.claim_key(ended) == f"{SUBJECT}#resolve#x:resolved:1"
    assert replace(firing.plan.event, subject="").notification_key == f"{SUBJECT}:firing"
