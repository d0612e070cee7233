"""Registry of remediation actions. Add one: a module here with an ``Action`` subclass registered in ACTIONS,
imported below."""

from __future__ import annotations

from riposte.actions.base import Action, ActionContext, Permission, Ports
from riposte.registry import Registry

ACTIONS: Registry[Action] = Registry("action")

from riposte.actions import block_ip  # noqa: E402,F401

__all__ = ["ACTIONS", "Action", "ActionContext", "Permission", "Ports"]
