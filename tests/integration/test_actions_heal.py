"""heal against moto: each control found switched off, switched back on, and its undo; only the world-open admin
port rule revoked; dry-run making only reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from riposte.actions.heal import Heal
from riposte.adapters.fakes import MemoryRecords
from riposte.core.model import Status
from riposte.engine import setup
from tests.integration.test_actions_sessions import Recorder, aws_context
from tests.unit.test_actions_common import HOME, event

ENFORCE = setup.parse({"mode": "enforce", "actions": ["heal"]})
DRY_RUN = setup.parse({"mode": "dry_run", "actions": ["heal"]})
WHERE = f"{HOME}/us-east-1"
PARTIAL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}
FULL = dict.fromkeys(PARTIAL, True)


@pytest.fixture
def moto() -> Iterator[boto3.session.Session]:
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


def heal(session: boto3.session.Session, target: str, records: MemoryRecords, config: Any = ENFORCE) -> Any:
    return Heal().execute(target, aws_context(session, config, event(), records=records))


def undo(session: boto3.session.Session, target: str, records: MemoryRecords) -> Any:
    return Heal().undo(target, aws_context(session, ENFORCE, event(), records=records))


def test_a_stopped_trail_logs_again_and_undo_stops_it(moto: boto3.session.Session) -> None:
    moto.client("s3").create_bucket(Bucket="acme-cloudtrail-logs")
    cloudtrail = moto.client("cloudtrail")
    cloudtrail.create_trail(Name="main", S3BucketName="acme-cloudtrail-logs")
    records = MemoryRecords()
    outcome = heal(moto, f"trail_logging:{WHERE}/main", records)
    assert outcome.status is Status.DONE, outcome.detail
    assert cloudtrail.get_trail_status(Name="main")["IsLogging"] is True
    assert undo(moto, f"trail_logging:{WHERE}/main", records).status is Status.DONE
    assert cloudtrail.get_trail_status(Name="main")["IsLogging"] is False


def test_a_suspended_detector_is_enabled_again(moto: boto3.session.Session) -> None:
    guardduty = moto.client("guardduty")
    detector = guardduty.create_detector(Enable=False)["DetectorId"]
    outcome = heal(moto, f"guardduty_detector:{WHERE}/{detector}", MemoryRecords())
    assert outcome.status is Status.DONE, outcome.detail
    assert guardduty.get_detector(DetectorId=detector)["Status"] == "ENABLED"


def test_only_the_world_open_admin_rule_is_revoked_and_undo_authorizes_it_again(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.30.0.0/16"}]},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )

    def ingress() -> set[tuple[int, str]]:
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
        return {(r["FromPort"], r["CidrIpv4"]) for r in rules["SecurityGroupRules"] if not r["IsEgress"]}

    (opened,) = [
        r["SecurityGroupRuleId"]
        for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])[
            "SecurityGroupRules"
        ]
        if not r["IsEgress"] and r["FromPort"] == 5432 and r["CidrIpv4"] == "0.0.0.0/0"
    ]
    records = MemoryRecords()
    target = f"admin_port_ingress:{WHERE}/{group}/{opened}"
    outcome = heal(moto, target, records)
    assert outcome.status is Status.DONE, outcome.detail
    assert ingress() == {(5432, "10.30.0.0/16"), (443, "0.0.0.0/0")}
    assert undo(moto, target, records).status is Status.DONE
    assert ingress() == {(5432, "0.0.0.0/0"), (5432, "10.30.0.0/16"), (443, "0.0.0.0/0")}


def test_a_bucket_public_access_block_is_restored_and_undo_puts_the_weakened_one_back(
    moto: boto3.session.Session,
) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="acme-payroll")
    s3.put_public_access_block(Bucket="acme-payroll", PublicAccessBlockConfiguration=PARTIAL)
    records = MemoryRecords()
    target = f"bucket_public_access_block:{WHERE}/acme-payroll"
    assert heal(moto, target, records).status is Status.DONE
    assert s3.get_public_access_block(Bucket="acme-payroll")["PublicAccessBlockConfiguration"] == FULL
    assert undo(moto, target, records).status is Status.DONE
    assert s3.get_public_access_block(Bucket="acme-payroll")["PublicAccessBlockConfiguration"] == PARTIAL


def test_an_account_public_access_block_that_was_deleted_is_restored_and_undo_deletes_it(
    moto: boto3.session.Session,
) -> None:
    s3control = moto.client("s3control")
    records = MemoryRecords()
    target = f"account_public_access_block:{WHERE}"
    assert heal(moto, target, records).status is Status.DONE
    assert s3control.get_public_access_block(AccountId=HOME)["PublicAccessBlockConfiguration"] == FULL
    assert undo(moto, target, records).status is Status.DONE
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3control.get_public_access_block(AccountId=HOME)


def test_ebs_encryption_by_default_is_enabled_again(moto: boto3.session.Session) -> None:
    ec2 = moto.client("ec2")
    ec2.disable_ebs_encryption_by_default()
    assert heal(moto, f"ebs_default_encryption:{WHERE}", MemoryRecords()).status is Status.DONE
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True


def test_a_key_deletion_is_cancelled_and_the_key_usable_again(moto: boto3.session.Session) -> None:
    kms = moto.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    records = MemoryRecords()
    outcome = heal(moto, f"kms_key_deletion:{WHERE}/{key}", records)
    assert outcome.status is Status.DONE, outcome.detail
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert undo(moto, f"kms_key_deletion:{WHERE}/{key}", records).status is Status.REFUSED
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


def test_dry_run_makes_only_reads(moto: boto3.session.Session) -> None:
    moto.client("s3").create_bucket(Bucket="acme-cloudtrail-logs")
    moto.client("cloudtrail").create_trail(Name="main", S3BucketName="acme-cloudtrail-logs")
    detector = moto.client("guardduty").create_detector(Enable=False)["DetectorId"]
    key = moto.client("kms").create_key()["KeyMetadata"]["KeyId"]
    moto.client("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    recorder = Recorder(moto)
    records = MemoryRecords()
    for target in (
        f"trail_logging:{WHERE}/main",
        f"guardduty_detector:{WHERE}/{detector}",
        f"account_public_access_block:{WHERE}",
        f"ebs_default_encryption:{WHERE}",
        f"kms_key_deletion:{WHERE}/{key}",
    ):
        outcome = heal(moto, target, records, DRY_RUN)
        assert outcome.status is Status.DRY_RUN, (target, outcome.detail)
    assert recorder.operations
    assert recorder.changes() == []
    assert records.records == {}
    assert moto.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
