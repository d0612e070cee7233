"""Reaching an account on moto: the responder's own credentials at home, the member role (with the external ID)
in a member account, credentials cached until shortly before expiry, and clear failures where Riposte may not
act. Also the helpers the other moto tests of the actions share (``aws``, ``Recorder``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.sts.models import sts_backends

from demo.local import create_state_table
from riposte.actions import ACTIONS, ActionContext, Ports
from riposte.actions.accounts import MemberAccessError
from riposte.adapters.aws.records import DynamoRecords
from riposte.adapters.aws.sessions import REFRESH_MARGIN_SECONDS, AccountSessions, AwsAccounts
from riposte.adapters.fakes import MemoryRecords
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core.config import Config, Organization
from riposte.core.model import Party, Role, Status
from riposte.engine import setup
from riposte.runtime import build
from tests.unit.test_actions_common import HOME, MEMBER, NOW, event

EXTERNAL_ID = "riposte-ext-0001"
ORG = Organization(member_accounts=(MEMBER,), external_id=EXTERNAL_ID)
READ_PREFIXES = ("Describe", "Get", "List")


class Recorder:
    """Every AWS operation a boto3 session's clients make, by name: dry-run must make only reads."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.operations: list[str] = []
        session.events.register("before-call.*.*", self._record)

    def _record(self, event_name: str, **_: Any) -> None:
        self.operations.append(event_name.rsplit(".", 1)[-1])

    def changes(self) -> list[str]:
        return [op for op in self.operations if not op.startswith(READ_PREFIXES)]


@pytest.fixture
def moto() -> Iterator[boto3.session.Session]:
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def accounts(session: boto3.session.Session, organization: Organization = ORG, **kwargs: Any) -> AwsAccounts:
    return AwsAccounts(AccountSessions(session, organization, **kwargs))


def aws_context(
    session: boto3.session.Session,
    config: Config,
    ev: Any,
    *,
    records: Any = None,
    organization: Organization = ORG,
) -> ActionContext:
    ports = Ports(
        nacl=MemoryNacls(),
        state=MemoryState(),
        accounts=accounts(session, organization),
        records=records if records is not None else MemoryRecords(),
    )
    return ActionContext(event=ev, config=config, ports=ports, now=NOW)


def member_session(account: str = MEMBER) -> boto3.session.Session:
    """Credentials in another moto account, as the member role gives them."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )


def test_the_home_account_uses_the_responders_own_credentials(moto: boto3.session.Session) -> None:
    sts = moto.client("sts")
    with Stubber(sts) as stub:  # any AssumeRole would be an unexpected call
        stub.add_response(
            "get_caller_identity",
            {"Account": HOME, "Arn": f"arn:aws:sts::{HOME}:assumed-role/riposte-responder/x", "UserId": "AROA:x"},
        )
        sessions = AccountSessions(moto, ORG, sts=sts)
        assert sessions.credentials(None).session is moto
        assert sessions.credentials(HOME).session is moto
        ports = AwsAccounts(sessions)(None, "eu-west-1")
    assert (ports.account, ports.region) == (HOME, "eu-west-1")
    assert ports.own_principals == {f"arn:aws:sts::{HOME}:assumed-role/riposte-responder/x"}


def test_a_member_account_is_reached_through_the_member_role_with_the_external_id(
    moto: boto3.session.Session,
) -> None:
    member = member_session().client("ec2")
    vpc = member.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ports = accounts(moto)(MEMBER, "us-east-1")
    (assumed,) = [r for r in sts_backends[MEMBER]["aws"].assumed_roles if r.role_arn.endswith("/riposte-member")]
    assert assumed.role_arn == f"arn:aws:iam::{MEMBER}:role/riposte-member"
    assert assumed.external_id == EXTERNAL_ID
    assert ports.account == MEMBER
    # The ports act in the member account: its VPC is there, and not in the responder's own account.
    ec2 = ports.instances._ec2  # type: ignore[attr-defined]
    assert vpc in [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert vpc not in [v["VpcId"] for v in moto.client("ec2").describe_vpcs()["Vpcs"]]
    assert f"arn:aws:iam::{MEMBER}:role/riposte-member" in ports.own_principals


def test_credentials_are_cached_per_account_until_shortly_before_they_expire(moto: boto3.session.Session) -> None:
    now = [datetime.now(UTC).timestamp()]
    sessions = AccountSessions(moto, ORG, clock=lambda: now[0])
    factory = AwsAccounts(sessions)

    def assumed() -> int:
        return len([r for r in sts_backends[MEMBER]["aws"].assumed_roles if r.role_arn.endswith("/riposte-member")])

    first = factory(MEMBER, "us-east-1")
    assert factory(MEMBER, "us-east-1") is first
    factory(MEMBER, "eu-west-1")  # another region, same credentials
    assert assumed() == 1
    expires = sessions.credentials(MEMBER).expires_at
    now[0] = expires - REFRESH_MARGIN_SECONDS - 1
    assert factory(MEMBER, "us-east-1") is first
    now[0] = expires - REFRESH_MARGIN_SECONDS + 1
    assert factory(MEMBER, "us-east-1") is not first
    assert assumed() == 2


@pytest.mark.parametrize(("code", "retryable"), [("AccessDenied", False), ("Throttling", True)])
def test_a_member_account_without_the_role_is_a_clear_failure(
    moto: boto3.session.Session, code: str, retryable: bool
) -> None:
    sts = moto.client("sts")
    with Stubber(sts) as stub:
        stub.add_response("get_caller_identity", {"Account": HOME, "Arn": f"arn:aws:iam::{HOME}:user/x", "UserId": "x"})
        stub.add_client_error("assume_role", service_error_code=code, http_status_code=403)
        with pytest.raises(MemberAccessError) as caught:
            AccountSessions(moto, ORG, sts=sts).credentials(MEMBER)
    assert caught.value.retryable is retryable
    assert f"account {MEMBER}" in str(caught.value)
    assert f"arn:aws:iam::{MEMBER}:role/riposte-member" in str(caught.value)
    if code == "AccessDenied":
        assert "deploy the member stack" in str(caught.value)


def test_an_account_that_is_not_a_listed_member_is_refused_without_assuming_anything(
    moto: boto3.session.Session,
) -> None:
    with pytest.raises(MemberAccessError, match=r"not in organization\.member_accounts") as caught:
        accounts(moto, Organization())("222222222222", "us-east-1")
    assert caught.value.retryable is False
    assert not sts_backends["222222222222"]["aws"].assumed_roles


def test_an_action_in_an_account_without_the_member_role_fails_and_reports_it(moto: boto3.session.Session) -> None:
    config = setup.parse({"mode": "enforce", "actions": ["isolate_instance"]})
    ev = event(Party("instance", "i-0a1b2c3d4e5f60718", Role.COMPROMISED), account="333333333333")
    outcome = ACTIONS.get("isolate_instance")().execute("i-0a1b2c3d4e5f60718", aws_context(moto, config, ev))
    assert outcome.status is Status.FAILED
    assert outcome.retryable is False
    assert "account 333333333333" in outcome.detail


def test_the_runtime_builds_account_ports_and_durable_records(moto: boto3.session.Session) -> None:
    create_state_table(moto.client("dynamodb"), "state")
    with_table = build(Config(), table_name="state", session=moto)
    assert isinstance(with_table.ports.accounts, AwsAccounts)
    assert isinstance(with_table.ports.records, DynamoRecords)
    assert isinstance(build(Config(), table_name=None, session=moto).ports.records, MemoryRecords)


def test_dynamo_records_keep_a_before_state_until_it_is_forgotten(moto: boto3.session.Session) -> None:
    create_state_table(moto.client("dynamodb"), "state")
    records = DynamoRecords(moto.resource("dynamodb").Table("state"))
    before = {"interfaces": {"eni-1": ["sg-1", "sg-2"]}, "termination_protected": False, "ratio": 0.5}
    assert records.recall("isolate_instance#i-1") is None
    records.remember("isolate_instance#i-1", before)
    assert records.recall("isolate_instance#i-1") == before
    records.forget("isolate_instance#i-1")
    assert records.recall("isolate_instance#i-1") is None


def test_assumed_credentials_expire_when_sts_says(moto: boto3.session.Session) -> None:
    sessions = AccountSessions(moto, ORG)
    expires = sessions.credentials(MEMBER).expires_at
    assert datetime.fromtimestamp(expires, UTC) - datetime.now(UTC) <= timedelta(hours=1, minutes=1)
