"""Flow logs in the CLI: ``riposte flowlogs`` shows what the parser makes of payloads, and ``FlowReplay`` lets
``riposte score`` and ``riposte run`` read CloudWatch Logs subscription payload files.

``riposte flowlogs [--config FILE] [--format FORMAT] PATH...`` prints, for each payload, one JSON object per
record, in order: the format's fields named with ``-`` as ``_`` (``srcaddr``, ``dstport``, ``log_status``,
``pkt_srcaddr``...), ``-`` values as null, numeric fields as integers. A line that is not a flow record of the
format prints ``{"input": "<path>#<index>", "skipped": "<why>", "message": "<the line>"}``; a
``CONTROL_MESSAGE`` prints nothing; an input that is not a payload prints ``{"input": ..., "error": ...}``.
``--format`` takes the flow log's format string (``${version} ${account-id} ...``); default: the configured
``flowlogs.log_format``, itself the v2 default format unless set. Exit status: 0 when every input was read (a
skipped line is an answer, not a failure), 2 when an input was not a payload or the format/configuration is
invalid.

Payload files, for all three commands: the Lambda event ``{"awslogs": {"data": "<base64 gzip JSON>"}}`` (what
the subscription hands the function; ``aws logs`` and the Lambda console show it), or its decoded JSON
``{"messageType": "DATA_MESSAGE", "logEvents": [{"message": ...}, ...], ...}``. One run's inputs share one
in-memory flow state, in the order read (a directory: recursively, by name), so a directory of payload files
behaves like that sequence of invocations. Windows are judged whatever their age (a replay, not live traffic).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riposte import inputs
from riposte.core import config as cfg
from riposte.core.model import Outcome, Plan, SecurityEvent, Status
from riposte.engine import pipeline, runner, setup
from riposte.flowlogs import Counters, FlowFormat, MemoryFlowState, Skipped, analyze, decode, parse_format
from riposte.sources import InputError, envelopes
from riposte.sources import flowlogs as source

if TYPE_CHECKING:
    from riposte.runtime import Runtime

EXIT_OK = 0
EXIT_REJECTED = 2
DEFAULT_CONFIG = "riposte.toml"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
SOURCE = source.NAME

# cli._line's shape: (input label, plan, action outcomes, notification dicts) -> the output object.
LineMaker = Callable[[str, Plan, Sequence[Outcome], Sequence[dict[str, Any]]], dict[str, Any]]


def matches(raw: Any) -> bool:
    """Whether a raw input is a flow-log payload (either form above): what ``riposte score`` detects."""
    return isinstance(raw, Mapping) and source.is_payload(raw)


def payload(raw: Any) -> envelopes.LogsData:
    """The payload's decoded form, from either accepted shape; ``InputError`` says what is wrong."""
    if not isinstance(raw, Mapping):
        raise InputError(f"a flow-log payload must be a JSON object, got {type(raw).__name__}")
    if "awslogs" in raw:
        return envelopes.awslogs(raw)
    if not source.is_payload(raw):
        raise InputError(
            'not a CloudWatch Logs subscription payload: expected {"awslogs": {"data": ...}} or '
            '{"messageType": ..., "logEvents": [...]}'
        )
    # The decoded form goes through the same envelope as the Lambda's (one set of checks), at the price of a
    # fast re-compression: the CLI reads files, not a minute's traffic.
    return envelopes.cloudwatch_logs(gzip.compress(json.dumps(raw).encode(), compresslevel=1))


class FlowReplay:
    """One CLI run's flow-log state: the payloads it reads are judged in order, as one invocation after another."""

    def __init__(self, config: cfg.Config) -> None:
        self.config = config
        self.thresholds = source.thresholds(config)
        self.fmt = source.flow_format(config)
        self.networks = source.networks(config)
        self.state = MemoryFlowState(caps=self.thresholds.caps)
        self.counters = Counters()  # over the whole run

    def wants(self, raw: Any, forced: str | None) -> bool:
        """Whether this input is for the replay: ``--source flowlogs``, or detected when no source is forced."""
        return forced == SOURCE or (forced is None and matches(raw))

    def events(self, raw: Any) -> list[SecurityEvent]:
        """The security events one payload makes, after the payloads before it (``InputError``: not one)."""
        logs = payload(raw)
        if logs.message_type == CONTROL_MESSAGE:
            return []
        result = analyze([logs.messages], self.state, fmt=self.fmt, thresholds=self.thresholds, networks=self.networks)
        for name, value in result.counters.as_dict().items():
            if name != "lines":
                setattr(self.counters, name, getattr(self.counters, name) + value)
        self.counters.malformed += logs.malformed
        return [source.to_event(o, account=logs.owner or None) for o in result.offenders]

    def process(self, item: inputs.Item, rt: Runtime | None, line: LineMaker) -> list[tuple[dict[str, Any], bool]]:
        """``riposte score``/``run`` output for one input: a line per event (``line`` builds it as for any event),
        each with whether an action or notification failed; an input that is not a payload: one error line."""
        if item.error is not None:
            return [({"input": item.label, "error": item.error}, False)]
        try:
            events = self.events(item.raw)
        except InputError as error:
            return [({"input": item.label, "error": str(error)}, False)]
        out = []
        for event in events:
            plan = pipeline.plan_event(event, self.config)
            if rt is None:
                planned = [{"notifier": n, "status": str(Status.PLANNED), "detail": ""} for n in plan.notify]
                out.append((line(item.label, plan, plan.actions, planned), False))
                continue
            result = runner.execute(plan, self.config, rt.ports, rt.notifiers, now=datetime.now(UTC))
            failed = any(o.status is Status.FAILED for o in (*result.actions, *result.notifications))
            out.append(
                (line(item.label, plan, result.actions, [o.as_notify_dict() for o in result.notifications]), failed)
            )
        return out


# --- riposte flowlogs ----------------------------------------------------------------------------------------


def add_parsers(commands: Any, common_parent: argparse.ArgumentParser | None = None) -> None:
    """Add ``flowlogs`` to ``riposte``'s subparsers (``common_parent``: options every command shares, such as
    ``--config``; without one, ``--config`` is added here)."""
    parents = [common_parent] if common_parent is not None else [_config_parent()]
    parser = commands.add_parser(
        "flowlogs", parents=parents, help="show what the flow-log parser makes of CloudWatch Logs payload files"
    )
    parser.add_argument(
        "--format",
        metavar="FORMAT",
        help="the flow log's format string, e.g. '${version} ${account-id} ...' (default: flowlogs.log_format)",
    )
    parser.add_argument(
        "paths", metavar="PATH", nargs="+", help="payload file, directory (read recursively), or - for standard input"
    )


def _config_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="FILE", help=f"TOML configuration (default: ./{DEFAULT_CONFIG} if present)")
    return parent


def _config(path: str | None) -> cfg.Config:
    if path:
        return setup.load(path)
    if Path(DEFAULT_CONFIG).exists():
        return setup.load(DEFAULT_CONFIG)
    return setup.check(cfg.Config())


def _format(args: argparse.Namespace) -> FlowFormat:
    if args.format is not None:
        try:
            return parse_format(args.format)
        except ValueError as error:
            raise cfg.ConfigError(f"--format: {str(error).removeprefix('flow log format: ')}") from None
    return source.flow_format(_config(getattr(args, "config", None)))


def records(raw: Any, label: str, fmt: FlowFormat) -> list[dict[str, Any]]:
    """What ``riposte flowlogs`` prints for one input (``InputError`` when it is not a payload)."""
    logs = payload(raw)
    if logs.message_type == CONTROL_MESSAGE:
        return []
    out: list[dict[str, Any]] = []
    for index, message in enumerate(logs.messages):
        found = decode(message, fmt)
        if isinstance(found, Skipped):
            out.append({"input": f"{label}#{index}", "skipped": found.reason, "message": message})
        else:
            out.append(found)
    if logs.malformed:
        out.append({"input": label, "skipped": f"{logs.malformed} log events without a string message"})
    return out


def run(args: argparse.Namespace) -> int:
    """``riposte flowlogs``: one JSON object per record (or skipped line) on stdout."""
    try:
        fmt = _format(args)
    except cfg.ConfigError as error:
        print(f"riposte: {error}", file=sys.stderr)
        return EXIT_REJECTED
    rejected = False
    try:
        for item in inputs.read(args.paths):
            if item.error is not None:
                lines = [{"input": item.label, "error": item.error}]
            else:
                try:
                    lines = records(item.raw, item.label, fmt)
                except InputError as error:
                    lines = [{"input": item.label, "error": str(error)}]
            rejected |= any("error" in line for line in lines)
            for line in lines:
                print(json.dumps(line), flush=True)
    except BrokenPipeError:
        return 128 + 13  # SIGPIPE, as `riposte score` does
    return EXIT_REJECTED if rejected else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (``python -m riposte.commands.flowlogs``), the same command as ``riposte``'s."""
    parser = argparse.ArgumentParser(prog="riposte", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
