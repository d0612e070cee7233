"""boto3 implementations of the ports. Clients are passed in (built once per container by ``runtime``)."""

from __future__ import annotations

from typing import Any


def error_code(error: Any) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" when it has none)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
