"""``riposte score`` (pure: no AWS, no network) and ``riposte run`` (carries actions and notifications out with
boto3's ordinary configuration, so ``AWS_ENDPOINT_URL`` can point it at a local AWS).

Output: one JSON object per input event on stdout, written as soon as the event is processed (inputs are
streamed). An input that cannot be processed gets a line ``{"input": ..., "error": "..."}`` and the run goes on.

Exit status:

- 0: every input was processed (``run``: no action or notification ``failed``; ``refused``, ``dry_run`` and
  ``skipped`` are outcomes, not failures);
- 2: some input was rejected (its line carries ``"error"``), or the command line or configuration is invalid
  (one message on stderr, nothing processed); 2 wins over 3;
- 3: ``run`` only: every input was processed, but some action or notification ended ``failed``;
- 141 (128 + SIGPIPE): standard output was closed early (piped into ``head``, a pager quit); the run stops
  quietly, as a process killed by SIGPIPE would, and processes nothing more.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import stat
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riposte import inputs
from riposte.core import config as cfg
from riposte.core.model import Outcome, Plan, Status
from riposte.engine import pipeline, runner, setup
from riposte.sources import SOURCES, InputError

if TYPE_CHECKING:
    from riposte.runtime import Runtime

DEFAULT_CONFIG = "riposte.toml"
EXIT_OK = 0
EXIT_REJECTED = 2
EXIT_FAILED = 3
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE


class _OutputClosed(Exception):
    """Whoever reads standard output has gone away."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riposte", description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help=f"TOML configuration (default: ./{DEFAULT_CONFIG} if present)")
    common.add_argument(
        "--allow", metavar="CIDR", action="append", default=[], help="add to the allowlist (repeatable)"
    )
    common.add_argument("--source", choices=SOURCES.names(), help="force the source instead of detecting it")
    common.add_argument(
        "paths", metavar="PATH", nargs="+", help="event file, directory (read recursively), or - for standard input"
    )
    commands.add_parser("score", parents=[common], help="normalize, score and plan; touches nothing")
    run = commands.add_parser("run", parents=[common], help="plan, then act and notify (honours dry_run)")
    run.add_argument("--table", metavar="NAME", help="DynamoDB table for audit and state (default: in memory)")
    return parser


def _config(args: argparse.Namespace) -> cfg.Config:
    if args.config:
        config = _load(args.config)
    elif Path(DEFAULT_CONFIG).exists():
        config = _load(DEFAULT_CONFIG)
    else:
        config = setup.check(cfg.Config())
    if args.allow:
        data = config.model_dump(by_alias=True, mode="json")
        data["allowlist"] = [*data["allowlist"], *args.allow]
        config = setup.parse(data, "--allow")
    return config


def _load(path: str) -> cfg.Config:
    """``setup.load`` with every way a file can fail to read as one ``ConfigError`` (config.load itself only
    knows a missing file and bad TOML)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG  # setup.load says so in its own words
    except OSError as error:
        raise cfg.ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    if not stat.S_ISREG(mode):  # a directory fails to open; a FIFO would block the run forever
        raise cfg.ConfigError(f"{path}: not a regular file")
    try:
        return setup.load(path)
    except cfg.ConfigError:
        raise
    except OSError as error:
        raise cfg.ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise cfg.ConfigError(f"{path}: not UTF-8: {error.reason} at byte {error.start}") from None
    except RecursionError:
        raise cfg.ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError as error:  # e.g. an integer beyond the interpreter's digit limit
        raise cfg.ConfigError(f"{path}: not valid TOML: {_reason(error)}") from None


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

    rejected = failed = False
    try:
        for item in inputs.read(args.paths):
            line, item_failed = _process(item, config, args.source, rt)
            rejected |= "error" in line
            failed |= item_failed
            _emit(line)
    except _OutputClosed:
        _silence_stdout()
        return EXIT_OUTPUT_CLOSED
    return EXIT_REJECTED if rejected else EXIT_FAILED if failed else EXIT_OK


def _process(
    item: inputs.Item, config: cfg.Config, source: str | None, rt: Runtime | None
) -> tuple[dict[str, Any], bool]:
    """The item's output line, and whether an action or notification failed."""
    if item.error is not None:
        return {"input": item.label, "error": item.error}, False
    try:
        plan = pipeline.plan(item.raw, config, source)
    except InputError as error:
        problem = str(error)
    except RecursionError:  # the event is valid JSON but nests deeper than a source can walk
        problem = "nested too deeply to process"
    except ValueError as error:  # e.g. an integer too long to turn into text
        problem = f"cannot process: {_reason(error)}"
    else:
        if rt is None:
            planned = [{"notifier": n, "status": str(Status.PLANNED), "detail": ""} for n in plan.notify]
            return _line(item.label, plan, plan.actions, planned), False
        result = runner.execute(plan, config, rt.ports, rt.notifiers, now=datetime.now(UTC))
        notified = [o.as_notify_dict() for o in result.notifications]
        failed = any(o.status is Status.FAILED for o in (*result.actions, *result.notifications))
        return _line(item.label, plan, result.actions, notified), failed
    return {"input": item.label, "error": problem}, False


def _reason(error: ValueError) -> str:
    # Python's advice to call sys.set_int_max_str_digits() is for programmers, not for whoever runs the CLI.
    return str(error).partition("; use sys.set_int_max_str_digits")[0]


def _emit(line: dict[str, Any]) -> None:
    try:
        print(json.dumps(line), flush=True)
    except BrokenPipeError:
        raise _OutputClosed from None


def _silence_stdout() -> None:
    """Python flushes stdout once more on exit, which would fail loudly on the closed pipe: point the file
    descriptor at /dev/null instead."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests capture it): nothing will be flushed to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
