"""Webhook front door: API Gateway (REST, Lambda proxy) -> authenticate, validate, map -> the webhook queue.

Thin on purpose: decode the proxy request, let ``FrontDoor.receive`` decide (tool, size, credentials, body,
mapping, limits: ``riposte.sources.webhooks``), put accepted events on the dedicated queue, answer. A 202 means
the events are queued; a failure to queue is a 503 so that the tool retries (the events' ids are stable, so a
retry never acts or notifies twice). The world is reached through three small adapters built once per
container: Secrets Manager (through Powertools' cached provider), SQS, and an https GET for SNS.

``build_app`` takes its dependencies, so ``riposte serve`` runs this same resolver behind a local HTTP server.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
import urllib3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from riposte.core import config as cfg
from riposte.core.model import SecurityEvent
from riposte.engine import setup
from riposte.handlers import environment
from riposte.sources import InputError, envelopes
from riposte.sources.webhooks import FrontDoor, Reply, Request, WebhookError, to_queue_messages
from riposte.sources.webhooks.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, CredentialsUnavailableError, ToolSecret
from riposte.sources.webhooks.auth import parse_secret as parse_tool_secret
from riposte.sources.webhooks.intake import rejection
from riposte.sources.webhooks.sns import FetchError, SnsVerifier

logger = Logger(service="riposte")
metrics = Metrics(namespace="Riposte", service="webhooks")

SECRET_MAX_AGE_SECONDS = 300  # a rotated token is picked up within five minutes
CREDENTIAL_HEADERS = ("authorization", SIGNATURE_HEADER, TIMESTAMP_HEADER)
JSON = "application/json"


class DeliveryError(Exception):
    """The accepted events could not be handed on (queue unreachable, local pipeline failed)."""


# Hand one request's accepted events on: (tool, events, request id); raises DeliveryError.
Deliver = Callable[[str, Sequence[SecurityEvent], str], None]


class Log(Protocol):
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Deps:
    front: FrontDoor
    deliver: Deliver
    count: Callable[[str, int], None]  # metric name, value
    log: Log


def headers_of(raw: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers keyed in lower case. A credential header sent twice is refused: which copy a proxy
    keeps is not ours to guess."""
    merged: dict[str, str] = {}
    for name, value in (raw.get("headers") or {}).items():
        if isinstance(name, str) and isinstance(value, str):
            merged[name.lower()] = value
    for name, values in (raw.get("multiValueHeaders") or {}).items():
        if (
            isinstance(name, str)
            and name.lower() in CREDENTIAL_HEADERS
            and isinstance(values, list)
            and len(values) > 1
        ):
            raise WebhookError(401, "unauthorized", f"header {name} was sent more than once")
    return merged


def response(reply: Reply) -> Response[str]:
    return Response(
        status_code=reply.status,
        content_type=JSON,
        body=json.dumps(reply.body),
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def build_app(deps: Deps) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    def finish(tool: str, reply: Reply, request_id: str) -> Response[str]:
        if reply.events:
            try:
                deps.deliver(tool, reply.events, request_id)
            except DeliveryError as error:
                unavailable = WebhookError(503, "queue_unavailable", "the alert could not be queued; retry later")
                reply = rejection(unavailable, detail=str(error))
        deps.count(reply.metric, 1)
        if reply.events:
            deps.count("Events", len(reply.events))
        if reply.skipped_addresses:  # values that were not addresses: the alert went on without them
            deps.count("AddressesSkipped", reply.skipped_addresses)
        fields = {"tool": tool[:64], "status": reply.status, "request_id": request_id, "events": len(reply.events)}
        if reply.status >= 400:
            # "message" is reserved by logging's records: the sender's reason goes under "reason".
            why = {"error": reply.body.get("error"), "reason": reply.body.get("message"), "detail": reply.detail}
            deps.log.warning("webhook refused", extra={**fields, **why})
        else:
            deps.log.info("webhook answered", extra={**fields, "event_ids": [e.id for e in reply.events]})
        return response(reply)

    @app.post("/webhooks/<tool>")
    def webhook(tool: str) -> Response[str]:
        raw = app.current_event.raw_event
        request_id = str((raw.get("requestContext") or {}).get("requestId", ""))
        try:
            body = envelopes.api_gateway_body(raw)
            reply = deps.front.receive(Request(tool, headers_of(raw), body, request_id))
        except WebhookError as error:
            reply = rejection(error)
        except InputError as error:
            reply = rejection(WebhookError(400, "bad_encoding", str(error)))
        return finish(tool, reply, request_id)

    @app.not_found
    def not_found(_: NotFoundError) -> Response[str]:
        error = WebhookError(404, "not_found", "no such endpoint; webhooks are POST /webhooks/{tool}")
        return finish("", rejection(error), "")

    return app


class SecretsCredentials:
    """Each tool's secret ``<prefix><tool>`` from Secrets Manager, cached per container by Powertools."""

    def __init__(self, client: Any, prefix: str, max_age: int = SECRET_MAX_AGE_SECONDS) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        self.provider = SecretsProvider(boto3_client=client)
        self.prefix = prefix
        self.max_age = max_age

    def __call__(self, tool: str) -> ToolSecret:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        name = f"{self.prefix}{tool}"
        try:
            value = self.provider.get(name, max_age=self.max_age)
        except GetParameterError as error:
            raise CredentialsUnavailableError(f"secret {name} cannot be read: {error}") from None
        return parse_tool_secret(value if isinstance(value, str) else None, f"secret {name}")


class SqsDelivery:
    """Accepted events -> the webhook queue, one message per request (a few when they would not fit)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def __call__(self, tool: str, events: Sequence[SecurityEvent], request_id: str) -> None:
        received = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        for body in to_queue_messages(tool, events, received_at=received, request_id=request_id):
            try:
                self.client.send_message(QueueUrl=self.queue_url, MessageBody=body)
            except (BotoCoreError, ClientError) as error:
                raise DeliveryError(f"SendMessage failed: {error}") from None


class Urllib3Get:
    """The ``HttpGet`` port: one GET, https only, no redirects (the URL was checked, a redirect was not), a
    small body, short timeouts."""

    MAX_BYTES = 64 * 1024

    def __init__(self, http: urllib3.PoolManager | None = None, *, https_only: bool = True) -> None:
        self.http = http or urllib3.PoolManager(num_pools=2)
        self.https_only = https_only

    def get(self, url: str) -> bytes:
        if self.https_only and not url.startswith("https://"):
            raise FetchError("only https URLs are fetched")
        try:
            reply = self.http.request(
                "GET",
                url,
                redirect=False,
                retries=urllib3.Retry(total=2, connect=2, read=1, redirect=0, backoff_factor=0.2),
                timeout=urllib3.Timeout(connect=2.0, read=3.0),
                preload_content=False,
            )
            try:
                data = reply.read(self.MAX_BYTES + 1)
            finally:
                reply.release_conn()
        except urllib3.exceptions.HTTPError as error:
            raise FetchError(f"{type(error).__name__}: {error}") from None
        if reply.status != 200:
            raise FetchError(f"HTTP {reply.status}")
        if len(data) > self.MAX_BYTES:
            raise FetchError(f"response is over {self.MAX_BYTES} bytes")
        return bytes(data)


def _count(name: str, value: int) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@functools.cache
def app() -> APIGatewayRestResolver:
    """The resolver with its configuration and clients, validated and built once per container."""
    try:
        env = environment.read_webhooks(os.environ)
    except ValueError as error:
        raise cfg.ConfigError(str(error)) from None
    config = setup.from_json(env.config, environment.CONFIG)
    session = boto3.session.Session()
    front = FrontDoor(
        config,
        credentials=SecretsCredentials(session.client("secretsmanager"), config.webhooks.secret_prefix),
        sns_verifier=SnsVerifier(Urllib3Get()),
        clock=time.time,
    )
    deliver = SqsDelivery(session.client("sqs"), env.queue_url)
    return build_app(Deps(front=front, deliver=deliver, count=_count, log=logger))


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app().resolve(event, context)
