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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riposte import inputs, sources
from riposte.actions import ACTIONS, ActionContext
from riposte.adapters.memory import MemoryState
from riposte.commands import blocks
from riposte.commands import flowlogs as flowlogs_command
from riposte.core import config as cfg
from riposte.core.model import Entities, EventKind, Outcome, Plan, SecurityEvent, Status
from riposte.core.ports import StatePort
from riposte.engine import context, pipeline, runner, setup
from riposte.sources import SOURCES, InputError
from riposte.sources.webhooks import ADAPTERS, map_body

if TYPE_CHECKING:
    from riposte.runtime import Runtime

DEFAULT_CONFIG = "riposte.toml"
EXIT_OK = 0
EXIT_REJECTED = 2
EXIT_FAILED = 3
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE
# Undo commands: (what they undo, what they take).
UNDO = {
    "release": ("isolate_instance: restore an instance's groups", "INSTANCE"),
    "enable-key": ("disable_access_key: re-activate a key and remove the session deny", "KEY"),
}


class _OutputClosed(Exception):
    """Whoever reads standard output has gone away."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riposte", description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    configured = argparse.ArgumentParser(add_help=False)
    configured.add_argument(
        "--config", metavar="FILE", help=f"TOML configuration (default: ./{DEFAULT_CONFIG} if present)"
    )
    configured.add_argument(
        "--allow", metavar="CIDR", action="append", default=[], help="add to the allowlist (repeatable)"
    )
    common = argparse.ArgumentParser(add_help=False, parents=[configured])
    common.add_argument(
        "--source",
        choices=[*SOURCES.names(), *ADAPTERS.names()],
        help="force the source instead of detecting it; an alerting tool's name reads saved webhook bodies",
    )
    common.add_argument(
        "paths", metavar="PATH", nargs="+", help="event file, directory (read recursively), or - for standard input"
    )
    commands.add_parser("score", parents=[common], help="normalize, score and plan; touches nothing")
    run = commands.add_parser("run", parents=[common], help="plan, then act and notify (honours dry_run)")
    run.add_argument("--table", metavar="NAME", help="DynamoDB table for audit and state (default: in memory)")
    serve = commands.add_parser(
        "serve", parents=[configured], help="the webhook front door on a local HTTP server, carried out like run"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: 8080; 0 picks a free one)")
    serve.add_argument("--table", metavar="NAME", help="DynamoDB table for audit and state (default: in memory)")
    for name, (what, target) in UNDO.items():
        undo = commands.add_parser(name, parents=[configured], help=f"undo {what}")
        undo.add_argument("target", metavar=target)
        undo.add_argument("--account", help="the account it lives in (default: the caller's)")
        undo.add_argument("--region", help="its region (default: boto3's)")
        undo.add_argument("--table", metavar="NAME", help="the state table holding what the action recorded")
    breaker = commands.add_parser(
        "breaker", parents=[configured], help="show or reset the circuit breaker (limits.breaker_per_hour)"
    )
    breaker.add_argument("what", choices=("status", "reset"))
    breaker.add_argument("--table", metavar="NAME", default=os.environ.get("RIPOSTE_TABLE"), help="the state table")
    blocks.add_parsers(commands)
    flowlogs_command.add_parsers(commands, configured)
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
        # What a person is shown beside the score (the Slack message's facts): a skipped address, a window...
        "evidence": [[label, value] for label, value in event.evidence],
    }


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except Exception as error:
        if not _aws_unavailable(error):
            raise
        print(
            f"riposte: this command works against AWS, which it could not use as configured ({error}). Set a region "
            "and credentials, or AWS_ENDPOINT_URL for a local AWS; `riposte score` needs none.",
            file=sys.stderr,
        )
        return EXIT_REJECTED


def _aws_unavailable(error: BaseException) -> bool:
    """botocore's own errors (no region, no credentials, no endpoint, refused) and the discovery of our own
    addresses failing for one of them. Matched by module and name: `riposte score` must not import botocore."""
    return type(error).__module__.startswith("botocore.") or type(error).__name__ == "DiscoveryError"


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    # Commands that load their own configuration and clients.
    standalone = {**dict.fromkeys(blocks.COMMANDS, blocks.run), "flowlogs": flowlogs_command.run}
    if args.command in standalone:
        return standalone[args.command](args)
    try:
        config = _config(args)
    except cfg.ConfigError as error:
        print(f"riposte: {error}", file=sys.stderr)
        return EXIT_REJECTED

    rt = None
    if args.command == "breaker" and not args.table:
        print(
            "riposte: --table NAME (or $RIPOSTE_TABLE) is required: the breaker lives in the state table",
            file=sys.stderr,
        )
        return EXIT_REJECTED
    if args.command != "score":
        from riposte.runtime import build

        rt = build(config, table_name=args.table)
    if rt is not None and args.command in ("serve", "breaker", *UNDO):
        return _serve(args, config, rt) if args.command == "serve" else _manage(args, config, rt)

    # Counts and sightings that move scores (bursts, repeat offenders, correlation) are shared by the inputs of
    # one run, in order: in memory for `score`, in the table (if any) for `run`.
    run = _Run(
        config=config,
        source=args.source,
        rt=rt,
        state=rt.ports.state if rt else MemoryState(),
        # Flow-log payloads are judged in order, as one invocation after another, on one flow state.
        replay=flowlogs_command.FlowReplay(config),
    )
    rejected = failed = False
    try:
        for item in inputs.read(args.paths):
            for line, line_failed in _process(item, run):
                rejected |= "error" in line
                failed |= line_failed
                _emit(line)
    except _OutputClosed:
        _silence_stdout()
        return EXIT_OUTPUT_CLOSED
    return EXIT_REJECTED if rejected else EXIT_FAILED if failed else EXIT_OK


@dataclass(frozen=True)
class _Run:
    """What every input of one `score`/`run` shares."""

    config: cfg.Config
    source: str | None
    rt: Runtime | None
    state: StatePort
    replay: flowlogs_command.FlowReplay


def _events(item: inputs.Item, run: _Run) -> list[SecurityEvent]:
    if run.source in ADAPTERS:  # a saved webhook body: the front door's mapping and limits, no authentication
        return map_body(str(run.source), json.dumps(item.raw).encode(), run.config)
    if run.replay.wants(item.raw, run.source):  # a flow-log payload: its offenders (none: no line)
        return run.replay.events(item.raw)
    return [sources.normalize(item.raw, run.source)]


def _process(item: inputs.Item, run: _Run) -> Iterator[tuple[dict[str, Any], bool]]:
    """The item's output lines (one per event it holds), each with whether an action or notification failed."""
    if item.error is not None:
        yield {"input": item.label, "error": item.error}, False
        return
    try:
        events = _events(item, run)
    except InputError as error:
        problem = str(error)
    except RecursionError:  # the event is valid JSON but nests deeper than a source can walk
        problem = "nested too deeply to process"
    except ValueError as error:  # e.g. an integer too long to turn into text
        problem = f"cannot process: {_reason(error)}"
    else:
        for index, event in enumerate(events):
            label = item.label if len(events) == 1 else f"{item.label}#{index}"
            yield _carry_out(label, event, run.config, run.rt, run.state)
        return
    yield {"input": item.label, "error": problem}, False


def _carry_out(
    label: str, event: SecurityEvent, config: cfg.Config, rt: Runtime | None, state: StatePort
) -> tuple[dict[str, Any], bool]:
    now = datetime.now(UTC)
    own = rt.own() if rt else ()
    plan = pipeline.plan_event(event, config, context.gather(event, config, state, now.timestamp()), own)
    if rt is None:
        planned = [{"notifier": n, "status": str(Status.PLANNED), "detail": ""} for n in plan.notify]
        return _line(label, plan, plan.actions, planned), False
    result = runner.execute(plan, config, rt.ports, rt.notifiers, now=now)
    notified = [o.as_notify_dict() for o in result.notifications]
    failed = any(o.status is Status.FAILED for o in (*result.actions, *result.notifications))
    return _line(label, plan, result.actions, notified), failed


def _serve(args: argparse.Namespace, config: cfg.Config, rt: Runtime) -> int:
    """Accepted webhook alerts go through `run`'s pipeline; the bearer token and HMAC secret come from
    RIPOSTE_WEBHOOK_TOKEN and RIPOSTE_WEBHOOK_HMAC_SECRET."""
    import logging

    from riposte.serve import serve

    # Standard output carries one JSON line per event, as with `run`: the server's own log goes to stderr.
    for handler in logging.getLogger("riposte").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)

    def carry_out(events: Sequence[SecurityEvent]) -> None:
        for event in events:
            line, _ = _carry_out(f"serve:{event.source}", event, config, rt, rt.ports.state)
            _emit(line)

    server = serve(config, args.host, args.port, carry_out)
    print(f"riposte: listening on {server.url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def _undo(args: argparse.Namespace, config: cfg.Config, rt: Runtime) -> int:
    action_name = {"release": "isolate_instance", "enable-key": "disable_access_key"}[args.command]
    event = SecurityEvent(
        source="cli",
        id=f"cli:{args.command}:{args.target}",
        type=f"riposte:{args.command}",
        title=f"riposte {args.command} {args.target}",
        kind=EventKind.OTHER,
        entities=Entities(),
        account=args.account,
        region=args.region or boto_region(),
    )
    ctx = ActionContext(event=event, config=config, ports=rt.ports, now=datetime.now(UTC), action=action_name)
    outcome = ACTIONS.get(action_name)().undo(args.target, ctx)
    _emit({"input": args.target, **outcome.as_action_dict()})
    return EXIT_OK if outcome.status in (Status.DONE, Status.DRY_RUN) else EXIT_FAILED


def _manage(args: argparse.Namespace, config: cfg.Config, rt: Runtime) -> int:
    return _breaker(args, rt) if args.command == "breaker" else _undo(args, config, rt)


def _breaker(args: argparse.Namespace, rt: Runtime) -> int:
    if args.what == "reset":
        rt.ports.state.reset_breaker()
    why = rt.ports.state.breaker()
    _emit({"breaker": "tripped" if why else "closed", "detail": why or ""})
    return EXIT_OK


def boto_region() -> str | None:
    import boto3

    region: str | None = boto3.session.Session().region_name
    return region


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
