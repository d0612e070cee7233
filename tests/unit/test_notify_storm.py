"""Storm control: past the window's limit, decisions fold into one digest in the state store, sent once when the
window has closed (by the next notification or the maintenance schedule), exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from riposte.adapters.memory import MemoryState
from riposte.core import config as cfg
from riposte.core.model import EventKind, Outcome, Plan, Result, Score, SecurityEvent, Status
from riposte.core.ports import Digest, DigestItem
from riposte.engine import notify, setup
from riposte.notifiers import NOT_CONFIGURED
from tests.unit.test_notify_engine import Pager, Recorder

WINDOW_START = datetime(2026, 11, 28, 4, 0, 0, tzinfo=UTC)  # a multiple of 60 s
NOW = WINDOW_START + timedelta(seconds=5)


class Chat(Recorder):
    folds: ClassVar[bool] = True


def config(**settings: Any) -> cfg.Config:
    return setup.parse({"notify": {"storm_max_messages": 3, "digest_top": 2, **settings}})


def result(n: int, score: int = 50, *, actions: tuple[Outcome, ...] = ()) -> Result:
    ev = SecurityEvent(
        source="test",
        id=f"event-{n}",
        type="Recon:Probe",
        title=f"probe {n}",
        kind=EventKind.PORT_PROBE,
        entities=None,  # type: ignore[arg-type]
    )
    return Result(plan=Plan(event=ev, score=Score(score, ()), notify=("slack",)), actions=actions)


def send(
    state: MemoryState, chat: Chat, n: int, score: int = 50, *, when: datetime = NOW, conf: cfg.Config | None = None
) -> Outcome:
    (outcome,) = notify.deliver(result(n, score), {"slack": chat}, state, conf or config(), when)
    return outcome


def test_up_to_the_limit_messages_go_out_one_by_one_and_past_it_they_fold() -> None:
    state, chat = MemoryState(), Chat()
    outcomes = [send(state, chat, n) for n in range(5)]
    assert [o.status for o in outcomes] == [Status.DONE] * 5
    assert [r.plan.event.id for r in chat.sent] == ["event-0", "event-1", "event-2"]
    assert outcomes[3].detail == (
        "folded into the digest of 04:00:00-04:01:00 UTC (storm control: more than 3 messages in the window); "
        "sent once the window closes"
    )
    (digest,) = state.digests.values()
    assert (digest.channel, digest.window, digest.seconds, digest.total) == (
        "slack",
        int(WINDOW_START.timestamp()),
        60,
        2,
    )
    assert [i.event_id for i in digest.top] == ["event-3", "event-4"]
    assert chat.digests == []  # the window is still open


def test_a_new_window_starts_afresh() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(4):
        send(state, chat, n)
    assert len(chat.sent) == 3
    send(state, chat, 4, when=WINDOW_START + timedelta(seconds=60))
    assert len(chat.sent) == 4


def test_the_closed_window_is_sent_as_one_digest_by_the_next_notification_before_its_own_message() -> None:
    journal: list[str] = []
    state, chat = MemoryState(), Chat(journal=journal)
    original = chat.send_digest

    def digest_first(digest: Digest) -> Outcome:
        journal.append("digest")
        return original(digest)

    chat.send_digest = digest_first  # type: ignore[method-assign]
    for n in range(6):
        send(state, chat, n)
    send(state, chat, 99, when=WINDOW_START + timedelta(seconds=59))  # still in the window: folded, not flushed
    assert chat.digests == []
    send(state, chat, 100, when=WINDOW_START + timedelta(seconds=60))  # the window closed exactly now
    (digest,) = chat.digests
    assert digest.total == 4
    assert journal[-2:] == ["digest", "slack"]
    assert state.digests == {}
    (audit,) = [a for a in state.audit if a.target == "digest"]
    assert (audit.event_id, audit.name, audit.status) == (
        f"digest#slack#{int(WINDOW_START.timestamp())}",
        "slack",
        "done",
    )
    assert audit.detail == "done (digest of 4 decisions, 04:00:00-04:01:00 UTC)"
    send(state, chat, 101, when=WINDOW_START + timedelta(seconds=61))
    assert len(chat.digests) == 1  # exactly once


def test_the_maintenance_schedule_sends_a_closed_digest_once() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(5):
        send(state, chat, n)
    early = notify.flush_digests({"slack": chat}, state, config(), WINDOW_START + timedelta(seconds=59))
    assert early == []
    assert chat.digests == []
    (outcome,) = notify.flush_digests(
        {"slack": chat, "pagerduty": Pager()}, state, config(), WINDOW_START + timedelta(seconds=60)
    )
    assert (outcome.name, outcome.target, outcome.status) == ("slack", "digest", Status.DONE)
    assert notify.flush_digests({"slack": chat}, state, config(), WINDOW_START + timedelta(minutes=5)) == []
    assert len(chat.digests) == 1


def test_a_digest_that_fails_to_send_is_kept_for_the_next_try() -> None:
    state, chat = MemoryState(), Chat(Status.DONE, Status.DONE, Status.DONE, Status.FAILED)
    for n in range(4):
        send(state, chat, n)
    later = WINDOW_START + timedelta(seconds=90)
    (failed,) = notify.flush_digests({"slack": chat}, state, config(), later)
    assert failed.status is Status.FAILED
    assert len(state.digests) == 1
    (done,) = notify.flush_digests({"slack": chat}, state, config(), later)
    assert done.status is Status.DONE
    assert state.digests == {}
    assert len(chat.digests) == 2


def test_a_digest_for_a_channel_no_longer_configured_is_dropped_as_skipped() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(4):
        send(state, chat, n)
    chat.send_digest = lambda digest: chat.skipped("the secret is empty")  # type: ignore[method-assign]
    (outcome,) = notify.flush_digests({"slack": chat}, state, config(), WINDOW_START + timedelta(seconds=60))
    assert outcome.status is Status.SKIPPED
    assert outcome.detail.startswith(NOT_CONFIGURED)
    assert state.digests == {}


def test_a_digest_already_sent_whose_removal_was_lost_is_removed_not_sent_again() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(4):
        send(state, chat, n)
    (digest,) = state.digests.values()
    key = f"digest#{digest.window}#{digest.token}"
    state.claim_delivery(key, "slack", 0, 300)
    state.complete_delivery(key, "slack", 0)
    assert notify.flush_digests({"slack": chat}, state, config(), WINDOW_START + timedelta(seconds=60)) == []
    assert chat.digests == []
    assert state.digests == {}


def test_a_digest_another_invocation_is_sending_is_left_alone() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(4):
        send(state, chat, n)
    (digest,) = state.digests.values()
    state.claim_delivery(f"digest#{digest.window}#{digest.token}", "slack", NOW.timestamp(), 300)
    assert notify.flush_digests({"slack": chat}, state, config(), WINDOW_START + timedelta(seconds=60)) == []
    assert chat.digests == []
    assert len(state.digests) == 1


def test_a_critical_decision_bypasses_the_fold_unless_configured_not_to() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(3):
        send(state, chat, n)
    send(state, chat, 3, score=95)
    assert chat.sent[-1].plan.event.id == "event-3"
    send(state, chat, 4, score=89)  # high: folded
    assert chat.sent[-1].plan.event.id == "event-3"
    strict = config(critical_bypass=False)
    send(state, chat, 5, score=95, conf=strict)
    assert chat.sent[-1].plan.event.id == "event-3"
    (digest,) = state.digests.values()
    assert digest.counts == {"high": 1, "critical": 1}


def test_the_breakers_trip_always_bypasses_the_fold() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(3):
        send(state, chat, n)
    tripped = result(9, actions=(Outcome(notify.BREAKER, "", Status.DONE, "tripped"),))
    notify.deliver(tripped, {"slack": chat}, state, config(critical_bypass=False), NOW)
    assert chat.sent[-1].plan.event.id == "event-9"


def test_a_redelivered_decision_is_skipped_and_a_retried_fold_counts_once() -> None:
    state, chat = MemoryState(), Chat()
    for n in range(4):
        send(state, chat, n)
    assert send(state, chat, 3).status is Status.SKIPPED  # the delivery claim: already folded
    # A fold whose claim was lost (the invocation died after folding): the retry finds itself in the digest.
    state.deliveries.clear()
    assert send(state, chat, 3).status is Status.DONE
    (digest,) = state.digests.values()
    assert digest.total == 1


def test_folding_for_a_channel_that_is_not_configured_skips_instead() -> None:
    state = MemoryState()
    chat = Chat()
    chat.destination = lambda: "not a url"
    for n in range(3):
        send(state, chat, n)
    outcome = send(state, chat, 3)
    assert outcome.status is Status.SKIPPED
    assert outcome.detail == NOT_CONFIGURED + "the secret does not hold an http(s) URL yet"
    assert state.digests == {}


def test_concurrent_folds_read_again_and_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(notify, "pause", slept.append)
    monkeypatch.setattr("riposte.engine.notify.random.random", lambda: 0.0)

    class Contended(MemoryState):
        losses = 2

        def save_digest(self, digest: Digest, expected_version: int) -> bool:
            if self.losses:
                self.losses -= 1
                return False
            return super().save_digest(digest, expected_version)

    state, chat = Contended(), Chat()
    for n in range(4):
        send(state, chat, n)
    assert slept == [0.05, 0.1]
    (digest,) = state.digests.values()
    assert digest.total == 1


def test_a_fold_that_never_wins_is_a_retryable_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "pause", lambda _: None)

    class Hopeless(MemoryState):
        def save_digest(self, digest: Digest, expected_version: int) -> bool:
            return False

    state, chat = Hopeless(), Chat()
    for n in range(3):
        send(state, chat, n)
    outcome = send(state, chat, 3)
    assert (outcome.status, outcome.retryable) == (Status.FAILED, True)
    assert outcome.detail == f"the digest kept changing under concurrent writers ({notify.FOLD_ATTEMPTS} attempts)"
    assert state.claim_delivery("event-3#medium", "slack", NOW.timestamp(), 300)  # the claim was given back


def test_the_pager_never_folds() -> None:
    state, pager = MemoryState(), Pager()
    for n in range(6):
        (outcome,) = notify.deliver(
            replace(result(n), plan=replace(result(n).plan, notify=("pagerduty",))),
            {"pagerduty": pager},
            state,
            config(),
            NOW,
        )
        assert outcome.status is Status.DONE
    assert len(pager.sent) == 6
    assert state.counts == {}


# --- the digest itself (pure) ---------------------------------------------------------------------------------


def item(score: int, n: int = 0, severity: str = "medium") -> DigestItem:
    return DigestItem(score=score, severity=severity, title=f"t{n}", response="no action", event_id=f"e{n}")


def test_the_top_keeps_the_highest_scores_earlier_first_among_equals_and_counts_every_severity() -> None:
    digest: Digest | None = Digest("slack", 0, 60, "tok")
    for n, (score, severity) in enumerate([(50, "medium"), (70, "high"), (50, "medium"), (20, "low"), (70, "high")]):
        assert digest is not None
        digest = notify.add(digest, f"m{n}", item(score, n, severity), top=3)
    assert digest is not None
    assert [(i.score, i.event_id) for i in digest.top] == [(70, "e1"), (70, "e4"), (50, "e0")]
    assert digest.counts == {"medium": 2, "high": 2, "low": 1}
    assert (digest.total, digest.version, digest.members) == (5, 5, ("m0", "m1", "m2", "m3", "m4"))


def test_a_member_already_folded_is_not_folded_again() -> None:
    digest = notify.add(Digest("slack", 0, 60, "tok"), "m", item(50), top=3)
    assert digest is not None
    assert notify.add(digest, "m", item(90), top=3) is None


def test_the_members_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "MEMBERS_MAX", 3)
    digest = Digest("slack", 0, 60, "tok", members=("a", "b", "c"))
    folded = notify.add(digest, "d", item(50), top=3)
    assert folded is not None
    assert folded.members == ("b", "c", "d")


def test_a_folded_line_says_what_riposte_did() -> None:
    done = Outcome("block_ip", "45.13.104.66", Status.DONE)
    r = replace(
        result(1, 80, actions=(done,)),
        notifications=(Outcome("pagerduty", "h", Status.FAILED), Outcome("x", "", Status.SKIPPED)),
    )
    assert notify.digest_item(r) == DigestItem(
        80, "high", "probe 1", "block_ip 45.13.104.66 done; pagerduty failed", "event-1"
    )
    assert notify.response_line(result(2)) == "no action"
    long = replace(r, plan=replace(r.plan, event=replace(r.plan.event, title="x" * 900)))
    assert len(notify.digest_item(long).title) == notify.LINE_MAX


def test_the_storm_settings_are_validated_naming_the_field() -> None:
    assert cfg.Config().notify == cfg.Notify(
        storm_window_seconds=60, storm_max_messages=10, digest_top=10, critical_bypass=True
    )
    for field, bad, good in (
        ("storm_window_seconds", 9, 10),
        ("storm_window_seconds", 3601, 3600),
        ("storm_max_messages", 0, 1),
        ("storm_max_messages", 501, 500),
        ("digest_top", 0, 1),
        ("digest_top", 21, 20),
    ):
        with pytest.raises(cfg.ConfigError, match=rf"config: notify\.{field}: Input should be"):
            setup.parse({"notify": {field: bad}})
        assert getattr(setup.parse({"notify": {field: good}}).notify, field) == good
    with pytest.raises(cfg.ConfigError, match=r"notify\.storm_limit: Extra inputs are not permitted"):
        setup.parse({"notify": {"storm_limit": 5}})
