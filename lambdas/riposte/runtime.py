"""Wiring: build the ports and notifiers from a configuration and boto3, once per container (or CLI run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from riposte.actions import Ports
from riposte.actions.accounts import RecordsPort
from riposte.adapters.aws import waf as waf_adapter
from riposte.adapters.aws.dynamodb import DynamoState
from riposte.adapters.aws.ec2 import Ec2Nacls
from riposte.adapters.aws.own import OwnAddressBook
from riposte.adapters.aws.records import DynamoRecords
from riposte.adapters.aws.sessions import AccountSessions, AwsAccounts
from riposte.adapters.fakes import MemoryRecords
from riposte.adapters.http import HttpTransport
from riposte.adapters.memory import MemoryState
from riposte.core.config import Config
from riposte.core.guard import OwnAddresses
from riposte.core.ports import StatePort
from riposte.notifiers import NOTIFIERS, CredentialProvider, NotConfiguredError, Notifier

SECRET_MAX_AGE_SECONDS = 300  # a secret filled in after deploy is picked up within five minutes


@dataclass(frozen=True)
class Runtime:
    config: Config
    ports: Ports
    notifiers: dict[str, Notifier]
    # The account's own addresses (cached, refreshed), refused by the guard for every action.
    own: Callable[[], OwnAddresses] = tuple


# Secrets Manager's answer when the secret does not exist, or exists without a value yet (no AWSCURRENT version).
NOT_FOUND = "ResourceNotFoundException"


def _error_code(error: BaseException) -> str:
    """The AWS error code behind ``error``: Powertools wraps the ClientError (``raise GetParameterError(str(e))``
    inside ``except``), so it is the exception's context."""
    seen: BaseException | None = error
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return NOT_FOUND if NOT_FOUND in str(error) else ""


def _secret_reader(client: Any, name: str, *, clock: Callable[[], float] = time.monotonic) -> CredentialProvider:
    """The secret's value, read once per container and kept ``SECRET_MAX_AGE_SECONDS`` (Powertools' cache), so a
    value filled in after deploy is picked up within that time. A missing secret raises ``NotConfiguredError``
    (the notification is skipped, not retried) and that verdict is kept as long, so a deployment whose secret
    was never created costs one call per container every few minutes, not one per event. A binary secret is
    unusable (skipped too). Anything else (access denied, throttling, the endpoint unreachable) raises as it
    is: a retryable failure."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    provider = SecretsProvider(boto3_client=client)
    missing = f"secret {name!r} does not exist or has no value yet"
    missing_until = [0.0]  # monotonic time until which the secret is known to be missing

    def read() -> str | None:
        now = clock()
        if now < missing_until[0]:
            raise NotConfiguredError(missing)
        try:
            value = provider.get(name, max_age=SECRET_MAX_AGE_SECONDS)
        except Exception as error:
            if _error_code(error) != NOT_FOUND:
                raise
            missing_until[0] = now + SECRET_MAX_AGE_SECONDS
            raise NotConfiguredError(missing) from None
        if isinstance(value, bytes | bytearray):
            raise NotConfiguredError(f"secret {name!r} holds binary data; Riposte reads a SecretString")
        return value if isinstance(value, str) else None

    return read


def build(config: Config, *, table_name: str | None, session: boto3.session.Session | None = None) -> Runtime:
    session = session or boto3.session.Session()
    ec2 = session.client("ec2")
    table = session.resource("dynamodb").Table(table_name) if table_name else None
    state: StatePort = DynamoState(table) if table is not None else MemoryState()
    records: RecordsPort = DynamoRecords(table) if table is not None else MemoryRecords()
    # Per account and region, through the member role outside the responder's own account; nothing is asked of
    # STS until an action needs an account.
    accounts = AwsAccounts(AccountSessions(session, config.organization))
    nacls = Ec2Nacls(ec2, network_acl_ids=config.nacl.network_acl_ids, vpc_ids=config.nacl.vpc_ids)
    transport = HttpTransport()
    secrets = session.client("secretsmanager")
    notifiers = {
        name: cls(transport, _secret_reader(secrets, config.secret_name(cls.secret.field, cls.secret.default)))
        for name, cls in NOTIFIERS
    }
    book = OwnAddressBook(ec2, vpc_ids=config.nacl.vpc_ids, network_acl_ids=config.nacl.network_acl_ids)
    waf = waf_adapter.from_config(session, config.waf) if config.waf.ip_sets else None
    ports = Ports(nacl=nacls, state=state, accounts=accounts, records=records, waf=waf)
    return Runtime(config=config, ports=ports, notifiers=notifiers, own=book.addresses)
