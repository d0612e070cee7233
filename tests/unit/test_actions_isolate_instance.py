"""isolate_instance on in-memory fakes: targets by role, every interface quarantined and recorded, refusals,
dry-run without a change, idempotent redelivery, and an undo that gives back exactly what it took."""

from __future__ import annotations

from dataclasses import replace

import pytest

from riposte.actions.accounts import Interface
from riposte.actions.isolate_instance import ISOLATED_TAG, IsolateInstance, record_key
from riposte.adapters.fakes import FakeAccount, MemoryRecords
from riposte.core.model import Party, Role, Status
from tests.unit.test_actions_common import config, context, event

INSTANCE = "i-0a1b2c3d4e5f60718"
VPC = "vpc-0a1b2c3d4e5f60718"
ENIS = {
    "eni-00000000000000001": ("sg-00000000000000001", "sg-00000000000000002"),
    "eni-00000000000000002": ("sg-00000000000000003",),
}
VOLUMES = ("vol-00000000000000001", "vol-00000000000000002")


@pytest.fixture
def account() -> FakeAccount:
    account = FakeAccount()
    account.instances.add(INSTANCE, vpc_id=VPC, interfaces=ENIS, volumes=VOLUMES)
    return account


def compromised() -> Party:
    return Party("instance", INSTANCE, Role.COMPROMISED)


def test_targets_are_the_compromised_instances_only() -> None:
    ev = event(
        compromised(),
        Party("instance", "i-0fffffffffffffff0", Role.AFFECTED),  # probed, not compromised
        Party("ip", "91.240.118.77", Role.PEER, network=True),
    )
    assert IsolateInstance().targets(ev, config()) == (INSTANCE,)
    assert IsolateInstance().targets(event(Party("instance", INSTANCE, Role.AFFECTED)), config()) == ()


def test_isolation_quarantines_every_interface_records_the_groups_and_keeps_evidence(account: FakeAccount) -> None:
    records = MemoryRecords()
    ctx = context(event(compromised()), config(actions=("isolate_instance",)), account, records=records)
    outcome = IsolateInstance().execute(INSTANCE, ctx)
    assert outcome.status is Status.DONE, outcome.detail
    (group,) = account.instances.quarantine.values()
    after = account.instances.instances[INSTANCE]
    assert {i.id: i.groups for i in after.interfaces} == dict.fromkeys(ENIS, (group,))
    assert after.termination_protected
    assert after.tags[ISOLATED_TAG] == "test:event-1"
    assert sorted(t["riposte:volume"] for t in account.instances.snapshot_tags.values()) == list(VOLUMES)
    record = records.recall(record_key(INSTANCE))
    assert record is not None
    assert record["interfaces"] == {eni: list(groups) for eni, groups in ENIS.items()}
    assert record["termination_protected"] is False
    assert (record["account"], record["region"]) == ("123456789012", "us-east-1")
    assert "undo: riposte release" in outcome.detail


def test_the_quarantine_group_is_created_once_per_vpc_and_reused(account: FakeAccount) -> None:
    account.instances.add("i-0b1b2c3d4e5f60718", vpc_id=VPC, interfaces={"eni-00000000000000009": ("sg-0a",)})
    conf = config(actions=("isolate_instance",))
    for instance in (INSTANCE, "i-0b1b2c3d4e5f60718"):
        ctx = context(event(Party("instance", instance, Role.COMPROMISED)), conf, account)
        assert IsolateInstance().execute(instance, ctx).status is Status.DONE
    assert [c for c in account.calls if c[0] == "CreateSecurityGroup"] == [
        ("CreateSecurityGroup", VPC, "riposte-quarantine")
    ]


def test_dry_run_reads_and_says_what_it_would_do_without_any_change(account: FakeAccount) -> None:
    records = MemoryRecords()
    ctx = context(event(compromised()), config("dry_run", ("isolate_instance",)), account, records=records)
    outcome = IsolateInstance().execute(INSTANCE, ctx)
    assert outcome.status is Status.DRY_RUN
    assert account.calls == []
    assert records.records == {}
    assert "eni-00000000000000001 (was sg-00000000000000001, sg-00000000000000002)" in outcome.detail
    assert f"a new quarantine group in {VPC}" in outcome.detail
    assert "snapshot vol-00000000000000001, vol-00000000000000002" in outcome.detail


def test_a_redelivered_event_changes_nothing_more_and_keeps_the_original_groups(account: FakeAccount) -> None:
    records = MemoryRecords()
    ctx = context(event(compromised()), config(actions=("isolate_instance",)), account, records=records)
    IsolateInstance().execute(INSTANCE, ctx)
    first = list(account.calls)
    again = IsolateInstance().execute(INSTANCE, ctx)
    assert again.status is Status.DONE
    assert account.calls == first  # no new group, no new snapshot, no new tag
    record = records.recall(record_key(INSTANCE))
    assert record is not None
    assert record["interfaces"] == {eni: list(groups) for eni, groups in ENIS.items()}


def test_a_second_event_records_a_new_interface_but_never_overwrites_the_first_record(account: FakeAccount) -> None:
    records = MemoryRecords()
    conf = config(actions=("isolate_instance",))
    IsolateInstance().execute(INSTANCE, context(event(compromised()), conf, account, records=records))
    instance = account.instances.instances[INSTANCE]
    account.instances.instances[INSTANCE] = replace(
        instance, interfaces=(*instance.interfaces, Interface("eni-00000000000000003", ("sg-00000000000000004",)))
    )
    second = event(compromised(), id="test:event-2")
    assert IsolateInstance().execute(INSTANCE, context(second, conf, account, records=records)).status is Status.DONE
    record = records.recall(record_key(INSTANCE))
    assert record is not None
    assert record["interfaces"]["eni-00000000000000001"] == ["sg-00000000000000001", "sg-00000000000000002"]
    assert record["interfaces"]["eni-00000000000000003"] == ["sg-00000000000000004"]


@pytest.mark.parametrize(
    ("tags", "listed", "why"),
    [
        ({"riposte:exempt": "true"}, (), "exempt: tagged riposte:exempt=true"),
        ({}, (INSTANCE,), "listed in isolation.exempt_instances"),
    ],
)
def test_exempt_and_listed_instances_are_refused_untouched(
    account: FakeAccount, tags: dict[str, str], listed: tuple[str, ...], why: str
) -> None:
    account.instances.add(INSTANCE, vpc_id=VPC, interfaces=ENIS, tags=tags)
    conf = config(actions=("isolate_instance",), isolation={"exempt_instances": list(listed)})
    outcome = IsolateInstance().execute(INSTANCE, context(event(compromised()), conf, account))
    assert (outcome.status, outcome.detail) == (Status.REFUSED, why)
    assert account.calls == []


def test_an_exempt_tag_with_another_value_does_not_exempt(account: FakeAccount) -> None:
    account.instances.add(INSTANCE, vpc_id=VPC, interfaces=ENIS, tags={"riposte:exempt": "false"})
    outcome = IsolateInstance().execute(
        INSTANCE, context(event(compromised()), config(actions=("isolate_instance",)), account)
    )
    assert outcome.status is Status.DONE


def test_a_missing_or_terminated_instance_fails_without_a_change(account: FakeAccount) -> None:
    conf = config(actions=("isolate_instance",))
    gone = IsolateInstance().execute("i-0ffffffffffffffff", context(event(compromised()), conf, account))
    assert gone.status is Status.FAILED
    assert "no instance i-0ffffffffffffffff in account 123456789012 region us-east-1" in gone.detail
    account.instances.add(INSTANCE, state="terminated")
    dead = IsolateInstance().execute(INSTANCE, context(event(compromised()), conf, account))
    assert (dead.status, dead.retryable) == (Status.FAILED, False)
    assert account.calls == []


def test_without_a_state_store_it_refuses_to_isolate_because_it_could_not_give_the_groups_back(
    account: FakeAccount,
) -> None:
    ctx = context(event(compromised()), config(actions=("isolate_instance",)), account, with_records=False)
    outcome = IsolateInstance().execute(INSTANCE, ctx)
    assert outcome.status is Status.FAILED
    assert account.calls == []


def test_undo_restores_every_interface_and_termination_protection_and_keeps_the_snapshots(account: FakeAccount) -> None:
    records = MemoryRecords()
    conf = config(actions=("isolate_instance",))
    IsolateInstance().execute(INSTANCE, context(event(compromised()), conf, account, records=records))
    snapshots = dict(account.instances.snapshot_tags)
    outcome = IsolateInstance().undo(INSTANCE, context(event(), conf, account, records=records))
    assert outcome.status is Status.DONE, outcome.detail
    after = account.instances.instances[INSTANCE]
    assert {i.id: i.groups for i in after.interfaces} == ENIS
    assert not after.termination_protected
    assert ISOLATED_TAG not in after.tags
    assert account.instances.snapshot_tags == snapshots
    assert records.recall(record_key(INSTANCE)) is None
    assert "forensic snapshots kept" in outcome.detail


def test_undo_leaves_an_interface_a_person_changed_since_and_says_so(account: FakeAccount) -> None:
    records = MemoryRecords()
    conf = config(actions=("isolate_instance",))
    IsolateInstance().execute(INSTANCE, context(event(compromised()), conf, account, records=records))
    account.instances.set_groups("eni-00000000000000002", ("sg-0000000000000000f",))
    outcome = IsolateInstance().undo(INSTANCE, context(event(), conf, account, records=records))
    groups = {i.id: i.groups for i in account.instances.instances[INSTANCE].interfaces}
    assert groups["eni-00000000000000001"] == ENIS["eni-00000000000000001"]
    assert groups["eni-00000000000000002"] == ("sg-0000000000000000f",)
    assert "eni-00000000000000002: changed since isolation" in outcome.detail


def test_undo_in_dry_run_changes_nothing_and_undo_without_a_record_fails(account: FakeAccount) -> None:
    records = MemoryRecords()
    IsolateInstance().execute(
        INSTANCE, context(event(compromised()), config(actions=("isolate_instance",)), account, records=records)
    )
    before = list(account.calls)
    dry = IsolateInstance().undo(
        INSTANCE, context(event(), config("dry_run", ("isolate_instance",)), account, records=records)
    )
    assert dry.status is Status.DRY_RUN
    assert "would restore eni-00000000000000001 -> sg-00000000000000001, sg-00000000000000002" in dry.detail
    assert account.calls == before
    missing = IsolateInstance().undo("i-0ffffffffffffffff", context(event(), config(), account, records=records))
    assert missing.status is Status.FAILED
