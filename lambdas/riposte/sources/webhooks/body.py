"""Request bodies: raw bytes -> one JSON object, or a ``WebhookError`` saying which limit was crossed.

The raw bytes are kept by the caller (signatures cover them); the content type is ignored, because SNS sends
JSON as ``text/plain``.
"""

from __future__ import annotations

import json
from typing import Any

from riposte.sources.webhooks.errors import WebhookError

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32


def too_large(size: int | None = None) -> WebhookError:
    got = f" ({size} bytes)" if size is not None else ""
    return WebhookError(413, "too_large", f"request body is over {MAX_BODY_BYTES} bytes{got}")


def depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0, ``[]`` and ``{}`` are 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(text: str, what: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``text`` as JSON, refused when it is not JSON or nests deeper than ``max_depth``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise WebhookError(400, "bad_json", f"{what} is not valid JSON: {error}") from None
    except RecursionError:
        raise WebhookError(400, "too_deep", f"{what} nests deeper than {max_depth} levels") from None
    if depth(value) > max_depth:
        raise WebhookError(400, "too_deep", f"{what} nests deeper than {max_depth} levels")
    return value


def decode(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object: at most 1 MiB, strict UTF-8, JSON, an object, at most 32 levels."""
    if len(body) > MAX_BODY_BYTES:
        raise too_large(len(body))
    if not body.strip():
        raise WebhookError(400, "empty", "request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WebhookError(
            400, "bad_encoding", f"request body is not valid UTF-8: {error.reason} at byte {error.start}"
        ) from None
    value = parse_json(text.removeprefix("\ufeff"), "request body")
    if not isinstance(value, dict):
        raise WebhookError(400, "not_an_object", f"request body must be a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def embedded_json(value: Any, what: str) -> Any:
    """A value some tools send as JSON text inside JSON (Sumo Logic's results, SNS's Message): decoded with the
    same limits; a non-string is returned as is. An empty string (an unresolved template variable) is None."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    return parse_json(value, what)
