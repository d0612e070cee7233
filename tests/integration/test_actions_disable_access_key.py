"""disable_access_key against moto's IAM: a key set Inactive and active again, a role's older sessions denied
and allowed again, dry-run making only reads, and the refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from riposte.actions.disable_access_key import REVOKE_POLICY, DisableAccessKey
from riposte.adapters.fakes import MemoryRecords
from riposte.core.model import Party, Role, Status
from riposte.engine import setup
from tests.integration.test_actions_sessions import Recorder, aws_context
from tests.unit.test_actions_common import event

ENFORCE = setup.parse({"mode": "enforce", "actions": ["disable_access_key"]})
DRY_RUN = setup.parse({"mode": "dry_run", "actions": ["disable_access_key"]})
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


@pytest.fixture
def moto() -> Iterator[boto3.session.Session]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        iam = session.client("iam")
        iam.create_role(RoleName="web-instance-role", AssumeRolePolicyDocument=TRUST)
        iam.create_role(RoleName="riposte-member", AssumeRolePolicyDocument=TRUST)
        for user in ("ci-deployer", "breakglass-admin"):
            iam.create_user(UserName=user)
        yield session


def key_of(session: boto3.session.Session, user: str) -> str:
    return str(session.client("iam").create_access_key(UserName=user)["AccessKey"]["AccessKeyId"])


def status(session: boto3.session.Session, user: str, key: str) -> str:
    keys = session.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return str(next(k["Status"] for k in keys if k["AccessKeyId"] == key))


def test_a_key_is_set_inactive_never_deleted_and_undo_makes_it_active(moto: boto3.session.Session) -> None:
    key = key_of(moto, "ci-deployer")
    records = MemoryRecords()
    ev = event(Party("access_key", key, Role.COMPROMISED))
    outcome = DisableAccessKey().execute(key, aws_context(moto, ENFORCE, ev, records=records))
    assert outcome.status is Status.DONE, outcome.detail
    assert status(moto, "ci-deployer", key) == "Inactive"  # still listed: not deleted
    undone = DisableAccessKey().undo(key, aws_context(moto, ENFORCE, event(), records=records))
    assert undone.status is Status.DONE, undone.detail
    assert status(moto, "ci-deployer", key) == "Active"


def test_a_role_s_older_sessions_are_denied_and_undo_removes_the_deny(moto: boto3.session.Session) -> None:
    iam = moto.client("iam")
    records = MemoryRecords()
    outcome = DisableAccessKey().execute("web-instance-role", aws_context(moto, ENFORCE, event(), records=records))
    assert outcome.status is Status.DONE, outcome.detail
    document = iam.get_role_policy(RoleName="web-instance-role", PolicyName=REVOKE_POLICY)["PolicyDocument"]
    (statement,) = document["Statement"]
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == ("Deny", "*", "*")
    assert statement["Condition"] == {"DateLessThan": {"aws:TokenIssueTime": "2026-11-29T12:00:00Z"}}
    undone = DisableAccessKey().undo("web-instance-role", aws_context(moto, ENFORCE, event(), records=records))
    assert undone.status is Status.DONE, undone.detail
    assert iam.list_role_policies(RoleName="web-instance-role")["PolicyNames"] == []


def test_a_role_named_by_its_session_arn_is_found(moto: boto3.session.Session) -> None:
    target = "arn:aws:sts::123456789012:assumed-role/web-instance-role/i-0a1b2c3d4e5f60718"
    outcome = DisableAccessKey().execute(target, aws_context(moto, ENFORCE, event()))
    assert outcome.status is Status.DONE, outcome.detail
    assert moto.client("iam").list_role_policies(RoleName="web-instance-role")["PolicyNames"] == [REVOKE_POLICY]


def test_dry_run_makes_only_reads(moto: boto3.session.Session) -> None:
    key = key_of(moto, "ci-deployer")
    recorder = Recorder(moto)
    for target in (key, "web-instance-role"):
        outcome = DisableAccessKey().execute(target, aws_context(moto, DRY_RUN, event()))
        assert outcome.status is Status.DRY_RUN, outcome.detail
    assert recorder.operations
    assert recorder.changes() == []
    assert status(moto, "ci-deployer", key) == "Active"


def test_the_member_role_and_break_glass_principals_are_refused(moto: boto3.session.Session) -> None:
    key = key_of(moto, "breakglass-admin")
    config = setup.parse(
        {"mode": "enforce", "actions": ["disable_access_key"], "credentials": {"break_glass": ["breakglass-*"]}}
    )
    recorder = Recorder(moto)
    own = DisableAccessKey().execute("riposte-member", aws_context(moto, config, event()))
    glass = DisableAccessKey().execute(key, aws_context(moto, config, event()))
    assert (own.status, glass.status) == (Status.REFUSED, Status.REFUSED)
    assert recorder.changes() == []
    assert status(moto, "breakglass-admin", key) == "Active"


def test_the_responder_s_own_identity_is_refused(moto: boto3.session.Session) -> None:
    # moto's caller is the IAM user "moto": Riposte running as it must never disable it.
    moto.client("iam").create_user(UserName="moto")
    key = key_of(moto, "moto")
    outcome = DisableAccessKey().execute(key, aws_context(moto, ENFORCE, event()))
    assert outcome.status is Status.REFUSED
    assert "Riposte's own user moto" in outcome.detail
    assert status(moto, "moto", key) == "Active"
