"""Registry of notifiers (outputs). Add one: a module here whose ``Notifier`` subclass is decorated with
``@NOTIFIERS.register`` and declares its ``route`` and ``secret``, and its module name in ``BUILTINS``; the
policy, the configuration's ``[secrets]`` and the stack's secrets all follow from the registry."""

from __future__ import annotations

from riposte.core.registry import Registry
from riposte.notifiers.base import (
    NOT_CONFIGURED,
    CredentialProvider,
    Delivery,
    NotConfiguredError,
    Notifier,
    Route,
    SecretSpec,
    Transport,
)

BUILTINS = ("riposte.notifiers.slack", "riposte.notifiers.pagerduty")

NOTIFIERS: Registry[type[Notifier]] = Registry("notifier", BUILTINS)


def by_route(route: Route) -> tuple[str, ...]:
    return tuple(name for name, notifier in NOTIFIERS if notifier.route is route)


__all__ = [
    "NOTIFIERS",
    "NOT_CONFIGURED",
    "CredentialProvider",
    "Delivery",
    "NotConfiguredError",
    "Notifier",
    "Route",
    "SecretSpec",
    "Transport",
    "by_route",
]
