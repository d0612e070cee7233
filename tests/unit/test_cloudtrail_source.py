"""The CloudTrail source: shapes it reads, the event it makes of one record (type, severity, note, evidence,
parties and their roles), attempts, everyday activity, dispatch in the responder, and bursts counted by the engine
in the state store."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from riposte import sources
from riposte.adapters.memory import MemoryState
from riposte.core import scoring
from riposte.core.model import EventKind, Party, Role
from riposte.engine import context, pipeline, setup
from riposte.sources import InputError
from riposte.sources.cloudtrail import CloudTrailSource, records, source
from riposte.sources.cloudtrail.record import API_CALL
from tests.unit.test_cloudtrail_catalogue import CASES_DIR, CONFIG, EVERYDAY, SAMPLE_CONTEXT

ACCOUNT = "111122223333"


def case(detection: str, index: int = 0) -> dict[str, Any]:
    cases = json.loads((CASES_DIR / f"{detection}.cases").read_text())
    event: dict[str, Any] = cases[index]["event"]
    return event


def history(detection: str, index: int = 0) -> list[dict[str, Any]]:
    cases = json.loads((CASES_DIR / f"{detection}.cases").read_text())
    return [*cases[index].get("history", []), cases[index]["event"]]


def parties(event: Any) -> set[tuple[str, str, Role, bool]]:
    return {(p.kind, p.value, p.role, p.network) for p in event.entities.parties}


# --- shapes ---------------------------------------------------------------------------------------------------
def test_an_eventbridge_event_and_its_bare_record_make_the_same_event() -> None:
    envelope = case("cloudtrail_stop_logging")
    assert sources.normalize(envelope) == sources.normalize(envelope["detail"])
    assert sources.normalize(envelope["detail"], "cloudtrail").source == "cloudtrail"


def test_shapes_are_recognised_without_claiming_guardduty_findings() -> None:
    ct = CloudTrailSource()
    assert ct.matches(case("cloudtrail_stop_logging"))
    assert ct.matches(case("cloudtrail_stop_logging")["detail"])
    assert ct.matches({"Records": []})
    assert not ct.matches({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {}})
    assert not ct.matches({"schemaVersion": "2.0", "service": {}})


def test_a_log_file_is_read_record_by_record() -> None:
    file = {"Records": [case("cloudtrail_stop_logging")["detail"], case("kms_key_disabled")["detail"]]}
    assert [sources.normalize(r).type for r in records(file)] == ["cloudtrail_stop_logging", "kms_key_disabled"]
    with pytest.raises(InputError, match="log file of 2 records; read its records one at a time"):
        sources.normalize(file)
    assert list(records({"Findings": []})) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("eventID"), "eventID: Field required"),
        (lambda r: r.update(eventName=""), "eventName: String should have at least 1 character"),
        (lambda r: r.update(userIdentity="root"), "userIdentity: Input should be a valid dictionary"),
    ],
)
def test_a_malformed_record_is_rejected_naming_the_field(change: Any, message: str) -> None:
    record = copy.deepcopy(case("cloudtrail_stop_logging")["detail"])
    change(record)
    with pytest.raises(InputError, match=message):
        sources.normalize(record)


def test_a_non_cloudtrail_detail_type_is_rejected() -> None:
    envelope = {**case("cloudtrail_stop_logging"), "detail-type": "Something Else"}
    with pytest.raises(InputError, match="not a CloudTrail one"):
        sources.normalize(envelope, "cloudtrail")


# --- the event ------------------------------------------------------------------------------------------------
def test_one_record_makes_one_event_keyed_by_its_event_id() -> None:
    envelope = case("cloudtrail_stop_logging")
    event = sources.normalize(envelope)
    event_id = envelope["detail"]["eventID"]
    assert (event.id, event.subject) == (f"cloudtrail:{event_id}", event_id)
    assert event.kind is EventKind.API_CALL
    assert (event.type, event.title) == ("cloudtrail_stop_logging", "CloudTrail trail logging stopped")
    assert (event.native_severity, event.severity_note) == (
        9.0,
        "CloudTrail detection cloudtrail_stop_logging (critical)",
    )
    assert (event.account, event.region, event.time) == (ACCOUNT, "eu-west-1", envelope["detail"]["eventTime"])
    assert ("Trail", "org-management-trail") in event.evidence
    # A redelivery (new envelope id) is the same event, so it is audited and announced once.
    assert sources.normalize({**envelope, "id": "another-delivery"}) == event


@pytest.mark.parametrize(
    ("detection", "index", "native"),
    [
        ("internet_gateway_attached", 0, 3.0),  # low
        ("securityhub_standards_disabled", 0, 5.0),  # medium
        ("kms_key_disabled", 0, 7.5),  # high, notifies
        ("securityhub_disabled", 0, 8.5),  # high, pages
        ("guardduty_detector_deleted", 0, 9.0),  # critical
    ],
)
def test_native_severity_follows_the_hit_on_guardduty_s_scale(detection: str, index: int, native: float) -> None:
    event = source.to_event(source.parse(case(detection, index)), SAMPLE_CONTEXT)
    assert event.native_severity == native


def test_the_most_severe_detection_names_the_event_and_every_detection_is_in_the_evidence() -> None:
    event = sources.normalize(case("iam_mfa_device_removed", 1))  # root deletes root's MFA from a hostile address
    assert event.type == "root_account_usage"
    assert (
        event.severity_note == "CloudTrail detection root_account_usage (critical), also iam_mfa_device_removed (high)"
    )
    named = [value.split(" ", 1)[0] for label, value in event.evidence if label == "Detection"]
    assert sorted(named) == ["iam_mfa_device_removed", "root_account_usage"]
    assert "root MFA device" in event.description
    assert "root called DeleteVirtualMFADevice" in event.description


def test_without_a_detection_the_event_is_info_yet_still_scored_and_explained() -> None:
    record = EVERYDAY[3].event  # GetCallerIdentity from a laptop
    plan = pipeline.plan(record, CONFIG)
    assert plan.event.type == "cloudtrail:sts.amazonaws.com:GetCallerIdentity"
    assert plan.event.native_severity == 0
    assert plan.score.value == 0
    assert plan.score.reasons == ("CloudTrail sts.amazonaws.com GetCallerIdentity: no detection fired: base 0",)
    assert plan.notify == ()


def test_a_refused_call_is_an_attempt_scored_lower_with_the_reason() -> None:
    denied = source.to_event(source.parse(case("security_tamper_attempt_denied", 0)), SAMPLE_CONTEXT)
    done = source.to_event(source.parse(case("cloudtrail_stop_logging", 1)), SAMPLE_CONTEXT)
    assert (denied.type, done.type) == ("security_tamper_attempt_denied", "cloudtrail_stop_logging")
    assert (denied.native_severity, done.native_severity) == (5.0, 9.0)
    assert "refused (AccessDenied): an attempt, nothing changed" in denied.severity_note
    outcome = dict(denied.evidence)["Outcome"]
    assert outcome.startswith("refused (AccessDenied): an attempt, nothing changed: User: arn:aws:sts::")


def test_a_call_stopped_by_something_else_than_permissions_is_an_attempt_scored_like_a_refused_one() -> None:
    refused = source.to_event(source.parse(case("security_tamper_attempt_denied", 0)), SAMPLE_CONTEXT)
    failed = source.to_event(source.parse(case("security_tamper_attempt_denied", 5)), SAMPLE_CONTEXT)
    assert failed.type == refused.type == "security_tamper_attempt_denied"
    assert failed.native_severity == refused.native_severity == 5.0
    assert "failed (InvalidHomeRegionException): an attempt, nothing changed" in failed.severity_note
    assert dict(failed.evidence)["Outcome"].endswith(": This operation must be called from the trail's home region")


def test_a_failure_for_another_reason_changed_nothing_and_fires_nothing() -> None:
    event = sources.normalize(case("cloudtrail_stop_logging", 3))  # TrailNotFoundException
    assert event.type == "cloudtrail:cloudtrail.amazonaws.com:StopLogging"
    assert "failed (TrailNotFoundException): nothing changed" in event.severity_note


def test_calls_made_by_aws_services_are_never_evaluated() -> None:
    cloudformation = EVERYDAY[9].event  # CloudFormation opens 443... and could open 22: not evaluated either way
    opened = copy.deepcopy(cloudformation)
    rule = opened["detail"]["requestParameters"]["ipPermissions"]["items"][0]
    rule.update(fromPort=22, toPort=22)
    opened["detail"]["responseElements"] = None
    event = sources.normalize(opened)
    assert event.type.startswith("cloudtrail:")
    assert ("Not evaluated", "called by cloudformation.amazonaws.com on the principal's behalf") in event.evidence
    del opened["detail"]["userIdentity"]["invokedBy"]
    assert sources.normalize(opened).type == "sg_ingress_open_to_world"


# --- parties --------------------------------------------------------------------------------------------------
def test_the_caller_key_and_address_act_and_our_account_is_affected() -> None:
    event = sources.normalize(case("cloudtrail_stop_logging", 1))  # an assumed role, from IPv6
    assert parties(event) == {
        ("principal", "arn:aws:iam::111122223333:role/app-ec2-instance-role", Role.ACTOR, False),
        ("access_key", "ASIA2RMZWRYUXPWF6R7F", Role.COMPROMISED, False),
        ("ip", "2a0d:5600:24::10", Role.ACTOR, False),
        ("trail", "org-management-trail", Role.AFFECTED, False),  # what heal restarts
        ("account", ACCOUNT, Role.AFFECTED, False),
    }
    assert ("Session", "arn:aws:sts::111122223333:assumed-role/app-ec2-instance-role/i-0a1b2c3d4e5f67890") in (
        event.evidence
    )


def test_an_api_caller_address_never_crosses_a_network_acl_so_block_ip_has_no_target() -> None:
    event = sources.normalize(case("cloudtrail_stop_logging", 0))
    plan = pipeline.plan_event(event, CONFIG)
    assert plan.score.value >= CONFIG.thresholds.act
    assert event.entities.having("ip", Role.ACTOR) == ("45.13.105.20",)
    assert event.entities.having("ip", network=True) == ()
    assert plan.actions == ()


def test_the_key_is_only_affected_when_nothing_fired() -> None:
    event = sources.normalize(EVERYDAY[3].event)
    assert ("access_key", event.entities.access_keys[0], Role.AFFECTED, False) in parties(event)


@pytest.mark.parametrize("address", ["AWS Internal", "cloudformation.amazonaws.com"])
def test_only_ip_literals_become_address_parties(address: str) -> None:
    envelope = copy.deepcopy(case("kms_key_disabled"))
    envelope["detail"]["sourceIPAddress"] = address
    event = sources.normalize(envelope)
    assert event.entities.ips == ()
    assert ("Source address", address) in event.evidence


def test_a_failed_sign_in_names_its_target_user_as_affected_not_as_actor() -> None:
    event = sources.normalize(case("console_login_failure_burst", 2))  # root password guessing
    assert ("principal", "arn:aws:iam::111122223333:root", Role.AFFECTED, False) in parties(event)
    assert event.entities.having("principal", Role.ACTOR) == ()
    assert event.entities.having("ip", Role.ACTOR) == ("185.220.101.47",)


def test_foreign_accounts_let_in_are_actors_and_resources_are_affected() -> None:
    event = source.to_event(source.parse(case("s3_bucket_policy_foreign_account")), SAMPLE_CONTEXT)
    assert ("account", "444455556666", Role.ACTOR, False) in parties(event)
    assert ("bucket", "acme-customer-exports-111122223333", Role.AFFECTED, False) in parties(event)
    backdoor = source.to_event(source.parse(case("iam_access_key_for_other_user")), SAMPLE_CONTEXT)
    assert ("access_key", "AKIA2PVYIQQHP7TNT4X7", Role.COMPROMISED, False) in parties(backdoor)  # the new key
    assert ("principal", "user/etl-runner", Role.AFFECTED, False) in parties(backdoor)


def test_riposte_s_own_role_is_the_actor_party_so_the_engine_can_recognise_its_own_calls() -> None:
    heal = sources.normalize(case("cloudtrail_stop_logging", 2))  # StartLogging by the responder's role
    assert heal.entities.having("principal", Role.ACTOR) == (
        "arn:aws:iam::111122223333:role/Riposte-ResponderServiceRole-7QK2M1",
    )
    assert heal.type == "cloudtrail:cloudtrail.amazonaws.com:StartLogging"  # a heal raises no detection


# --- dispatch in the responder ----------------------------------------------------------------------------------
def test_the_responder_routes_cloudtrail_records_of_guardduty_s_api_here_and_findings_to_guardduty() -> None:
    api = case("guardduty_detector_deleted")
    assert (api["source"], api["detail-type"]) == ("aws.guardduty", API_CALL)
    assert sources.from_eventbridge(api).source == "cloudtrail"
    finding = json.loads((CASES_DIR.parent / "guardduty" / "c2_activity_outbound.json").read_text())
    assert sources.from_eventbridge(finding).source == "guardduty"


def test_the_responder_refuses_cloudtrail_detail_types_no_rule_delivers() -> None:
    service_event = EVERYDAY[13].event  # "AWS Service Event via CloudTrail"
    with pytest.raises(InputError, match="no source handles"):
        sources.from_eventbridge(service_event)


# --- bursts ---------------------------------------------------------------------------------------------------
def _failure(envelope: dict[str, Any], n: int) -> dict[str, Any]:
    copied = copy.deepcopy(envelope)
    copied["detail"]["eventID"] = f"failure-{n}"
    return copied


def test_a_burst_crosses_the_notify_threshold_exactly_at_its_threshold_and_counts_redeliveries_once() -> None:
    first = case("console_login_failure_burst", 0)  # one failed IAM user sign-in
    state = MemoryState()
    now = source.parse(first).timestamp
    assert now is not None
    scores = []
    for n in range(6):
        event = sources.normalize(_failure(first, n))
        assert event.tally is not None
        assert event.tally.threshold == 5
        for _ in range(2):  # each delivered twice: counted once
            found = context.gather(event, CONFIG, state, now + n)
        scores.append(scoring.score(event, found).value)
    below, at = scores[:4], scores[4:]
    assert all(s < CONFIG.thresholds.notify for s in below), scores
    assert all(CONFIG.thresholds.notify <= s < CONFIG.thresholds.page for s in at), scores
    assert str(scoring.score(event, found).severity) == "medium"


def test_a_root_password_guessing_burst_reaches_the_act_threshold() -> None:
    state = MemoryState()
    events = [sources.normalize(e) for e in history("console_login_failure_burst", 2)]
    found: list[tuple[int, str]] = []
    for n, event in enumerate(events):
        found = context.gather(event, CONFIG, state, 1_000_000 + n)
        score = scoring.score(event, found)
        assert (score.value >= CONFIG.thresholds.act) is (n == len(events) - 1), (n, score)
    assert any("failed console sign-ins (source address 185.220.101.47): 5 within 5 min" in why for _, why in found)


def test_a_burst_on_a_record_another_detection_already_scores_still_adds_its_weight() -> None:
    # A refused StopLogging is a tamper attempt (medium) and one occurrence of refused-call enumeration.
    event = sources.normalize(case("security_tamper_attempt_denied", 0))
    assert event.type == "security_tamper_attempt_denied"
    assert event.tally is not None
    assert (
        event.tally.key
        == f"unauthorized_api_burst#{case('security_tamper_attempt_denied', 0)['detail']['userIdentity']['arn']}"
    )
    assert event.tally.points == 5
    single = dataclasses.replace(event, tally=None)
    assert single.native_severity == event.native_severity == 5.0


def test_one_occurrence_is_low_and_names_the_burst_it_may_become() -> None:
    event = sources.normalize(case("ec2_password_data_burst", 1))
    assert event.type == "ec2_password_data_burst"
    assert event.native_severity == 2.0
    assert event.severity_note == "CloudTrail detection ec2_password_data_burst (low: one occurrence)"
    assert event.tally is not None
    assert event.tally.label.startswith("GetPasswordData calls (caller session arn:aws:sts::")
    assert ("instance", "i-0aa11bb22cc33dd44", Role.AFFECTED, False) in parties(event)


def test_the_burst_of_refused_calls_from_a_leaked_key_reaches_high() -> None:
    state = MemoryState()
    found: list[tuple[int, str]] = []
    for n, envelope in enumerate(history("unauthorized_api_burst", 0)):
        event = sources.normalize(envelope)
        found = context.gather(event, CONFIG, state, 2_000_000 + n)
    assert event.tally is not None
    assert event.tally.threshold == 10
    assert str(scoring.score(event, found).severity) == "high"
    assert Party("access_key", "AKIATCD7OLJEJA7RGAH3", Role.COMPROMISED) in event.entities.parties


def test_riposte_score_reads_a_cloudtrail_event(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from riposte import cli

    path = tmp_path / "stop_logging.json"
    path.write_text(json.dumps(case("cloudtrail_stop_logging")))
    assert cli.main(["score", str(path)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["source"], line["type"], line["severity"]) == ("cloudtrail", "cloudtrail_stop_logging", "critical")
    assert line["reasons"] == ["CloudTrail detection cloudtrail_stop_logging (critical): base 90"]
    assert [n["notifier"] for n in line["notify"]] == ["slack", "pagerduty"]
    assert line["actions"] == []  # an API caller's address is never blocked in a NACL


@pytest.mark.parametrize(
    ("detection", "kind"),
    [
        ("cloudtrail_stop_logging", "trail"),
        ("guardduty_detector_disabled", "detector"),
        ("sg_ingress_open_to_world", "security_group_rule"),
        ("kms_key_scheduled_deletion", "kms_key"),
    ],
)
def test_a_switched_off_control_is_named_so_heal_can_put_it_back(detection: str, kind: str) -> None:
    from riposte.actions import ACTIONS

    event = sources.normalize(case(detection, 0))
    assert event.type == detection
    assert event.entities.having(kind, Role.AFFECTED)
    config = setup.parse({"actions": ["heal"], "heal": {"controls": list(CONTROL_OF[detection])}})
    targets = ACTIONS.get("heal")().targets(event, config)
    assert targets
    assert all(t.startswith(CONTROL_OF[detection][0]) for t in targets)


CONTROL_OF = {
    "cloudtrail_stop_logging": ("trail_logging",),
    "guardduty_detector_disabled": ("guardduty_detector",),
    "sg_ingress_open_to_world": ("admin_port_ingress",),
    "kms_key_scheduled_deletion": ("kms_key_deletion",),
}
