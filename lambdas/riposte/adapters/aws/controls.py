"""Security controls behind ``ControlsPort``: CloudTrail, GuardDuty, security group ingress, S3 public access
blocks (bucket and account), EBS encryption by default, KMS key deletion.

Clients are made on first use from a factory (a boto3 session's ``client``), so a heal of one control builds
one client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from riposte.actions.accounts import IngressRule, KeyState, PublicAccessBlock, protocol_name
from riposte.adapters.aws import error_code

NO_BLOCK = "NoSuchPublicAccessBlockConfiguration"
BLOCK_FIELDS = {
    "block_public_acls": "BlockPublicAcls",
    "ignore_public_acls": "IgnorePublicAcls",
    "block_public_policy": "BlockPublicPolicy",
    "restrict_public_buckets": "RestrictPublicBuckets",
}


def _block_from(raw: dict[str, Any]) -> PublicAccessBlock:
    return PublicAccessBlock(**{ours: bool(raw.get(theirs, False)) for ours, theirs in BLOCK_FIELDS.items()})


def _block_to(block: PublicAccessBlock) -> dict[str, bool]:
    values = block.as_dict()
    return {theirs: values[ours] for ours, theirs in BLOCK_FIELDS.items()}


def _permission(rule: IngressRule) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": rule.protocol}
    if rule.protocol != "-1":
        permission.update(FromPort=rule.from_port, ToPort=rule.to_port)
    if ":" in rule.cidr:
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule.cidr}]
    else:
        permission["IpRanges"] = [{"CidrIp": rule.cidr}]
    return permission


class AwsControls:
    def __init__(self, client: Callable[[str], Any]) -> None:
        self._factory = client
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    # CloudTrail ------------------------------------------------------------------------------------------

    def trail_logging(self, trail: str) -> bool | None:
        try:
            return bool(self._client("cloudtrail").get_trail_status(Name=trail)["IsLogging"])
        except ClientError as error:
            if error_code(error) == "TrailNotFoundException":
                return None
            raise

    def start_trail_logging(self, trail: str) -> None:
        self._client("cloudtrail").start_logging(Name=trail)

    def stop_trail_logging(self, trail: str) -> None:
        self._client("cloudtrail").stop_logging(Name=trail)

    # GuardDuty -------------------------------------------------------------------------------------------

    def detector_enabled(self, detector_id: str) -> bool | None:
        try:
            status = self._client("guardduty").get_detector(DetectorId=detector_id)["Status"]
        except ClientError as error:
            if error_code(error) in ("BadRequestException", "ResourceNotFoundException"):
                return None
            raise
        return str(status).upper() == "ENABLED"

    def set_detector_enabled(self, detector_id: str, enabled: bool) -> None:
        self._client("guardduty").update_detector(DetectorId=detector_id, Enable=enabled)

    # Security group ingress ------------------------------------------------------------------------------

    def ingress_rules(self, group_id: str) -> tuple[IngressRule, ...] | None:
        ec2 = self._client("ec2")
        try:
            ec2.describe_security_groups(GroupIds=[group_id])
        except ClientError as error:
            if error_code(error) in ("InvalidGroup.NotFound", "InvalidGroupId.Malformed"):
                return None
            raise
        pages = ec2.get_paginator("describe_security_group_rules").paginate(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )
        return tuple(
            IngressRule(
                protocol=protocol_name(str(rule["IpProtocol"])),
                from_port=int(rule.get("FromPort", -1)),
                to_port=int(rule.get("ToPort", -1)),
                cidr=str(rule.get("CidrIpv4") or rule.get("CidrIpv6")),
                rule_id=str(rule["SecurityGroupRuleId"]),
            )
            for page in pages
            for rule in page["SecurityGroupRules"]
            if not rule.get("IsEgress") and (rule.get("CidrIpv4") or rule.get("CidrIpv6"))
        )

    def revoke_ingress(self, group_id: str, rule: IngressRule) -> None:
        # By protocol, ports and one CIDR: exactly that permission goes, every other rule of the group stays.
        self._client("ec2").revoke_security_group_ingress(GroupId=group_id, IpPermissions=[_permission(rule)])

    def authorize_ingress(self, group_id: str, rule: IngressRule) -> None:
        self._client("ec2").authorize_security_group_ingress(GroupId=group_id, IpPermissions=[_permission(rule)])

    # S3 public access blocks -----------------------------------------------------------------------------

    def bucket_public_access_block(self, bucket: str) -> PublicAccessBlock | None:
        try:
            raw = self._client("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as error:
            if error_code(error) == NO_BLOCK:
                return None
            raise
        return _block_from(raw)

    def put_bucket_public_access_block(self, bucket: str, block: PublicAccessBlock | None) -> None:
        s3 = self._client("s3")
        if block is None:
            s3.delete_public_access_block(Bucket=bucket)
        else:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_block_to(block))

    def account_public_access_block(self, account: str) -> PublicAccessBlock | None:
        try:
            raw = self._client("s3control").get_public_access_block(AccountId=account)
        except ClientError as error:
            if error_code(error) == NO_BLOCK:
                return None
            raise
        return _block_from(raw["PublicAccessBlockConfiguration"])

    def put_account_public_access_block(self, account: str, block: PublicAccessBlock | None) -> None:
        s3control = self._client("s3control")
        if block is None:
            s3control.delete_public_access_block(AccountId=account)
        else:
            s3control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration=_block_to(block))

    # EBS -------------------------------------------------------------------------------------------------

    def ebs_default_encryption(self) -> bool:
        return bool(self._client("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"])

    def set_ebs_default_encryption(self, enabled: bool) -> None:
        ec2 = self._client("ec2")
        if enabled:
            ec2.enable_ebs_encryption_by_default()
        else:
            ec2.disable_ebs_encryption_by_default()

    # KMS -------------------------------------------------------------------------------------------------

    def key_state(self, key_id: str) -> KeyState | None:
        try:
            metadata = self._client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as error:
            if error_code(error) == "NotFoundException":
                return None
            raise
        deletion = metadata.get("DeletionDate")
        return KeyState(str(metadata["KeyState"]), deletion.isoformat() if deletion is not None else "")

    def cancel_key_deletion(self, key_id: str) -> None:
        self._client("kms").cancel_key_deletion(KeyId=key_id)

    def enable_key(self, key_id: str) -> None:
        self._client("kms").enable_key(KeyId=key_id)
