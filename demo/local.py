"""Local stand-ins shared by the demo and the tests: moto server (AWS), an HTTP sink (Slack), both on
127.0.0.1, and the Lambda-side shapes (context, SQS records, the state table) the handler expects."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(timeout: float = 20.0) -> Iterator[str]:
    """Run ``moto_server`` from this interpreter's environment; yield its endpoint URL; always stop it."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()  # noqa: S310 - our own http://127.0.0.1
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


class Sink:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.url = ""


@contextmanager
def http_sink(status: int = 200, reply: bytes = b"ok", path: str = "/services/T000/B000/demo") -> Iterator[Sink]:
    """A stand-in for Slack's incoming webhook (200 "ok", the default) or PagerDuty's Events API (202 and a JSON
    reply): records each JSON POST."""
    sink = Sink()
    content_type = "application/json" if reply.startswith(b"{") else "text/plain"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            sink.requests.append({"path": self.path, "json": json.loads(body)})
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def create_state_table(dynamodb: Any, name: str) -> None:
    """The responder's table as the stack defines it: (pk, sk) strings, on demand."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class LambdaContext:
    """The parts of the Lambda context that Powertools reads."""

    function_name: str = "riposte-responder"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:riposte-responder"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "local"
    log_group_name: str = "/aws/lambda/riposte-responder"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_record(message_id: str, body: str, *, queue_arn: str, receipt: str = "", md5: str = "") -> dict[str, Any]:
    """One record of the event Lambda's SQS poller hands the function."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt or f"receipt-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "0",
            "SenderId": "events.amazonaws.com",
            "ApproximateFirstReceiveTimestamp": "0",
        },
        "messageAttributes": {},
        "md5OfBody": md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
