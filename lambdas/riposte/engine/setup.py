"""Configuration checked against the registries: the one way the CLI, the CDK app and every handler's cold
start load a configuration.

``core.config`` validates the model's own fields; what depends on registered elements is asked of them here
(cloud-custodian's element ``validate()`` pattern): unknown action names, an action's own requirements (say,
block_ip in enforce mode needs NACLs to act on), and ``[secrets]`` keys that no notifier declares.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from riposte.actions import ACTIONS
from riposte.core import config as cfg
from riposte.notifiers import NOTIFIERS
from riposte.sources import SOURCES


def problems(config: cfg.Config) -> list[str]:
    """Everything the registered elements find wrong with ``config``, each ``"<field>: <message>"``."""
    found: list[str] = []
    for name in config.actions:
        if name not in ACTIONS:
            found.append(f"actions: unknown action {name!r}; valid: {', '.join(ACTIONS.names())}")
    for name in config.limits.max_per_hour:
        if name not in ACTIONS:
            found.append(f"limits.max_per_hour.{name}: unknown action; valid: {', '.join(ACTIONS.names())}")
    for name in dict.fromkeys(config.actions):
        if name in ACTIONS:
            found.extend(ACTIONS.get(name).validate(config))
    secret_fields = {notifier.secret.field for _, notifier in NOTIFIERS}
    for field in config.secrets:
        if field not in secret_fields:
            found.append(f"secrets.{field}: no notifier reads this secret; valid: {', '.join(sorted(secret_fields))}")
    for _, notifier in NOTIFIERS:
        found.extend(notifier.validate(config))
    for _, source in SOURCES:
        found.extend(source.validate(config))
    return found


def check(config: cfg.Config, origin: str = "config") -> cfg.Config:
    """``config`` if every registered element accepts it; otherwise ``ConfigError`` naming each field."""
    if found := problems(config):
        raise cfg.ConfigError("invalid configuration\n" + "\n".join(f"{origin}: {p}" for p in found))
    return config


def load(path: str | Path) -> cfg.Config:
    return check(cfg.load(path), str(path))


def parse(data: dict[str, object], origin: str = "config") -> cfg.Config:
    return check(cfg.parse(data, origin), origin)


def from_json(text: str, origin: str = cfg.ENV_VAR) -> cfg.Config:
    return check(cfg.from_json(text, origin), origin)


def with_own_principals(config: cfg.Config, arns: Iterable[str]) -> cfg.Config:
    """``config`` whose ``cloudtrail.ignore_principals`` also holds Riposte's own roles: the given ARNs (the
    responder's and the maintenance function's roles, known at deploy time) and the member role of every
    account (``organization.member_role_name``)."""
    own = [a.strip() for a in arns if a.strip()]
    own.append(f"arn:*:iam::*:role/{config.organization.member_role_name}")
    patterns = tuple(dict.fromkeys((*config.cloudtrail.ignore_principals, *own)))
    return config.model_copy(
        update={"cloudtrail": config.cloudtrail.model_copy(update={"ignore_principals": patterns})}
    )
