"""Registry of notifiers (outputs). Add one: a module here with a ``Notifier`` subclass registered in
NOTIFIERS, imported below. The handler builds each one once per container with an ``urllib3.PoolManager``
and a provider for its destination (read from the secret its ``secret_field`` names)."""

from __future__ import annotations

from riposte.notifiers.base import CredentialProvider, Notifier
from riposte.registry import Registry

NOTIFIERS: Registry[type[Notifier]] = Registry("notifier")

from riposte.notifiers import slack  # noqa: E402,F401

__all__ = ["NOTIFIERS", "CredentialProvider", "Notifier"]
