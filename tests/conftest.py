"""Shared fixtures. Tests are offline: fake AWS credentials, moto for AWS, local HTTP servers for Slack."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = Path(__file__).resolve().parent / "events"
GUARDDUTY = EVENTS / "guardduty"

# Never reach a real account, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,19,20,21",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    }
)


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GUARDDUTY / name).read_text())
    return data


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    return load_event


def with_detail(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of an EventBridge GuardDuty event with top-level finding fields changed."""
    copy = json.loads(json.dumps(raw))
    copy["detail"].update(changes)
    return copy
