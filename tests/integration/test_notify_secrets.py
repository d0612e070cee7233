"""Notifier secrets, read once per container through Powertools with its cache: a missing secret is a clear
skipped outcome (and is not asked for again on every event), a malformed one too; a denied or throttled read
stays a retryable failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3
from botocore.stub import Stubber
from moto import mock_aws

from riposte import runtime
from riposte.adapters.http import HttpTransport
from riposte.core import config as cfg
from riposte.core.model import Result, Status
from riposte.engine import pipeline
from riposte.notifiers import NOT_CONFIGURED, NotConfiguredError
from riposte.notifiers.pagerduty import PagerDutyNotifier
from riposte.notifiers.slack import SlackNotifier
from tests.conftest import load_event

NAME = "riposte/pagerduty-routing-key"
KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager")


def counting(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.secrets-manager.*", lambda model, **_: calls.append(model.name))
    return calls


def result() -> Result:
    plan = pipeline.plan(load_event("c2_activity_outbound.json"), cfg.Config())
    return Result(plan=plan, actions=plan.actions)


def test_a_secret_is_read_once_and_kept_for_its_max_age(secrets: Any) -> None:
    secrets.create_secret(Name=NAME, SecretString=KEY)
    calls = counting(secrets)
    read = runtime._secret_reader(secrets, NAME)
    assert [read(), read(), read()] == [KEY, KEY, KEY]
    assert calls == ["GetSecretValue"]


def test_a_missing_secret_is_not_configured_and_not_asked_for_again_until_its_max_age(secrets: Any) -> None:
    calls = counting(secrets)
    clock = Clock()
    read = runtime._secret_reader(secrets, NAME, clock=clock)
    for _ in range(3):
        with pytest.raises(NotConfiguredError, match=rf"secret '{NAME}' does not exist or has no value yet"):
            read()
    assert calls == ["GetSecretValue"]  # not one call per event: no retry storm against Secrets Manager
    secrets.create_secret(Name=NAME, SecretString=KEY)  # filled in after deploy
    clock.now += runtime.SECRET_MAX_AGE_SECONDS - 1
    with pytest.raises(NotConfiguredError):
        read()
    clock.now += 1
    assert read() == KEY
    assert calls == ["GetSecretValue", "CreateSecret", "GetSecretValue"]


def test_a_secret_without_a_value_yet_is_not_configured(secrets: Any) -> None:
    secrets.create_secret(Name=NAME)  # what a stack creates when no value is given
    with pytest.raises(NotConfiguredError):
        runtime._secret_reader(secrets, NAME)()


def test_a_binary_secret_is_not_configured(secrets: Any) -> None:
    secrets.create_secret(Name=NAME, SecretBinary=b"\x00\x01")
    with pytest.raises(NotConfiguredError, match="holds binary data"):
        runtime._secret_reader(secrets, NAME)()


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException", "InternalServiceError"])
def test_a_denied_or_throttled_read_raises_and_is_asked_again(code: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", service_error_code=code, http_status_code=400)
        stub.add_response("get_secret_value", {"Name": NAME, "SecretString": KEY})
        read = runtime._secret_reader(client, NAME)
        with pytest.raises(Exception, match=code) as raised:
            read()
        assert not isinstance(raised.value, NotConfiguredError)
        assert read() == KEY  # nothing cached: the next event asks again
        stub.assert_no_pending_responses()


def test_a_not_found_error_is_recognised_through_the_powertools_wrapper() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException")
        with pytest.raises(NotConfiguredError):
            runtime._secret_reader(client, NAME)()
    assert (
        runtime._error_code(RuntimeError("An error occurred (ResourceNotFoundException) when..."))
        == "ResourceNotFoundException"
    )
    assert runtime._error_code(RuntimeError("anything else")) == ""


def test_through_the_notifiers_missing_is_skipped_malformed_is_skipped_and_denied_is_retryable(secrets: Any) -> None:
    transport = HttpTransport(urllib3.PoolManager())
    missing = PagerDutyNotifier(transport, runtime._secret_reader(secrets, NAME)).send(result())
    assert (missing.status, missing.retryable) == (Status.SKIPPED, False)
    assert missing.detail == f"{NOT_CONFIGURED}secret '{NAME}' does not exist or has no value yet"
    secrets.create_secret(Name="riposte/slack-webhook-url", SecretString="REPLACE_ME")
    malformed = SlackNotifier(transport, runtime._secret_reader(secrets, "riposte/slack-webhook-url")).send(result())
    assert (malformed.status, malformed.detail) == (
        Status.SKIPPED,
        f"{NOT_CONFIGURED}the secret does not hold an http(s) URL yet",
    )
    client = boto3.client("secretsmanager", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_secret_value", service_error_code="AccessDeniedException")
        denied = PagerDutyNotifier(transport, runtime._secret_reader(client, NAME)).send(result())
    assert (denied.status, denied.retryable) == (Status.FAILED, True)
    assert "AccessDeniedException" in denied.detail


def test_the_runtime_builds_every_notifier_on_its_secret(secrets: Any) -> None:
    with mock_aws():
        rt = runtime.build(cfg.Config(), table_name=None)
        outcomes = {name: notifier.send(result()) for name, notifier in rt.notifiers.items()}
    assert {name: o.status for name, o in outcomes.items()} == {"slack": Status.SKIPPED, "pagerduty": Status.SKIPPED}
    assert (
        outcomes["slack"].detail
        == f"{NOT_CONFIGURED}secret 'riposte/slack-webhook-url' does not exist or has no value yet"
    )
