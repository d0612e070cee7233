"""inputs: what a file holds is decided by its content, events are streamed in bounded memory, and every problem
becomes one item with an error (never an exception, never silence, never a hang)."""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riposte import inputs
from riposte.inputs import Item
from tests.conftest import GUARDDUTY

EVENT: dict[str, Any] = json.loads((GUARDDUTY / "bitcoin_outbound.json").read_text())
PRETTY = json.dumps(EVENT, indent=2)
COMPACT = json.dumps(EVENT)
HUGE_INT = "1" + "0" * 5000  # 10**5000 written out: beyond Python's default 4300-digit limit


def read(*paths: Path | str) -> list[Item]:
    return list(inputs.read([str(p) for p in paths]))


def summary(items: list[Item], root: Path) -> list[tuple[str, str]]:
    """(label relative to root, "ok" or the error) for each item."""
    return [(Path(i.label).relative_to(root).as_posix(), i.error or "ok") for i in items]


def stream(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]


def from_stream(data: bytes, *, lines: bool = False) -> list[Item]:
    return list(inputs.read_stream(stream(data), "in", lines=lines))


# --- what a file holds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [PRETTY, PRETTY + "\n", COMPACT, COMPACT + "\n", "\n\n  " + COMPACT + "\n\n"])
def test_one_event_is_labelled_by_its_path(tmp_path: Path, text: str) -> None:
    path = tmp_path / "e.json"
    path.write_text(text)
    assert read(path) == [Item(str(path), EVENT)]


def test_json_lines_are_recognized_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(f'{COMPACT}\n\n{COMPACT}\r\n{{"n": 3}}')
    assert read(path) == [Item(f"{path}#0", EVENT), Item(f"{path}#1", EVENT), Item(f"{path}#2", {"n": 3})]


def test_json_lines_by_name_report_each_bad_line_and_go_on(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_text(f'not json\n{COMPACT}\n{{"a": [}}\n\n{{"n": 4}}\n')
    items = read(path)
    assert [i.label for i in items] == [f"{path}#{n}" for n in range(4)]
    assert items[0].error is not None
    assert items[0].error.startswith("line 1: not valid JSON: Expecting value")
    assert items[1] == Item(f"{path}#1", EVENT)
    assert items[2].error is not None
    assert items[2].error.startswith("line 3: not valid JSON")
    assert items[3] == Item(f"{path}#3", {"n": 4})  # line 5: blank lines are skipped, not counted as events


def test_a_one_line_file_is_one_document_even_when_named_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(COMPACT + "\n")
    assert read(path) == [Item(str(path), EVENT)]


@pytest.mark.parametrize("cut", [1, 2, 100, len(PRETTY) // 2, len(PRETTY) - 1])
def test_a_truncated_pretty_printed_event_is_one_error(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "e.json"
    path.write_text(PRETTY[:cut])
    (item,) = read(path)
    assert item.label == str(path)
    assert item.error is not None
    assert item.error.startswith("not valid JSON: ")


def test_a_truncated_array_yields_the_whole_events_then_one_error(tmp_path: Path) -> None:
    text = json.dumps([EVENT, EVENT, EVENT], indent=2)
    path = tmp_path / "e.json"
    path.write_text(text[: len(text) - 200])
    items = read(path)
    assert [i.raw for i in items[:2]] == [EVENT, EVENT]
    assert items[2].label == f"{path}#2"
    assert items[2].error is not None
    assert items[2].error.startswith("not valid JSON: ")
    assert len(items) == 3


def test_get_findings_output_is_streamed_and_other_members_are_ignored(tmp_path: Path) -> None:
    findings = [{"n": 1}, {"n": 2}]
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"Findings": findings, "NextToken": "t", "Other": [1]}, indent=2))
    later = tmp_path / "later.json"
    later.write_text(json.dumps({"NextToken": "t", "Findings": findings}, indent=2))
    many = tmp_path / "many.json"  # not first and beside two other keys: one event, as before
    many.write_text(json.dumps({"A": 1, "B": 2, "Findings": findings}, indent=2))
    assert [(i.label.rsplit("/", 1)[1], i.raw) for i in read(first, later, many)] == [
        ("first.json#0", {"n": 1}),
        ("first.json#1", {"n": 2}),
        ("later.json#0", {"n": 1}),
        ("later.json#1", {"n": 2}),
        ("many.json", {"A": 1, "B": 2, "Findings": findings}),
    ]


@pytest.mark.parametrize(
    ("text", "label", "error"),
    [
        ("", "in", "not valid JSON: the input is empty"),
        (" \n\t\n", "in", "not valid JSON: the input is empty"),
        ("[1, 2] x", "in", "not valid JSON: Extra data: line 1 column 8 (char 7)"),
        ('{"a": 1}\n\n{"b": ', "in#1", "line 3: not valid JSON: Expecting value: line 1 column 7 (char 6)"),
        ("[1,\n 2,\n ]", "in#2", "not valid JSON: Expecting value: line 3 column 2 (char 9)"),
        ("[1 2]", "in#1", "not valid JSON: Expecting ',' delimiter: line 1 column 4 (char 3)"),
        ('{"Findings": [1] "x"}', "in", "not valid JSON: Expecting ',' delimiter: line 1 column 18 (char 17)"),
        ('{\n "a": tru\n}', "in", "not valid JSON: Expecting value: line 2 column 7 (char 8)"),
    ],
)
def test_errors_name_the_place_counted_from_the_start(text: str, label: str, error: str) -> None:
    assert from_stream(text.encode())[-1] == Item(label, error=error)


# --- inputs that used to crash the run ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 100_000, "[" * 100_000 + "]" * 100_000])
def test_deep_nesting_is_one_error(text: str) -> None:
    (item,) = from_stream(text.encode())
    assert item.error is not None
    assert "nested too deeply" in item.error


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        (f'{{"count": {HUGE_INT}}}', ["in"]),
        (f"[{COMPACT}, {HUGE_INT}, {COMPACT}]", ["in#0", "in#1"]),
        (f'{COMPACT}\n{{"n": {HUGE_INT}}}\n{COMPACT}\n', ["in#0", "in#1", "in#2"]),
    ],
)
def test_an_integer_beyond_the_digit_limit_is_one_error(text: str, labels: list[str]) -> None:
    items = from_stream(text.encode())
    assert [i.label for i in items] == labels
    (bad,) = [i for i in items if i.error]
    assert bad.error is not None
    assert "a number with more than 4300 digits" in bad.error
    assert all(i.raw == EVENT for i in items if not i.error)


def test_deep_nesting_on_one_json_line_spares_the_other_lines() -> None:
    items = from_stream(f"{COMPACT}\n{'[' * 100_000}\n{COMPACT}\n".encode())
    assert [(i.label, i.raw == EVENT) for i in items] == [("in#0", True), ("in#1", False), ("in#2", True)]
    assert items[1].error is not None
    assert items[1].error.startswith("line 2: not valid JSON: nested too deeply")


# --- bounds ------------------------------------------------------------------------------------------------


def test_an_event_of_exactly_the_limit_is_read_and_one_character_more_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inputs, "MAX_EVENT_CHARS", 40)
    fits = '{"a": "' + "x" * 31 + '"}'
    over = '{"a": "' + "x" * 32 + '"}'
    assert (len(fits), len(over)) == (40, 41)
    lines = from_stream(f"{fits}\n{over}\n{fits}\n".encode())
    assert [(i.label, i.error) for i in lines] == [
        ("in#0", None),
        ("in#1", "line 2: longer than 40 characters"),
        ("in#2", None),
    ]
    assert from_stream(f"[{fits}]".encode()) == [Item("in#0", json.loads(fits))]
    (ok, too_long) = from_stream(f"[{fits}, {over}, {fits}]".encode())
    assert ok == Item("in#0", json.loads(fits))
    assert too_long.label == "in#1"
    assert too_long.error is not None
    assert "longer than 40 characters" in too_long.error


def test_a_value_cut_short_at_the_limit_is_refused_without_reading_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_EVENT_CHARS", 40)
    monkeypatch.setattr(inputs, "CHUNK_BYTES", 8)
    chunks = ChunkCounter(b'[{"a": "' + b"x" * 10_000 + b'"}]', size=8)
    items = list(inputs.read_stream(io.BufferedReader(chunks, buffer_size=8), "in"))
    assert [(i.label, (i.error or "").split(" (")[0]) for i in items] == [
        ("in#0", "not valid JSON: no complete value within 40 characters")
    ]
    assert chunks.read_bytes < 200  # refused once past the limit, not after slurping the rest


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(JSON_VALUES, max_size=6), chunk=st.integers(1, 40), indent=st.sampled_from([None, 1]))
def test_arrays_decode_the_same_across_every_chunk_boundary(values: list[Any], chunk: int, indent: int | None) -> None:
    data = json.dumps(values, indent=indent, ensure_ascii=False).encode()
    with mock.patch.object(inputs, "CHUNK_BYTES", chunk):
        items = list(inputs.read_stream(io.BufferedReader(ChunkCounter(data, size=chunk), buffer_size=chunk), "in"))
    assert items == [Item(f"in#{n}", v) for n, v in enumerate(values)]


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=4), min_size=2, max_size=6),
    chunk=st.integers(1, 40),
    findings=st.booleans(),
)
def test_json_lines_and_findings_decode_the_same_across_every_chunk_boundary(
    values: list[dict[str, Any]], chunk: int, findings: bool
) -> None:
    text = json.dumps({"Findings": values}, indent=1) if findings else "\n".join(json.dumps(v) for v in values)
    data = text.encode()
    with mock.patch.object(inputs, "CHUNK_BYTES", chunk):
        items = list(inputs.read_stream(io.BufferedReader(ChunkCounter(data, size=chunk), buffer_size=chunk), "in"))
    assert items == [Item(f"in#{n}", v) for n, v in enumerate(values)]


# --- streaming ---------------------------------------------------------------------------------------------


class ChunkCounter(io.RawIOBase):
    """A raw stream over ``data`` handing out at most ``size`` bytes a read, counting what was read."""

    def __init__(self, data: bytes | Iterator[bytes], size: int = 1 << 16) -> None:
        self.blocks = iter([data]) if isinstance(data, bytes) else data
        self.pending = b""
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            self.pending = next(self.blocks, b"")
            if not self.pending:
                return 0
        n = min(len(buffer), self.size, len(self.pending))
        buffer[:n], self.pending = self.pending[:n], self.pending[n:]
        self.read_bytes += n
        return n


def generated(count: int, *, lines: bool) -> Iterator[bytes]:
    """``count`` events as a JSON array or JSON lines, produced on demand, never held whole."""
    event = COMPACT.encode()
    if lines:
        for _ in range(count):
            yield event + b"\n"
        return
    yield b"["
    for n in range(count):
        yield (b"," if n else b"") + event
    yield b"]"


@pytest.mark.parametrize("lines", [False, True])
def test_the_first_event_comes_out_before_the_input_is_read(lines: bool) -> None:
    source = ChunkCounter(generated(20_000, lines=lines))  # about 45 MB
    items = inputs.read_stream(io.BufferedReader(source), "in")
    assert next(items) == Item("in#0", EVENT)
    assert source.read_bytes < 3 * inputs.CHUNK_BYTES


@pytest.mark.parametrize("lines", [False, True])
def test_memory_stays_bounded_by_one_event_not_by_the_input(lines: bool) -> None:
    count = 4000  # about 9 MB of JSON: decoded whole, it would take several times that
    source = ChunkCounter(generated(count, lines=lines))
    tracemalloc.start()
    try:
        seen = sum(1 for item in inputs.read_stream(io.BufferedReader(source), "in") if item.raw == EVENT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert source.read_bytes == count * (len(COMPACT) + 1) + (1 if not lines else 0)
    assert peak < 2_000_000, peak


def test_events_from_a_pipe_come_out_as_they_arrive() -> None:
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as reader, open(write_end, "wb", buffering=0) as writer:
        items = inputs.read_stream(reader, "pipe")
        writer.write(f"[{COMPACT},".encode())  # the second event has not been written yet
        assert next_within(items, seconds=10) == Item("pipe#0", EVENT)
        writer.write(f"{COMPACT}]".encode())
        writer.close()
        assert list(items) == [Item("pipe#1", EVENT)]


def next_within(items: Iterator[Item], seconds: float) -> Item:
    found: list[Item] = []
    worker = threading.Thread(target=lambda: found.append(next(items)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert found, f"no event within {seconds}s: the reader waits for the whole input"
    return found[0]


# --- gzip and encodings --------------------------------------------------------------------------------------


def test_gzip_is_recognized_by_content_and_streamed(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl.gz"
    lines.write_bytes(gzip.compress(f"{COMPACT}\n{COMPACT}\n".encode()))
    unnamed = tmp_path / "one"  # named on the command line: read whatever its name
    unnamed.write_bytes(gzip.compress(PRETTY.encode()))
    members = tmp_path / "members.gz"  # `cat a.gz b.gz` is a valid gzip file
    members.write_bytes(gzip.compress(f"{COMPACT}\n".encode()) + gzip.compress(f"{COMPACT}\n".encode()))
    assert summary(read(lines, unnamed, members), tmp_path) == [
        ("events.jsonl.gz#0", "ok"),
        ("events.jsonl.gz#1", "ok"),
        ("one", "ok"),
        ("members.gz#0", "ok"),
        ("members.gz#1", "ok"),
    ]


def test_truncated_gzip_yields_what_was_whole_then_one_error(tmp_path: Path) -> None:
    data = gzip.compress("".join(f"{COMPACT}\n" for _ in range(200)).encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    items = read(path)
    assert all(i.raw == EVENT for i in items[:-1])
    assert len(items) > 2
    assert items[-1].error == "cannot read: gzip data is truncated"
    assert items[-1].label == f"{path}#{len(items) - 1}"


def test_bytes_that_are_not_utf8_end_the_input_at_the_event_that_holds_them() -> None:
    data = f"{COMPACT}\n{COMPACT}\n".encode() + b'{"a": "\xff"}\n' + f"{COMPACT}\n".encode()
    items = from_stream(data)
    assert [i.label for i in items] == ["in#0", "in#1", "in#2"]
    assert items[2].error == f"not UTF-8: invalid start byte at byte {2 * (len(COMPACT) + 1) + 7}"


def test_a_byte_order_mark_is_accepted() -> None:
    assert from_stream(b"\xef\xbb\xbf" + PRETTY.encode()) == [Item("in", EVENT)]


# --- paths ---------------------------------------------------------------------------------------------------


def test_directories_are_walked_depth_first_in_name_order(tmp_path: Path) -> None:
    for name in ("b.json", "a/x.json", "a.json", "a.jsonl", "a/b/y.ndjson", "c/.hidden/z.json", "c/w.gz", ".h.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(gzip.compress(b"{}") if name.endswith(".gz") else b"{}")
    (tmp_path / "notes.md").write_text("not an event")
    expected = ["a/b/y.ndjson", "a/x.json", "a.json", "a.jsonl", "b.json", "c/w.gz"]
    assert expected == sorted(expected, key=lambda p: Path(p).parts)  # what sorting the paths did before
    assert summary(read(tmp_path), tmp_path) == [(p, "ok") for p in expected]


def test_a_directory_without_event_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "README.md").write_text("x")
    (tmp_path / "other" / ".hidden.json").write_text("{}")
    (tmp_path / "other" / "sub").mkdir()
    error = "no event files (*.json, *.jsonl, *.ndjson, *.gz) in this directory"
    assert read(tmp_path / "empty", tmp_path / "other") == [
        Item(str(tmp_path / "empty"), error=error),
        Item(str(tmp_path / "other"), error=error),
    ]


def refuse(monkeypatch: pytest.MonkeyPatch, name: str, target: Path) -> None:
    """Make ``os.<name>`` fail on ``target`` as an unreadable path would (the tests run as root, whom file
    modes do not stop)."""
    real = getattr(os, name)

    def fake(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, fake)


def test_an_unreadable_directory_is_an_error_and_its_siblings_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a/x.json", "b/y.json", "c/z.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    refuse(monkeypatch, "scandir", tmp_path / "b")
    assert summary(read(tmp_path), tmp_path) == [
        ("a/x.json", "ok"),
        ("b", "cannot read directory: Permission denied"),
        ("c/z.json", "ok"),
    ]
    assert read(tmp_path / "b") == [Item(str(tmp_path / "b"), error="cannot read directory: Permission denied")]


def test_an_unreadable_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.json").write_text("{}")
    refuse(monkeypatch, "open", tmp_path / "a.json")
    assert summary(read(tmp_path), tmp_path) == [("a.json", "cannot read: Permission denied"), ("b.json", "ok")]


@pytest.mark.skipif(os.geteuid() == 0, reason="file modes do not stop root; the monkeypatched tests cover it")
def test_unreadable_by_mode(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir(mode=0)
    (tmp_path / "f.json").write_text("{}")
    (tmp_path / "f.json").chmod(0)
    assert summary(read(tmp_path / "d", tmp_path / "f.json"), tmp_path) == [
        ("d", "cannot read directory: Permission denied"),
        ("f.json", "cannot read: Permission denied"),
    ]


def test_what_is_not_a_regular_file_is_reported_not_opened(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "s.json"))
    try:
        (tmp_path / "gone.json").symlink_to(tmp_path / "nowhere.json")
        items = read(tmp_path, "/dev/null", tmp_path / "s.json", tmp_path / "missing.json")
    finally:
        server.close()
    assert [(i.label, i.error) for i in items] == [
        (str(tmp_path / "gone.json"), "cannot read: No such file or directory"),
        (str(tmp_path / "s.json"), "not a regular file (a socket): not read"),
        ("/dev/null", "not a regular file (a character device): not read"),
        (str(tmp_path / "s.json"), "not a regular file (a socket): not read"),
        (str(tmp_path / "missing.json"), "no such file or directory"),
    ]


def test_a_symlinked_directory_is_not_followed_but_a_symlinked_file_is(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "e.json").write_text("{}")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "loop").symlink_to(tmp_path / "tree")
    (tmp_path / "tree" / "link.json").symlink_to(tmp_path / "real" / "e.json")
    assert summary(read(tmp_path / "tree"), tmp_path) == [("tree/link.json", "ok")]
