"""Read events for the CLI: files or directories (recursive, sorted; in a directory only ``.json``, ``.jsonl``,
``.ndjson`` and ``.gz`` files), each holding one JSON event, a JSON array, JSON lines, or GuardDuty's
``get-findings`` output (``{"Findings": [...]}``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Item:
    label: str  # "<path>" or "<path>#<index>"
    raw: Any = None
    error: str | None = None


# In a directory, only files that can hold events are read (samples keep their expectations, READMEs and
# the like beside them); a file named on the command line is always read.
EVENT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in EVENT_SUFFIXES):
            if not any(part.startswith(".") for part in child.relative_to(path).parts):
                yield child
    else:
        yield path


def _items(path: Path) -> Iterator[Item]:
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        yield Item(label, error=f"cannot read: {error}")
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as whole_error:
        lines = [(n, line) for n, line in enumerate(text.splitlines()) if line.strip()]
        if len(lines) < 2:
            yield Item(label, error=f"not valid JSON: {whole_error}")
            return
        for index, (number, line) in enumerate(lines):
            try:
                yield Item(f"{label}#{index}", json.loads(line))
            except json.JSONDecodeError as error:
                yield Item(f"{label}#{index}", error=f"line {number + 1}: not valid JSON: {error}")
        return
    if isinstance(data, dict) and isinstance(data.get("Findings"), list) and len(data) <= 2:
        data = data["Findings"]  # `aws guardduty get-findings` output
    if isinstance(data, list):
        for index, raw in enumerate(data):
            yield Item(f"{label}#{index}", raw)
    else:
        yield Item(label, data)


def read(paths: list[str]) -> Iterator[Item]:
    for name in paths:
        path = Path(name)
        if not path.exists():
            yield Item(name, error="no such file or directory")
            continue
        for file in _files(path):
            yield from _items(file)
