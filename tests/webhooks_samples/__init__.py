"""Webhook request bodies and the helpers that sign them (see README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent


def body(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body(name))
    return data
