"""The webhook Lambda handler as API Gateway invokes it, against moto (Secrets Manager, SQS), and its https GET
adapter against a local server."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer

from demo.local import LambdaContext
from riposte.core import config as cfg
from riposte.engine import setup
from riposte.handlers import environment, webhooks
from riposte.sources.webhooks import from_queue_message, map_body
from riposte.sources.webhooks.sns import FetchError
from tests.webhooks_samples import body

TOKEN = "lambda-token-" + "c" * 32
PREFIX = "riposte/webhooks/"


def api_event(tool: str, data: bytes, headers: dict[str, str], *, base64_body: bool = True) -> dict[str, Any]:
    """An API Gateway REST proxy event as the deployed API sends it (binary media type */*: base64 body)."""
    return {
        "resource": "/webhooks/{tool}",
        "path": f"/webhooks/{tool}",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"tool": tool},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/webhooks/{tool}",
            "httpMethod": "POST",
            "path": f"/v1/webhooks/{tool}",
            "stage": "v1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "198.18.0.10"},
        },
        "body": base64.b64encode(data).decode() if base64_body else data.decode(),
        "isBase64Encoded": base64_body,
    }


@dataclass
class Aws:
    secrets: Any
    sqs: Any
    queue_url: str

    def put_secret(self, tool: str, value: str) -> None:
        self.secrets.create_secret(Name=f"{PREFIX}{tool}", SecretString=value)

    def messages(self) -> list[str]:
        found = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in found]

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        result = webhooks.handler(event, LambdaContext())  # type: ignore[arg-type]
        return result["statusCode"], json.loads(result["body"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="riposte-webhooks")["QueueUrl"]
        config = setup.parse({"webhooks": {"enabled": True, "tools": ["alertmanager", "datadog", "generic"]}})
        monkeypatch.setenv(cfg.ENV_VAR, config.to_json())
        monkeypatch.setenv(environment.WEBHOOK_QUEUE_URL, queue_url)
        webhooks.app.cache_clear()
        yield Aws(boto3.client("secretsmanager"), sqs, queue_url)
        webhooks.app.cache_clear()


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.mark.parametrize("base64_body", [True, False])
def test_an_accepted_alert_is_queued_in_the_format_the_responder_reads(aws: Aws, base64_body: bool) -> None:
    aws.put_secret("alertmanager", json.dumps({"token": TOKEN}))
    data = body("alertmanager_firing.json")
    status, reply = aws.invoke(api_event("alertmanager", data, AUTH, base64_body=base64_body))
    assert status == 202
    (message,) = aws.messages()
    events = from_queue_message(message)
    assert events == map_body("alertmanager", data, setup.check(cfg.Config()))
    assert reply["event_ids"] == [e.id for e in events]
    assert json.loads(message)["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


@pytest.mark.parametrize(
    "secret",
    [None, "not json", json.dumps({"token": "short"}), json.dumps({"token": "", "hmac_secret": ""})],
)
def test_a_missing_or_malformed_secret_is_a_503_and_nothing_is_queued(aws: Aws, secret: str | None) -> None:
    if secret is not None:
        aws.put_secret("datadog", secret)
    status, reply = aws.invoke(api_event("datadog", body("datadog_multialert_tags.json"), AUTH))
    assert (status, reply["error"]) == (503, "credentials_unavailable")
    assert "riposte/webhooks" not in reply["message"]  # the sender learns nothing of our secrets
    assert aws.messages() == []


def test_a_wrong_token_is_a_401_and_nothing_is_queued(aws: Aws) -> None:
    aws.put_secret("generic", json.dumps({"token": TOKEN}))
    headers = {"Authorization": "Bearer " + "d" * 45}
    status, reply = aws.invoke(api_event("generic", body("generic_single.json"), headers))
    assert (status, reply["error"]) == (401, "unauthorized")
    assert aws.messages() == []


def test_a_queue_that_cannot_be_reached_is_a_503_so_the_tool_retries(aws: Aws) -> None:
    aws.put_secret("generic", json.dumps({"token": TOKEN}))
    aws.sqs.delete_queue(QueueUrl=aws.queue_url)
    status, reply = aws.invoke(api_event("generic", body("generic_single.json"), AUTH))
    assert (status, reply["error"]) == (503, "queue_unavailable")


def test_a_disabled_tool_and_an_unknown_path_are_404(aws: Aws) -> None:
    status, reply = aws.invoke(api_event("sns", b"{}", AUTH))
    assert (status, reply["error"]) == (404, "unknown_tool")
    event = api_event("generic", b"{}", AUTH) | {"path": "/elsewhere"}
    assert aws.invoke(event)[0] == 404


def test_a_body_flagged_base64_that_is_not_is_a_400(aws: Aws) -> None:
    aws.put_secret("generic", json.dumps({"token": TOKEN}))
    event = api_event("generic", b"", AUTH) | {"body": "***not base64***"}
    status, reply = aws.invoke(event)
    assert (status, reply["error"]) == (400, "bad_encoding")


def test_a_bad_environment_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(environment.WEBHOOK_QUEUE_URL, raising=False)
    monkeypatch.setenv(cfg.ENV_VAR, cfg.Config().to_json())
    webhooks.app.cache_clear()
    with pytest.raises(cfg.ConfigError, match=environment.WEBHOOK_QUEUE_URL):
        webhooks.app()
    webhooks.app.cache_clear()


# The https GET adapter (SNS certificates and subscription confirmations).


def test_the_get_adapter_returns_the_body_of_a_200(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/cert.pem").respond_with_data(b"PEM")
    assert webhooks.Urllib3Get(https_only=False).get(httpserver.url_for("/cert.pem")) == b"PEM"


@pytest.mark.parametrize(
    ("respond", "why"),
    [
        ({"status": 404}, "HTTP 404"),
        ({"status": 302, "headers": {"Location": "http://169.254.169.254/latest/meta-data/"}}, "HTTP 302"),
        ({"response_data": b"x" * (64 * 1024 + 1)}, "over 65536 bytes"),
    ],
)
def test_the_get_adapter_follows_no_redirect_and_takes_no_large_body(
    httpserver: HTTPServer, respond: dict[str, Any], why: str
) -> None:
    httpserver.expect_request("/x").respond_with_data(**respond)
    with pytest.raises(FetchError, match=why):
        webhooks.Urllib3Get(https_only=False).get(httpserver.url_for("/x"))


def test_the_get_adapter_fetches_only_https_by_default(httpserver: HTTPServer) -> None:
    with pytest.raises(FetchError, match="only https"):
        webhooks.Urllib3Get().get(httpserver.url_for("/x"))
    with pytest.raises(FetchError):
        webhooks.Urllib3Get().get("https://127.0.0.1:1/unreachable.pem")
