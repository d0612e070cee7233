"""Webhooks from alerting tools (``POST /webhooks/{tool}``): one adapter per tool, registered by name in
``ADAPTERS``, mapping the tool's payload to security events.

Public functions:
- ``FrontDoor(config, ...).receive(Request)``: the whole decision for one request (the handler and
  ``riposte serve`` call it);
- ``map_body(tool, body, config)``: the same mapping and limits without authentication (``riposte score``);
- ``to_queue_messages`` / ``from_queue_message``: the webhook queue's versioned message format.
"""

from __future__ import annotations

from riposte.core.model import SIGNAL_RESOLVED
from riposte.sources.webhooks.base import ADAPTERS, Adapter, Alert, source_name
from riposte.sources.webhooks.errors import WebhookError
from riposte.sources.webhooks.intake import FrontDoor, Reply, Request, map_body
from riposte.sources.webhooks.queue import from_queue_message, to_queue_messages

__all__ = [
    "ADAPTERS",
    "SIGNAL_RESOLVED",
    "Adapter",
    "Alert",
    "FrontDoor",
    "Reply",
    "Request",
    "WebhookError",
    "from_queue_message",
    "map_body",
    "source_name",
    "to_queue_messages",
]
