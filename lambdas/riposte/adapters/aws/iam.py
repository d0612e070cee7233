"""IAM behind ``IamPort``: access keys and their owners, roles and users, inline policies."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from riposte.actions.accounts import AccessKey, Principal, principal_name
from riposte.adapters.aws import error_code

NOT_FOUND = ("NoSuchEntity", "NoSuchEntityException")


def _missing(error: ClientError) -> bool:
    return error_code(error) in NOT_FOUND


class IamAdapter:
    def __init__(self, iam: Any) -> None:
        self._iam = iam

    def access_key(self, key_id: str) -> AccessKey | None:
        try:
            user = self._iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
        except ClientError as error:
            # A key of another account is not ours to see: AWS answers AccessDenied, not NoSuchEntity.
            if _missing(error) or error_code(error) == "AccessDenied":
                return None
            raise
        if not user or user == "root":
            return None  # a root key cannot be switched off through IAM
        pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user)
        status = next(
            (str(k["Status"]) for page in pages for k in page["AccessKeyMetadata"] if k["AccessKeyId"] == key_id),
            None,
        )
        if status is None:
            return None
        arn = str(self._iam.get_user(UserName=user)["User"]["Arn"])
        return AccessKey(key_id, str(user), arn, status)

    def set_access_key_status(self, user: str, key_id: str, status: str) -> None:
        self._iam.update_access_key(UserName=user, AccessKeyId=key_id, Status=status)

    def principal(self, name_or_arn: str) -> Principal | None:
        named = principal_name(name_or_arn)
        if named is None:
            return None
        kind, name = named
        for candidate in ("role", "user") if not kind else (kind,):
            try:
                if candidate == "role":
                    return Principal("role", name, str(self._iam.get_role(RoleName=name)["Role"]["Arn"]))
                return Principal("user", name, str(self._iam.get_user(UserName=name)["User"]["Arn"]))
            except ClientError as error:
                if not _missing(error):
                    raise
        return None

    def inline_policy(self, principal: Principal, policy_name: str) -> str | None:
        try:
            if principal.kind == "role":
                document = self._iam.get_role_policy(RoleName=principal.name, PolicyName=policy_name)["PolicyDocument"]
            else:
                document = self._iam.get_user_policy(UserName=principal.name, PolicyName=policy_name)["PolicyDocument"]
        except ClientError as error:
            if _missing(error):
                return None
            raise
        # boto3 decodes the URL-encoded document into a dict; keep JSON text, like what was put.
        return document if isinstance(document, str) else json.dumps(document, sort_keys=True)

    def put_inline_policy(self, principal: Principal, policy_name: str, document: str) -> None:
        if principal.kind == "role":
            self._iam.put_role_policy(RoleName=principal.name, PolicyName=policy_name, PolicyDocument=document)
        else:
            self._iam.put_user_policy(UserName=principal.name, PolicyName=policy_name, PolicyDocument=document)

    def delete_inline_policy(self, principal: Principal, policy_name: str) -> None:
        try:
            if principal.kind == "role":
                self._iam.delete_role_policy(RoleName=principal.name, PolicyName=policy_name)
            else:
                self._iam.delete_user_policy(UserName=principal.name, PolicyName=policy_name)
        except ClientError as error:
            if not _missing(error):
                raise
