"""heal on in-memory fakes: the detection -> control map, targets from AFFECTED parties, each control healed with
its before state recorded, only the world-open admin-port rule revoked, dry-run without a change, and undo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from riposte import sources
from riposte.actions.accounts import IngressRule, KeyState, PublicAccessBlock
from riposte.actions.heal import CONTROLS, DETECTIONS, Heal, Target, parse_rule_reference, record_key
from riposte.adapters.fakes import FakeAccount, MemoryRecords
from riposte.core.config import HEAL_CONTROLS, ConfigError
from riposte.core.model import EventKind, Party, Role, SecurityEvent, Status
from riposte.engine import setup
from tests.unit.test_actions_common import HOME, config, context, event

EVENTS = Path(__file__).resolve().parents[1] / "events"
GROUP = "sg-0123456789abcdef0"
WORLD_SSH = IngressRule("tcp", 22, 22, "0.0.0.0/0", "sgr-00000000000000001")
OFFICE_SSH = IngressRule("tcp", 22, 22, "81.2.69.0/24", "sgr-00000000000000002")
WORLD_HTTPS = IngressRule("tcp", 443, 443, "0.0.0.0/0", "sgr-00000000000000003")


def detection(detection_id: str, kind: str, value: str, **changes: object) -> SecurityEvent:
    return event(
        Party(kind, value, Role.AFFECTED),
        Party("ip", "45.13.104.7", Role.ACTOR),
        type_=detection_id,
        kind=EventKind.API_CALL,
        **changes,
    )


def healed(target: str, account: FakeAccount, *, mode: str = "enforce", records: MemoryRecords | None = None) -> object:
    return Heal().execute(target, context(event(), config(mode, ("heal",)), account, records=records))


def test_every_detection_maps_to_a_known_control_and_every_control_is_healable() -> None:
    assert {control for control, _ in DETECTIONS.values()} == set(HEAL_CONTROLS) == set(CONTROLS)


@pytest.mark.parametrize(
    ("detection_id", "kind", "value", "target"),
    [
        ("cloudtrail_stop_logging", "trail", "main", f"trail_logging:{HOME}/us-east-1/main"),
        (
            "cloudtrail_stop_logging",
            "trail",
            "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main",  # the trail's home region wins
            f"trail_logging:{HOME}/eu-west-1/arn:aws:cloudtrail:eu-west-1:123456789012:trail/main",
        ),
        ("guardduty_detector_disabled", "detector", "12abc34d", f"guardduty_detector:{HOME}/us-east-1/12abc34d"),
        (
            "sg_ingress_open_to_world",
            "security_group_rule",
            f"{GROUP}/sgr-00000000000000001",
            f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/sgr-00000000000000001",
        ),
        (
            "sg_rule_modified_open_to_world",
            "security_group_rule",
            f"{GROUP}/sgr-00000000000000001",
            f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/sgr-00000000000000001",
        ),
        ("s3_bucket_public_access_block_weakened", "bucket", "b1", f"bucket_public_access_block:{HOME}/us-east-1/b1"),
        ("s3_account_public_access_block_weakened", "account", HOME, f"account_public_access_block:{HOME}/us-east-1"),
        (
            "Policy:S3/AccountBlockPublicAccessDisabled",
            "account",
            HOME,
            f"account_public_access_block:{HOME}/us-east-1",
        ),
        ("ebs_default_encryption_disabled", "account", HOME, f"ebs_default_encryption:{HOME}/us-east-1"),
        ("kms_key_scheduled_deletion", "kms_key", "k-1", f"kms_key_deletion:{HOME}/us-east-1/k-1"),
    ],
)
def test_targets_come_from_the_affected_party_the_detection_names(
    detection_id: str, kind: str, value: str, target: str
) -> None:
    assert Heal().targets(detection(detection_id, kind, value), config()) == (target,)


def test_no_target_for_other_events_other_roles_or_disabled_controls() -> None:
    assert Heal().targets(detection("cloudtrail_delete_trail", "trail", "main"), config()) == ()  # no exact undo
    actor = event(Party("trail", "main", Role.ACTOR), type_="cloudtrail_stop_logging")
    assert Heal().targets(actor, config()) == ()
    only_ebs = config(heal={"controls": ["ebs_default_encryption"]})
    assert Heal().targets(detection("cloudtrail_stop_logging", "trail", "main"), only_ebs) == ()
    by_evidence = event(Party("trail", "main", Role.AFFECTED), type_="CloudTrail StopLogging")
    evidence = (("Detection", "cloudtrail_stop_logging"),)
    assert Heal().targets(by_evidence, config()) == ()
    assert Heal().targets(replace(by_evidence, evidence=evidence), config()) == (
        f"trail_logging:{HOME}/us-east-1/main",
    )


def test_targets_round_trip_and_bad_targets_are_refused_clearly() -> None:
    text = f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/tcp/22-22/0.0.0.0/0"
    assert str(Target.parse(text)) == text
    assert parse_rule_reference(f"{GROUP}/tcp/22-22/0.0.0.0/0") == (GROUP, IngressRule("tcp", 22, 22, "0.0.0.0/0"))
    assert parse_rule_reference(f"{GROUP}/6/3389-3389/::/0") == (GROUP, IngressRule("tcp", 3389, 3389, "::/0"))
    assert parse_rule_reference(f"{GROUP}/-1/all/0.0.0.0/0") == (GROUP, IngressRule("-1", -1, -1, "0.0.0.0/0"))
    outcome = healed("nonsense", FakeAccount())
    assert outcome.status is Status.FAILED


def test_trail_logging_is_restarted_with_the_before_state_recorded_and_undone() -> None:
    account = FakeAccount()
    account.controls.trails["main"] = False
    records = MemoryRecords()
    target = f"trail_logging:{HOME}/us-east-1/main"
    outcome = healed(target, account, records=records)
    assert outcome.status is Status.DONE, outcome.detail
    assert account.controls.trails["main"] is True
    assert records.recall(record_key(target))["before"] == {"logging": False}
    undone = Heal().undo(target, context(event(), config(actions=("heal",)), account, records=records))
    assert undone.status is Status.DONE
    assert account.controls.trails["main"] is False
    assert account.calls == [("StartLogging", "main"), ("StopLogging", "main")]


def test_a_control_already_on_is_left_alone() -> None:
    account = FakeAccount()
    account.controls.trails["main"] = True
    outcome = healed(f"trail_logging:{HOME}/us-east-1/main", account)
    assert (outcome.status, account.calls) == (Status.DONE, [])
    assert "nothing to heal" in outcome.detail


def test_a_missing_resource_fails() -> None:
    outcome = healed(f"trail_logging:{HOME}/us-east-1/gone", FakeAccount())
    assert outcome.status is Status.FAILED
    assert "not found" in outcome.detail


def test_the_guardduty_detector_is_re_enabled() -> None:
    account = FakeAccount()
    account.controls.detectors["12abc34d"] = False
    assert healed(f"guardduty_detector:{HOME}/us-east-1/12abc34d", account).status is Status.DONE
    assert account.controls.detectors["12abc34d"] is True


def test_only_the_world_open_admin_port_rule_is_revoked_and_undo_puts_it_back() -> None:
    account = FakeAccount()
    account.controls.groups[GROUP] = [WORLD_SSH, OFFICE_SSH, WORLD_HTTPS]
    records = MemoryRecords()
    target = f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/sgr-00000000000000001"
    outcome = healed(target, account, records=records)
    assert outcome.status is Status.DONE, outcome.detail
    assert account.controls.groups[GROUP] == [OFFICE_SSH, WORLD_HTTPS]
    Heal().undo(target, context(event(), config(actions=("heal",)), account, records=records))
    assert [(r.protocol, r.from_port, r.cidr) for r in account.controls.groups[GROUP]] == [
        ("tcp", 22, "81.2.69.0/24"),
        ("tcp", 443, "0.0.0.0/0"),
        ("tcp", 22, "0.0.0.0/0"),
    ]


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (OFFICE_SSH, "not open to the world"),
        (WORLD_HTTPS, "covers no port of heal.admin_ports"),
    ],
)
def test_a_rule_that_is_not_world_open_on_an_admin_port_is_refused(rule: IngressRule, why: str) -> None:
    account = FakeAccount()
    account.controls.groups[GROUP] = [rule]
    outcome = healed(f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/{rule.rule_id}", account)
    assert outcome.status is Status.REFUSED
    assert why in outcome.detail
    assert account.calls == []


def test_all_traffic_or_a_range_covering_an_admin_port_counts_as_admin() -> None:
    account = FakeAccount()
    everything = IngressRule("-1", -1, -1, "::/0", "sgr-0000000000000000a")
    wide = IngressRule("tcp", 3000, 3400, "0.0.0.0/0", "sgr-0000000000000000b")  # covers 3306 and 3389
    account.controls.groups[GROUP] = [everything, wide]
    for rule in (everything, wide):
        assert healed(f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/{rule.rule_id}", account).status is Status.DONE
    assert account.controls.groups[GROUP] == []


def test_a_rule_already_gone_needs_no_heal() -> None:
    account = FakeAccount()
    account.controls.groups[GROUP] = [OFFICE_SSH]
    outcome = healed(f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/tcp/22-22/0.0.0.0/0", account)
    assert (outcome.status, account.calls) == (Status.DONE, [])


@pytest.mark.parametrize("before", [None, PublicAccessBlock(True, True, False, False)])
def test_public_access_blocks_are_restored_in_full_and_undo_puts_the_old_one_back(
    before: PublicAccessBlock | None,
) -> None:
    account = FakeAccount()
    account.controls.bucket_blocks["b1"] = before
    account.controls.account_blocks[HOME] = before
    records = MemoryRecords()
    for target in (f"bucket_public_access_block:{HOME}/us-east-1/b1", f"account_public_access_block:{HOME}/us-east-1"):
        assert healed(target, account, records=records).status is Status.DONE
    assert account.controls.bucket_blocks["b1"] == PublicAccessBlock()
    assert account.controls.account_blocks[HOME] == PublicAccessBlock()
    for target in (f"bucket_public_access_block:{HOME}/us-east-1/b1", f"account_public_access_block:{HOME}/us-east-1"):
        Heal().undo(target, context(event(), config(actions=("heal",)), account, records=records))
    assert account.controls.bucket_blocks["b1"] == before
    assert account.controls.account_blocks[HOME] == before


def test_ebs_default_encryption_is_re_enabled() -> None:
    account = FakeAccount()
    account.controls.ebs_encryption = False
    assert healed(f"ebs_default_encryption:{HOME}/us-east-1", account).status is Status.DONE
    assert account.controls.ebs_encryption is True


def test_a_key_deletion_is_cancelled_and_the_key_enabled_but_never_rescheduled_by_undo() -> None:
    account = FakeAccount()
    account.controls.keys["k-1"] = KeyState("PendingDeletion", "2026-12-06T12:00:00+00:00")
    records = MemoryRecords()
    target = f"kms_key_deletion:{HOME}/us-east-1/k-1"
    assert healed(target, account, records=records).status is Status.DONE
    assert account.controls.keys["k-1"] == KeyState("Enabled")
    assert account.calls == [("CancelKeyDeletion", "k-1"), ("EnableKey", "k-1")]
    undone = Heal().undo(target, context(event(), config(actions=("heal",)), account, records=records))
    assert undone.status is Status.REFUSED
    assert account.controls.keys["k-1"] == KeyState("Enabled")


def test_dry_run_reads_every_control_and_changes_nothing() -> None:
    account = FakeAccount()
    account.controls.trails["main"] = False
    account.controls.ebs_encryption = False
    account.controls.keys["k-1"] = KeyState("PendingDeletion")
    records = MemoryRecords()
    for target in (
        f"trail_logging:{HOME}/us-east-1/main",
        f"ebs_default_encryption:{HOME}/us-east-1",
        f"kms_key_deletion:{HOME}/us-east-1/k-1",
    ):
        outcome = healed(target, account, mode="dry_run", records=records)
        assert outcome.status is Status.DRY_RUN
        assert outcome.detail.startswith("would ")
    assert account.calls == []
    assert records.records == {}


def test_a_control_not_enabled_is_refused_even_when_asked_directly() -> None:
    account = FakeAccount()
    account.controls.trails["main"] = False
    conf = config(actions=("heal",), heal={"controls": ["ebs_default_encryption"]})
    outcome = Heal().execute(f"trail_logging:{HOME}/us-east-1/main", context(event(), conf, account))
    assert outcome.status is Status.REFUSED
    assert account.calls == []


def test_undo_leaves_a_control_changed_since_the_heal() -> None:
    account = FakeAccount()
    account.controls.trails["main"] = False
    records = MemoryRecords()
    target = f"trail_logging:{HOME}/us-east-1/main"
    healed(target, account, records=records)
    account.controls.trails["main"] = False  # stopped again by someone
    outcome = Heal().undo(target, context(event(), config(actions=("heal",)), account, records=records))
    assert outcome.status is Status.REFUSED
    assert account.calls == [("StartLogging", "main")]


def test_permissions_follow_the_enabled_controls() -> None:
    only_trail = config(actions=("heal",), heal={"controls": ["trail_logging"]})
    names = {a for p in Heal.permissions_for(only_trail) for a in p.actions}
    assert names == {"cloudtrail:GetTrailStatus", "cloudtrail:StartLogging"}
    everything = {a for p in Heal.permissions_for(config(actions=("heal",))) for a in p.actions}
    assert {"kms:CancelKeyDeletion", "ec2:RevokeSecurityGroupIngress", "s3:PutBucketPublicAccessBlock"} <= everything
    assert "cloudtrail:StopLogging" not in everything  # undo's, never the responder's


def test_heal_with_no_control_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"riposte\.toml: heal\.controls:"):
        setup.parse({"actions": ["heal"], "heal": {"controls": []}}, "riposte.toml")


def test_a_control_switched_off_by_a_break_glass_principal_is_never_reverted() -> None:
    account = FakeAccount()
    account.controls.trails["main"] = False  # stopped
    conf = config("enforce", ("heal",), credentials={"break_glass": ["arn:aws:iam::*:user/breakglass-*"]})
    by_person = event(
        Party("trail", "main", Role.AFFECTED),
        Party("principal", "arn:aws:iam::123456789012:user/breakglass-admin", Role.ACTOR),
        type_="cloudtrail_stop_logging",
        kind=EventKind.API_CALL,
    )
    target = f"trail_logging:{HOME}/us-east-1/main"
    outcome = Heal().execute(target, context(by_person, conf, account))
    assert outcome.status is Status.REFUSED
    assert "break-glass principal (arn:aws:iam::*:user/breakglass-*" in outcome.detail
    assert account.calls == []
    by_attacker = replace(
        by_person, entities=replace(by_person.entities, parties=(Party("trail", "main", Role.AFFECTED),))
    )
    assert Heal().execute(target, context(by_attacker, conf, account)).status is Status.DONE
    assert account.controls.trails["main"] is True


def test_a_rule_open_to_half_the_internet_is_world_open_and_a_private_wide_one_is_not() -> None:
    account = FakeAccount()
    half = IngressRule("tcp", 22, 22, "128.0.0.0/1", "sgr-0000000000000000c")  # 0.0.0.0/0 split in two
    eighth = IngressRule("tcp", 22, 22, "32.0.0.0/8", "sgr-0000000000000000d")
    narrower = IngressRule("tcp", 22, 22, "32.0.0.0/9", "sgr-0000000000000000e")
    private = IngressRule("tcp", 22, 22, "10.0.0.0/8", "sgr-0000000000000000f")
    account.controls.groups[GROUP] = [half, eighth, narrower, private]
    statuses = [
        healed(f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/{rule.rule_id}", account).status
        for rule in (half, eighth, narrower, private)
    ]
    assert statuses == [Status.DONE, Status.DONE, Status.REFUSED, Status.REFUSED]
    assert account.controls.groups[GROUP] == [narrower, private]


def test_an_outbound_rule_rewritten_to_the_world_is_never_revoked() -> None:
    account = FakeAccount()
    account.controls.groups[GROUP] = [OFFICE_SSH]  # the inbound rules; the rewritten one is outbound
    outcome = healed(f"admin_port_ingress:{HOME}/us-east-1/{GROUP}/sgr-0000000000000eeee", account)
    assert outcome.status is Status.DONE
    assert "nothing to heal" in outcome.detail
    assert account.calls == []


def test_a_rule_rewritten_to_the_world_is_a_heal_target_by_its_rule_id() -> None:
    cases = json.loads((EVENTS / "cloudtrail" / "sg_rule_modified_open_to_world.cases").read_text())
    event = sources.normalize(cases[0]["event"])
    (target,) = Heal().targets(event, config())
    assert target.startswith("admin_port_ingress:")
    assert "/sg-" in target
    assert target.rsplit("/", 1)[1].startswith("sgr-")
