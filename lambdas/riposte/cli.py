"""``riposte score`` (pure: no AWS, no network) and ``riposte run`` (carries actions and notifications out with
boto3's ordinary configuration, so ``AWS_ENDPOINT_URL`` can point it at a local AWS).

Output: one JSON object per input event on stdout. Exit status: 0 when every input was processed, 2 when any
was rejected (its line carries ``"error"``), 2 also for a bad command line or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riposte import inputs
from riposte.core import config as cfg
from riposte.core.model import Outcome, Plan, Status
from riposte.engine import pipeline, runner, setup
from riposte.sources import SOURCES, InputError

DEFAULT_CONFIG = "riposte.toml"
EXIT_OK = 0
EXIT_REJECTED = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riposte", description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help=f"TOML configuration (default: ./{DEFAULT_CONFIG} if present)")
    common.add_argument(
        "--allow", metavar="CIDR", action="append", default=[], help="add to the allowlist (repeatable)"
    )
    common.add_argument("--source", choices=SOURCES.names(), help="force the source instead of detecting it")
    common.add_argument("paths", metavar="PATH", nargs="+", help="event file or directory (read recursively)")
    commands.add_parser("score", parents=[common], help="normalize, score and plan; touches nothing")
    run = commands.add_parser("run", parents=[common], help="plan, then act and notify (honours dry_run)")
    run.add_argument("--table", metavar="NAME", help="DynamoDB table for audit and state (default: in memory)")
    return parser


def _config(args: argparse.Namespace) -> cfg.Config:
    if args.config:
        config = setup.load(args.config)
    elif Path(DEFAULT_CONFIG).exists():
        config = setup.load(DEFAULT_CONFIG)
    else:
        config = setup.check(cfg.Config())
    if args.allow:
        data = config.model_dump(by_alias=True, mode="json")
        data["allowlist"] = [*data["allowlist"], *args.allow]
        config = setup.parse(data, "--allow")
    return config


def _line(label: str, plan: Plan, actions: Sequence[Outcome], notify: Sequence[dict[str, Any]]) -> dict[str, Any]:
    event = plan.event
    return {
        "input": label,
        "source": event.source,
        "type": event.type,
        "title": event.title,
        "score": plan.score.value,
        "severity": str(plan.score.severity),
        "reasons": list(plan.score.reasons),
        "entities": event.entities.as_dict(),
        "parties": [party.as_dict() for party in event.entities.parties],
        "actions": [o.as_action_dict() for o in actions],
        "notify": list(notify),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except cfg.ConfigError as error:
        print(f"riposte: {error}", file=sys.stderr)
        return EXIT_REJECTED

    rt = None
    if args.command == "run":
        from riposte.runtime import build

        rt = build(config, table_name=args.table)

    status = EXIT_OK
    for item in inputs.read(args.paths):
        label = item.label
        if item.error is not None:
            line: dict[str, Any] = {"input": label, "error": item.error}
            status = EXIT_REJECTED
        else:
            try:
                plan = pipeline.plan(item.raw, config, args.source)
            except InputError as error:
                line = {"input": label, "error": str(error)}
                status = EXIT_REJECTED
            else:
                if rt is None:
                    planned = [{"notifier": n, "status": str(Status.PLANNED), "detail": ""} for n in plan.notify]
                    line = _line(label, plan, plan.actions, planned)
                else:
                    result = runner.execute(plan, config, rt.ports, rt.notifiers, now=datetime.now(UTC))
                    line = _line(label, plan, result.actions, [o.as_notify_dict() for o in result.notifications])
        print(json.dumps(line), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
