#!/usr/bin/env python3
"""CDK app. Configuration: context ``riposte:config`` (cdk.json: riposte.toml), falling back to the commented
example; a bad value fails synth with the field named. cdk-nag's AwsSolutions checks run on every synth."""

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


if __name__ == "__main__":
    try:
        application, _ = build()
    except cfg.ConfigError as error:
        sys.exit(f"riposte: {error}")
    application.synth()
