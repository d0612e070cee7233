"""Registry of remediation actions. Add one: a module here whose ``Action`` subclass is decorated with
``@ACTIONS.register``, and its module name in ``BUILTINS``."""

from __future__ import annotations

from riposte.actions.base import Action, ActionContext, Permission, Ports
from riposte.core.registry import Registry

BUILTINS = (
    "riposte.actions.block_ip",
    "riposte.actions.block_waf",
    "riposte.actions.isolate_instance",
    "riposte.actions.disable_access_key",
    "riposte.actions.heal",
)

ACTIONS: Registry[type[Action]] = Registry("action", BUILTINS)

__all__ = ["ACTIONS", "Action", "ActionContext", "Permission", "Ports"]
