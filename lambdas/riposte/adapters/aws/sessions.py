"""Acting in the event's account: the responder's own credentials at home, the member role elsewhere.

``AccountSessions`` assumes ``arn:<partition>:iam::<account>:role/<organization.member_role_name>`` with
``organization.external_id`` and caches the credentials per account until shortly before they expire (one
AssumeRole per account and hour, not per event). An account that is not listed in
``organization.member_accounts``, or where the role cannot be assumed (AccessDenied: no member stack there, or a
wrong external ID), raises ``MemberAccessError``: a clear, not retryable failure of the action, reported like any
other outcome. Throttling and other transient errors are retryable.

``AwsAccounts`` is the ``AccountPortsFactory`` the runtime hands to actions: it builds the instance, IAM and
controls adapters on those sessions, once per account, region and set of credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import ClientError

from riposte.actions.accounts import AccountPorts, MemberAccessError
from riposte.adapters.aws import error_code
from riposte.adapters.aws.controls import AwsControls
from riposte.adapters.aws.iam import IamAdapter
from riposte.adapters.aws.instances import Ec2Instances
from riposte.core.config import Organization

# Refresh this long before expiry: an action started on old credentials must finish before they lapse.
REFRESH_MARGIN_SECONDS = 300
# Role chaining (a Lambda role assuming another) is capped at one hour by AWS.
SESSION_SECONDS = 3600
SESSION_NAME = "riposte-responder"
DENIED = ("AccessDenied", "AccessDeniedException")


@dataclass(frozen=True)
class Caller:
    account: str
    arn: str
    partition: str


@dataclass(frozen=True)
class Credentials:
    session: boto3.session.Session
    expires_at: float  # epoch seconds; inf for the responder's own


class AccountSessions:
    def __init__(
        self,
        base: boto3.session.Session,
        organization: Organization,
        *,
        clock: Callable[[], float] = time.time,
        sts: Any = None,
    ) -> None:
        self._base = base
        self._org = organization
        self._clock = clock
        self._sts = sts
        self._caller: Caller | None = None
        self._cache: dict[str, Credentials] = {}

    def caller(self) -> Caller:
        """Who the responder is (asked once): its account is "home", its identity is never acted on."""
        if self._caller is None:
            identity = self._client_sts().get_caller_identity()
            arn = str(identity["Arn"])
            self._caller = Caller(str(identity["Account"]), arn, arn.split(":")[1])
        return self._caller

    def _client_sts(self) -> Any:
        if self._sts is None:
            self._sts = self._base.client("sts")
        return self._sts

    def role_arn(self, account: str) -> str:
        return f"arn:{self.caller().partition}:iam::{account}:role/{self._org.member_role_name}"

    def credentials(self, account: str | None) -> Credentials:
        """A session for ``account`` (None: home), fresh for at least ``REFRESH_MARGIN_SECONDS``."""
        home = self.caller().account
        if account is None or account == home:
            return Credentials(self._base, float("inf"))
        if account not in self._org.member_accounts:
            raise MemberAccessError(
                account,
                f"not in organization.member_accounts: Riposte acts only in its own account ({home}) "
                "and the member accounts listed there",
            )
        cached = self._cache.get(account)
        if cached is not None and cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock():
            return cached
        self._cache[account] = fresh = self._assume(account)
        return fresh

    def _assume(self, account: str) -> Credentials:
        role = self.role_arn(account)
        try:
            response = self._client_sts().assume_role(
                RoleArn=role,
                RoleSessionName=SESSION_NAME,
                ExternalId=self._org.external_id,
                DurationSeconds=SESSION_SECONDS,
            )
        except ClientError as error:
            code = error_code(error)
            if code in DENIED:
                raise MemberAccessError(
                    account,
                    f"cannot assume {role} ({code}): deploy the member stack there (docs/organizations.md) and "
                    "check organization.external_id",
                ) from error
            raise MemberAccessError(account, f"cannot assume {role} ({code or error})", retryable=True) from error
        creds = response["Credentials"]
        expiration = creds["Expiration"]
        expires_at = expiration.timestamp() if isinstance(expiration, datetime) else float(expiration)
        # Share the base session's loader: service models are parsed once per container, not per account.
        core = botocore.session.Session()
        core.register_component("data_loader", self._base._session.get_component("data_loader"))
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self._base.region_name,
            botocore_session=core,
        )
        return Credentials(session, expires_at)


class AwsAccounts:
    """``AccountPortsFactory`` on ``AccountSessions``: the adapters for one account and region."""

    def __init__(self, sessions: AccountSessions) -> None:
        self._sessions = sessions
        self._ports: dict[tuple[str, str], tuple[Credentials, AccountPorts]] = {}

    def __call__(self, account: str | None, region: str | None) -> AccountPorts:
        caller = self._sessions.caller()
        account = account or caller.account
        credentials = self._sessions.credentials(account)
        region = region or credentials.session.region_name or "us-east-1"
        cached = self._ports.get((account, region))
        if cached is not None and cached[0] is credentials:
            return cached[1]
        ports = self._build(account, region, credentials.session, caller)
        self._ports[(account, region)] = (credentials, ports)
        return ports

    def _build(self, account: str, region: str, session: boto3.session.Session, caller: Caller) -> AccountPorts:
        def client(service: str) -> Any:
            return session.client(service, region_name=region)

        org = self._sessions
        own = {caller.arn}
        if account != caller.account:
            own.add(org.role_arn(account))
        return AccountPorts(
            account=account,
            region=region,
            instances=Ec2Instances(client("ec2")),
            iam=IamAdapter(client("iam")),
            controls=AwsControls(client),
            own_principals=frozenset(own),
        )
