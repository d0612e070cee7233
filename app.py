#!/usr/bin/env python3
"""CDK app. Configuration: context ``riposte:config`` (cdk.json: riposte.toml), falling back to the commented
example; a bad value fails synth with the field named. cdk-nag's AwsSolutions checks run on every synth.

With context ``riposte:member`` (``-c riposte:member=true``) it synthesizes the member stack instead: the role
the responder assumes in each member account (docs/organizations.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# jsii prints a large banner for Node versions past their end of life or untested; it changes nothing here.
# END_OF_LIFE takes the list of majors to silence, the others any value.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from riposte.core import config as cfg
from riposte.engine import setup
from stacks.member_stack import MemberStack
from stacks.riposte_stack import RiposteStack

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT / "riposte.example.toml"


def resolve_config(app: cdk.App) -> cfg.Config:
    name = app.node.try_get_context("riposte:config") or "riposte.toml"
    path = Path(name) if Path(name).is_absolute() else ROOT / name
    if not path.exists() and path.name == "riposte.toml":
        print(f"riposte: {path.name} not found, using {EXAMPLE.name} (dry_run)", file=sys.stderr)
        path = EXAMPLE
    return setup.load(path)


def build(app: cdk.App | None = None, config: cfg.Config | None = None) -> tuple[cdk.App, RiposteStack]:
    app = app or cdk.App()
    config = setup.check(config) if config is not None else resolve_config(app)
    stack = RiposteStack(
        app,
        "Riposte",
        config=config,
        description="Riposte: automated, explained and reversible response to AWS security findings",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def build_member(app: cdk.App | None = None, config: cfg.Config | None = None) -> tuple[cdk.App, MemberStack]:
    app = app or cdk.App()
    config = setup.check(config) if config is not None else resolve_config(app)
    stack = MemberStack(
        app,
        "RiposteMember",
        config=config,
        description="Riposte member: the role the central responder assumes to act in this account",
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def wants_member(app: cdk.App) -> bool:
    return str(app.node.try_get_context("riposte:member") or "").lower() in ("1", "true", "yes")


if __name__ == "__main__":
    try:
        root = cdk.App()
        application, _ = build_member(root) if wants_member(root) else build(root)
    except cfg.ConfigError as error:
        sys.exit(f"riposte: {error}")
    application.synth()
