"""``riposte blocks``, ``riposte unblock IP`` and ``riposte expire``: Riposte's blocks, seen and undone by a person.

They read the block records in the state table (``--table NAME``, or ``RIPOSTE_TABLE``) and the live NACLs and
WAF IP sets of the configuration (``--config``), with boto3's ordinary configuration: a profile, a region, and
``AWS_ENDPOINT_URL`` for a local endpoint.

- ``blocks``: every block Riposte recorded (why, when, until when, where, which rule); ``--json`` prints one
  object per block per line.
- ``unblock IP``: removes every block of that address (or CIDR) that Riposte owns, verified by reading back,
  audited; an entry someone else made is never touched. A person's explicit request: it acts whatever the
  configured mode, unless ``--dry-run``.
- ``expire``: one run of the scheduled expiry and reconciliation (``--now`` to pretend it is later); honours the
  configured mode, and ``--dry-run``.

``unblock`` and ``expire`` print their report as one JSON object. Exit status: 0 done; 1 something failed (or
``unblock`` found no block of that address); 2 a bad command line, configuration or missing table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from riposte.core import config as cfg
from riposte.core.ports import BlockRecord, is_waf_container
from riposte.engine import maintenance, setup
from riposte.handlers import environment

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_CONFIG = "riposte.toml"
COMMANDS = ("blocks", "unblock", "expire")


class UsageError(Exception):
    """A bad argument, configuration or missing table: exit status 2, the message on stderr."""


def add_parsers(subparsers: Any, common_parent: argparse.ArgumentParser | None = None) -> None:
    """Add ``blocks``, ``unblock`` and ``expire`` to ``riposte``'s subparsers. ``common_parent`` carries the
    options every command shares (``--config``); without one, ``--config`` is added here."""
    parents = [common_parent] if common_parent is not None else [_config_parent()]
    table = argparse.ArgumentParser(add_help=False)
    table.add_argument(
        "--table",
        metavar="NAME",
        default=os.environ.get(environment.TABLE),
        help=f"the deployed state table holding the block records (default: ${environment.TABLE})",
    )
    listing = subparsers.add_parser("blocks", parents=[*parents, table], help="list Riposte's blocks")
    listing.add_argument("--json", action="store_true", help="one JSON object per block per line")
    unblock = subparsers.add_parser(
        "unblock", parents=[*parents, table], help="remove every block of an address that Riposte owns"
    )
    unblock.add_argument("address", metavar="IP", help="an address (or CIDR) Riposte blocked")
    unblock.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    expire = subparsers.add_parser(
        "expire", parents=[*parents, table], help="run expiry and reconciliation once (what the schedule runs)"
    )
    expire.add_argument("--now", metavar="ISO8601", help="the time to expire at (default: now), e.g. 2026-12-01T00:00Z")
    expire.add_argument("--dry-run", action="store_true", help="plan and report only; change nothing")


def _config_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="FILE", help=f"TOML configuration (default: ./{DEFAULT_CONFIG} if present)")
    return parent


def run(args: argparse.Namespace) -> int:
    """Carry out ``args.command`` (one of ``COMMANDS``)."""
    try:
        config = _config(getattr(args, "config", None))
        if not args.table:
            raise UsageError(
                f"--table NAME (or ${environment.TABLE}) is required: block records live in the state table"
            )
        if args.command == "unblock":
            _check_address(args.address)  # a typo fails before any AWS call
        now = _now(getattr(args, "now", None))
    except (UsageError, cfg.ConfigError) as error:
        print(f"riposte: {error}", file=sys.stderr)
        return EXIT_USAGE
    targets = _targets(config, args.table)
    if args.command == "blocks":
        return _list(targets, now, as_json=args.json)
    if args.command == "unblock":
        return _unblock(targets, args.address, now, dry_run=args.dry_run)
    report = maintenance.run(
        targets,
        maintenance.expiry_planner(now, config.nacl.rule_range),
        now=now,
        dry_run=config.dry_run or args.dry_run,
        audit_time=datetime.now(UTC),
    )
    print(json.dumps(report.as_dict()), flush=True)
    return EXIT_OK if report.ok else EXIT_FAILED


def _config(path: str | None) -> cfg.Config:
    if path:
        return setup.load(path)
    if Path(DEFAULT_CONFIG).exists():
        return setup.load(DEFAULT_CONFIG)
    return setup.check(cfg.Config())


def _check_address(address: str) -> None:
    try:
        maintenance.network_of(address)
    except ValueError as error:
        raise UsageError(f"{address!r} is not an IP address or CIDR: {error}") from None


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now {text!r} is not an ISO 8601 time, e.g. 2026-12-01T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _targets(config: cfg.Config, table: str) -> maintenance.Targets:
    import boto3

    from riposte.runtime import build

    session = boto3.session.Session()
    rt = build(config, table_name=table, session=session)
    # Until the runtime's ports carry the WAF port, build it here from the same configuration.
    waf = rt.ports.waf
    return maintenance.Targets(nacl=rt.ports.nacl, state=rt.ports.state, waf=waf)


def block_line(record: BlockRecord, now: datetime) -> dict[str, Any]:
    """One block as ``riposte blocks --json`` prints it (a contract: fields are added, never renamed)."""
    expires = maintenance.parse_time(record.expires_at)
    return {
        "address": record.cidr,
        "container": record.acl_id,
        "kind": "waf" if is_waf_container(record.acl_id) else "nacl",
        "rule_number": record.rule_number,
        "direction": "egress" if record.egress else "ingress",
        "status": record.status,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "expired": expires is not None and expires <= now,
        "event_id": record.event_id,
        "reason": record.reason,
        "score": record.score,
        "offences": record.offences,
    }


def _remaining(expires_at: str, now: datetime) -> str:
    expires = maintenance.parse_time(expires_at)
    if expires is None:
        return "?"
    seconds = int((expires - now).total_seconds())
    if seconds <= 0:
        return "expired"
    hours, minutes = divmod(seconds // 60, 60)
    return f"in {hours // 24}d{hours % 24}h" if hours >= 24 else f"in {hours}h{minutes:02d}m"


def _list(targets: maintenance.Targets, now: datetime, *, as_json: bool) -> int:
    records = sorted(targets.state.list_blocks(targets.containers()), key=lambda r: (r.expires_at, r.acl_id, r.cidr))
    if as_json:
        for record in records:
            print(json.dumps(block_line(record, now)), flush=True)
        return EXIT_OK
    if not records:
        print("no blocks recorded")
        return EXIT_OK
    rows = [("ADDRESS", "WHERE", "RULE", "DIR", "STATUS", "SINCE", "EXPIRES", "EVENT", "WHY")]
    for r in records:
        rule = "-" if is_waf_container(r.acl_id) else str(r.rule_number)
        expires = f"{r.expires_at} ({_remaining(r.expires_at, now)})"
        direction = "out" if r.egress else "in"
        rows.append((r.cidr, r.acl_id, rule, direction, r.status, r.created_at, expires, r.event_id, r.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return EXIT_OK


def _unblock(targets: maintenance.Targets, address: str, now: datetime, *, dry_run: bool) -> int:
    report = maintenance.run(
        targets, maintenance.unblock_planner(address), now=now, dry_run=dry_run, audit_time=datetime.now(UTC)
    )
    print(json.dumps(report.as_dict()), flush=True)
    if not report.applied and report.ok and not report.skipped:
        print(f"riposte: no block of {address} is recorded by Riposte (nothing removed)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if report.ok and not report.skipped else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (``python -m riposte.commands.blocks``), the same commands as ``riposte``'s."""
    parser = argparse.ArgumentParser(prog="riposte", description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_parsers(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
