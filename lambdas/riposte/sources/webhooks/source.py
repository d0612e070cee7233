"""The webhooks source in the sources registry: it owns the ``[webhooks]`` configuration checks.

Webhook bodies do not come through ``sources.normalize`` (one body maps to many events, and only for a named
tool): the front door maps them (``intake``), ``riposte score --source <tool>`` calls ``map_body``, and the
responder reads the webhook queue with ``from_queue_message``. So this source recognizes no shape on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from riposte.core.config import Config
from riposte.core.model import SecurityEvent
from riposte.sources import SOURCES
from riposte.sources.base import InputError, Source
from riposte.sources.webhooks.addresses import field_key
from riposte.sources.webhooks.base import ADAPTERS, SOURCE_PREFIX


@SOURCES.register
class WebhooksSource(Source):
    name: ClassVar[str] = SOURCE_PREFIX

    @classmethod
    def validate(cls, config: Config) -> list[str]:
        hooks = config.webhooks
        found = [
            f"webhooks.tools: unknown tool {tool!r}; valid: {', '.join(ADAPTERS.names())}"
            for tool in hooks.tools
            if tool not in ADAPTERS
        ]
        if hooks.enabled and not hooks.tools:
            found.append("webhooks.tools: webhooks are enabled but no tool is listed")
        hosts = {field_key(name): name for name in hooks.host_fields}
        found += [
            f"webhooks.address_fields: {name!r} is also a host field (webhooks.host_fields): our own hosts are "
            "never attackers"
            for name in hooks.address_fields
            if field_key(name) in hosts
        ]
        for _, adapter in ADAPTERS:
            found += adapter.validate(config)
        return found

    def matches(self, raw: Mapping[str, Any]) -> bool:
        return False

    def normalize(self, raw: Mapping[str, Any]) -> SecurityEvent:
        raise InputError(
            f"a webhook body maps to several events and needs its tool: --source one of {', '.join(ADAPTERS.names())}"
        )
