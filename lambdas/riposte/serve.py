"""``riposte serve``: the webhook front door on your machine, behind a stdlib HTTP server.

Each request is turned into the API Gateway (REST, Lambda proxy) event the deployed function receives and
handed to the same resolver (``riposte.handlers.webhooks.build_app``), so what is accepted or refused here is
what would be accepted or refused in AWS. Credentials come from the environment (one pair for every tool):
``RIPOSTE_WEBHOOK_TOKEN`` (bearer) and ``RIPOSTE_WEBHOOK_HMAC_SECRET`` (HMAC). Accepted events go through the
webhook queue's message format and back (exactly what the responder will read) and are handed to
``on_events``; when it raises, the sender gets a 503 and may retry.

Binds 127.0.0.1 by default. Requests are handled one at a time: Powertools' resolver keeps the current
request in class attributes, and a local pipeline is no faster in parallel anyway.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from riposte.core.config import Config
from riposte.core.model import SecurityEvent
from riposte.handlers.webhooks import Deliver, DeliveryError, Deps, Urllib3Get, build_app
from riposte.sources.webhooks import FrontDoor, from_queue_message, to_queue_messages
from riposte.sources.webhooks.auth import CredentialsUnavailableError, ToolSecret, tool_secret
from riposte.sources.webhooks.body import MAX_BODY_BYTES, too_large
from riposte.sources.webhooks.intake import rejection
from riposte.sources.webhooks.sns import HttpGet, SnsVerifier

TOKEN_ENV = "RIPOSTE_WEBHOOK_TOKEN"  # noqa: S105 - a variable's name
HMAC_ENV = "RIPOSTE_WEBHOOK_HMAC_SECRET"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

OnEvents = Callable[[list[SecurityEvent]], None]

log = logging.getLogger("riposte.serve")


def credentials_from(environ: Mapping[str, str]) -> Callable[[str], ToolSecret]:
    """The same secret for every tool, read from ``environ`` on each request (so it can be set after start)."""

    def read(tool: str) -> ToolSecret:
        token, key = environ.get(TOKEN_ENV), environ.get(HMAC_ENV)
        if not token and not key:
            raise CredentialsUnavailableError(f"set {TOKEN_ENV} and/or {HMAC_ENV} to accept webhooks")
        return tool_secret(token, key, f"{TOKEN_ENV}/{HMAC_ENV}")

    return read


def through_the_queue_format(on_events: OnEvents) -> Deliver:
    """Deliver accepted events the way the responder will get them: serialized to queue messages and read back."""

    def deliver(tool: str, events: Sequence[SecurityEvent], request_id: str) -> None:
        try:
            for body in to_queue_messages(tool, events, request_id=request_id):
                on_events(from_queue_message(body))
        except Exception as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from error

    return deliver


def proxy_event(method: str, target: str, headers: Mapping[str, str], body: bytes, client: str) -> dict[str, Any]:
    """The API Gateway REST proxy event for one request: the body base64-encoded, as the deployed API (binary
    media type ``*/*``) sends it, so signatures cover the exact bytes."""
    parts = urlsplit(target)
    request_id = str(uuid.uuid4())
    multi: dict[str, list[str]] = {}
    for name, value in headers.items():
        multi.setdefault(name, []).append(value)
    return {
        "resource": "/webhooks/{tool}",
        "path": parts.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "pathParameters": None,
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
        "requestContext": {
            "requestId": request_id,
            "stage": "local",
            "httpMethod": method,
            "path": parts.path,
            "identity": {"sourceIp": client},
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse_unread(self, status: int, reply_body: bytes) -> None:
        self.close_connection = True  # the unread body must not be taken for the next request
        self._answer(status, {"Content-Type": "application/json", "Connection": "close"}, reply_body)

    def _handle(self) -> None:
        if self.headers.get("Transfer-Encoding"):  # http.server does not decode chunked bodies
            return self._refuse_unread(411, b'{"error": "length_required", "message": "send a Content-Length"}')
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            return self._refuse_unread(400, b'{"error": "bad_request", "message": "bad Content-Length"}')
        if length > MAX_BODY_BYTES or length < 0:
            reply = rejection(too_large(length))
            return self._refuse_unread(reply.status, _json(reply.body))
        body = self.rfile.read(length)
        headers = dict(self.headers.items())
        event = proxy_event(self.command, self.path, headers, body, self.client_address[0])
        result = self.server.resolve(event)
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
        out = {k: v for k, v in (result.get("headers") or {}).items() if isinstance(v, str)}
        # REST (v1) responses carry their headers as lists.
        out |= {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items() if isinstance(v, list) and v}
        self._answer(int(result["statusCode"]), out, data)
        return None

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body).encode()


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], deps: Deps) -> None:
        super().__init__(address, _Handler)
        self.app = build_app(deps)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        context = SimpleNamespace(function_name="riposte-serve", aws_request_id=event["requestContext"]["requestId"])
        with self._lock:
            return self.app.resolve(event, context)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def serve(
    config: Config,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    on_events: OnEvents | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    http: HttpGet | None = None,
    clock: Callable[[], float] = time.time,
) -> WebhookServer:
    """A bound, not yet running server (call ``serve_forever``; port 0 picks a free port, see ``server.url``).
    ``http`` fetches SNS certificates and confirms subscriptions (default: urllib3, https only)."""
    server: WebhookServer | None = None

    def count(name: str, value: int) -> None:
        if server is not None:
            server.counts[name] += value

    front = FrontDoor(
        config,
        credentials=credentials_from(os.environ if environ is None else environ),
        sns_verifier=SnsVerifier(http or Urllib3Get()),
        clock=clock,
    )
    deliver = through_the_queue_format(on_events or (lambda events: None))
    server = WebhookServer((host, port), Deps(front=front, deliver=deliver, count=count, log=log))
    return server


if __name__ == "__main__":  # pragma: no cover - `riposte serve` is the front door; this is for a quick try
    from riposte.engine import setup

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    running = serve(setup.check(Config()), on_events=lambda events: print([e.id for e in events], flush=True))
    print(f"listening on {running.url}", file=sys.stderr)
    running.serve_forever()
