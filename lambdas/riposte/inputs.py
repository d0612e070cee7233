"""Read events for the CLI, streamed: memory stays bounded by the largest single event, whatever the input's size.

Each PATH is a file, a directory or ``-`` (standard input). A directory is read recursively in name order,
hidden files and directories (and CloudTrail's ``CloudTrail-Digest`` folders) skipped, and only files named
``*.json``, ``*.jsonl``, ``*.ndjson`` or ``*.gz`` (``EVENT_SUFFIXES``); a file named on the command line is always
read. Only regular files are opened: a FIFO, a device or a socket is reported, never read (reading one could
block forever). Gzip is recognized by its magic number and decompressed as it is read. What a file holds is
decided by its content:

- JSON lines, when the name ends ``.jsonl``/``.ndjson`` (optionally ``.gz``), or when the first line is a
  complete JSON object and more lines follow: one event per line, a bad line reported on its own;
- a JSON array of events: elements are decoded one at a time;
- ``get-findings`` output or a CloudTrail log file, an object whose first key is ``"Findings"`` (``"findings"``
  from the REST API) or ``"Records"`` (the whole file): its elements likewise;
- otherwise one JSON event (an object holding such a list beside at most one other key, such as ``NextToken``,
  counts too).

A file that stops being valid part-way (truncated, a syntax error) yields the events before that point and then
one error for the rest of the file: without a valid structure there is no telling where the next event starts.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Item:
    label: str  # "<path>" or "<path>#<index>"
    raw: Any = None
    error: str | None = None


# In a directory, only files that can hold events are read (samples keep their expectations, READMEs and
# the like beside them); a file named on the command line is always read.
EVENT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")
# CloudTrail writes its digest files (hashes, no events) beside the logs, in folders of this name.
DIGESTS = "CloudTrail-Digest"
LINES_SUFFIXES = (".jsonl", ".ndjson")
STDIN = "-"
# One event larger than this is refused: EventBridge caps events at 256 KB, GuardDuty findings are a few KB.
# It bounds the memory a single event (or a JSON line, or a file's first line while detecting JSON lines) takes.
MAX_EVENT_CHARS: Final = 8 << 20
CHUNK_BYTES: Final = 1 << 16

_GZIP_MAGIC = b"\x1f\x8b"
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's own whitespace, nothing more
# The lists a file may hold events in: GetFindings output (CLI "Findings", REST API "findings") and CloudTrail's
# log files in S3 ("Records").
CONTAINERS = ("Findings", "findings", "Records")
_FINDINGS_FIRST = re.compile(r'\{[ \t\n\r]*"(?:Findings|findings|Records)"[ \t\n\r]*:[ \t\n\r]*\[')
_STRUCTURAL = re.compile(r"[\[\]{},]")  # once one follows the opening brace, _FINDINGS_FIRST can decide
_FINDINGS_PROBE = 4096  # characters: `{ "Findings": [` through any sane whitespace
_DECODER = json.JSONDecoder()
# More than the longest JSON token that can be cut short and still look like an error or a shorter token
# ("-Infinity", a "\uXXXX" escape, an exponent): characters to read past such a point before believing it.
_LOOKAHEAD = 32
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


class _Unreadable(Exception):
    """The bytes cannot be read or decoded (I/O, gzip, UTF-8); ends the input."""


class _Invalid(Exception):
    """The text is not valid JSON from here on; ends the input."""


def read(paths: Iterable[str]) -> Iterator[Item]:
    """Every event in ``paths``, in order, each as soon as it has been read; problems as items with ``error``."""
    for name in paths:
        if name == STDIN:
            yield from _stdin()
        else:
            yield from _path(Path(name), name)


def read_stream(stream: io.BufferedReader, label: str, *, lines: bool = False) -> Iterator[Item]:
    """The events in an open binary stream (gzip or not), decoded as they arrive. ``lines``: JSON lines
    whatever the content looks like."""
    head = stream.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)]
    binary: io.BufferedIOBase = gzip.GzipFile(fileobj=stream, mode="rb") if head == _GZIP_MAGIC else stream
    yield from _Parser(label, _Window(_Source(binary)), lines=lines).items()


def _stdin() -> Iterator[Item]:
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        yield Item(STDIN, error="cannot read: no standard input")
        return
    # Read fd 0 directly, without Python's text layer: each event is handled as soon as its bytes arrive.
    with open(fd, "rb", closefd=False) as stream:
        yield from read_stream(stream, STDIN)


def _path(path: Path, name: str) -> Iterator[Item]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        yield Item(name, error="no such file or directory")
        return
    except OSError as error:
        yield Item(str(path), error=f"cannot read: {error.strerror or error}")
        return
    if stat.S_ISDIR(mode):
        yield from _directory(path)
    elif stat.S_ISREG(mode):
        yield from _file(path)
    else:
        yield Item(str(path), error=_not_regular(mode))


def _not_regular(mode: int) -> str:
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "of an unknown kind")
    hint = "; to read a pipe, give - and redirect it to standard input" if stat.S_ISFIFO(mode) else ""
    return f"not a regular file ({kind}): not read{hint}"


def _is_lines(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith(LINES_SUFFIXES)


def _file(path: Path) -> Iterator[Item]:
    label = str(path)
    try:
        # O_NONBLOCK: should a FIFO have replaced the file since stat(), opening it still returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        yield Item(label, error=f"cannot read: {error.strerror or error}")
        return
    with open(fd, "rb") as stream:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            yield Item(label, error=_not_regular(mode))
            return
        os.set_blocking(fd, True)
        yield from read_stream(stream, label, lines=_is_lines(path))


def _directory(root: Path) -> Iterator[Item]:
    produced = False
    for found in _walk(root):
        produced = True
        yield from _file(found) if isinstance(found, Path) else [found]
    if not produced:
        suffixes = ", ".join(f"*{s}" for s in EVENT_SUFFIXES)
        yield Item(str(root), error=f"no event files ({suffixes}) in this directory")


def _walk(root: Path) -> Iterator[Path | Item]:
    """Event files below ``root`` and problems met on the way, depth-first in name order (as sorting the paths
    part by part would); an explicit stack, so no directory depth can exhaust the recursion limit."""
    stack: list[Iterator[os.DirEntry[str]]] = []
    yield from _enter(root, stack)
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif not entry.name.startswith(".") and entry.name != DIGESTS:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    yield from _enter(path, stack)
                    continue
                if not entry.name.endswith(EVENT_SUFFIXES):
                    continue
                mode = entry.stat().st_mode  # follows a symlink to a file
            except OSError as error:
                yield Item(str(path), error=f"cannot read: {error.strerror or error}")
                continue
            if stat.S_ISREG(mode):
                yield path
            elif not stat.S_ISDIR(mode):  # a symlink to a directory is not followed (no loops), as before
                yield Item(str(path), error=_not_regular(mode))


def _enter(directory: Path, stack: list[Iterator[os.DirEntry[str]]]) -> Iterator[Item]:
    """Push the directory's entries, sorted by name, or yield why it cannot be listed."""
    try:
        with os.scandir(directory) as entries:
            stack.append(iter(sorted(entries, key=lambda e: e.name)))
    except OSError as error:
        yield Item(str(directory), error=f"cannot read directory: {error.strerror or error}")


class _Source:
    """UTF-8 text (a leading BOM dropped) from a binary stream, one read of at most ``CHUNK_BYTES`` at a time,
    each handed on as soon as it arrives."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._offset = 0  # bytes read so far
        self._failure: _Unreadable | None = None
        self.drained = False  # the last read got less than it asked for: nothing more was ready (a pipe)

    def read(self) -> str | None:
        """The next text (possibly empty), or None at the end of the stream."""
        if self._failure is not None:
            raise self._failure
        try:
            block = self._stream.read1(CHUNK_BYTES)
        except EOFError:
            raise _Unreadable("cannot read: gzip data is truncated") from None
        except (OSError, zlib.error) as error:
            raise _Unreadable(f"cannot read: {getattr(error, 'strerror', None) or error}") from None
        self.drained = len(block) < CHUNK_BYTES
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            # Hand on the valid text before the bad byte first, so the error lands on the event that holds it.
            at = self._offset - pending + error.start
            self._failure = _Unreadable(f"not UTF-8: {error.reason} at byte {at}")
            return error.object[: error.start].decode("utf-8", errors="ignore").removeprefix("\ufeff")
        self._offset += len(block)
        return text if block else None


class _Window:
    """The unread text of a stream, ``text[pos:]``: refilled from the chunks when a decoder needs more, and
    trimmed of what was read before each refill, so it holds about one event at a time."""

    def __init__(self, source: _Source) -> None:
        self.text = ""
        self.pos = 0
        self.eof = False
        self._source = source
        self._line = 1  # line of text[0]
        self._column = 0  # characters between the last newline before text[0] and text[0]
        self._char = 0  # characters before text[0]
        self._counted = (0, 1)  # (pos, line at pos): where line() last counted to

    def more(self) -> bool:
        """Append one read's text; False at the end of the input. One read only: on a pipe, waiting for more
        than the writer has sent could hold back an event that is already whole."""
        self._trim()
        while not self.eof:
            text = self._source.read()
            if text is None:
                self.eof = True
            elif text:
                self.text += text
                return True
        return False

    def _trim(self) -> None:
        if not self.pos:
            return
        newlines = self.text.count("\n", 0, self.pos)
        if newlines:
            self._line += newlines
            self._column = self.pos - self.text.rfind("\n", 0, self.pos) - 1
        else:
            self._column += self.pos
        self._char += self.pos
        self.text = self.text[self.pos :]
        self._counted = (0, self._line)
        self.pos = 0

    def where(self, pos: int) -> str:
        """Like ``json.JSONDecodeError``: ``line L column C (char N)``, counted from the start of the input."""
        return f"line {self.line(pos)} column {self._column_at(pos)} (char {self._char + pos})"

    def line(self, pos: int) -> int:
        # Counted on from the last answer: reading line after line costs linear time, not quadratic.
        counted, line = self._counted if self._counted[0] <= pos else (0, self._line)
        line += self.text.count("\n", counted, pos)
        self._counted = (pos, line)
        return line

    def _column_at(self, pos: int) -> int:
        newline = self.text.rfind("\n", 0, pos)
        return pos - newline if newline >= 0 else self._column + pos + 1

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), skipping the whitespace before it."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def line_end(self) -> int:
        """Index of the newline ending the line at ``pos`` (the end of the input counts); -1 when the line is
        longer than ``MAX_EVENT_CHARS``."""
        scanned = 0  # characters from pos already searched
        while True:
            newline = self.text.find("\n", self.pos + scanned, self.pos + MAX_EVENT_CHARS + 1)
            if newline >= 0:
                return newline
            scanned = len(self.text) - self.pos
            if scanned > MAX_EVENT_CHARS:
                return -1
            if not self.more():
                return len(self.text)

    def skip_line(self) -> None:
        while (newline := self.text.find("\n", self.pos)) < 0:
            self.pos = len(self.text)
            if not self.more():
                return
        self.pos = newline

    def value(self) -> Any:
        """Decode the JSON value at ``pos`` (after ``peek``), reading on while it may be merely incomplete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                # Text cut short fails at its very end (a string: where it starts); an error with more text
                # after it than any literal, number or escape could still need is in the text itself.
                if self.eof or (
                    len(self.text) - error.pos > _LOOKAHEAD and not error.msg.startswith("Unterminated string")
                ):
                    raise _Invalid(f"{error.msg}: {self.where(error.pos)}") from None
                self._grow()
                continue
            except RecursionError:
                raise _Invalid(f"nested too deeply (the value at {self.where(self.pos)})") from None
            except ValueError as error:  # an integer beyond sys.get_int_max_str_digits()
                raise _Invalid(f"{_value_error(error)} (the value at {self.where(self.pos)})") from None
            # A number or literal near the end of what was read may go on ("1" of "1.5e3", "nu" of "null").
            if not self.eof and self.text[end - 1] not in '}]"' and len(self.text) - end <= _LOOKAHEAD:
                self._grow()
                continue
            if end - self.pos > MAX_EVENT_CHARS:
                raise _Invalid(f"an event longer than {MAX_EVENT_CHARS} characters (at {self.where(self.pos)})")
            self.pos = end
            return value

    def _grow(self) -> None:
        if len(self.text) - self.pos > MAX_EVENT_CHARS:
            raise _Invalid(f"no complete value within {MAX_EVENT_CHARS} characters (at {self.where(self.pos)})")
        # Read until what is buffered has doubled, so retrying a long value costs linear time, not quadratic;
        # but no longer than the stream has text ready, or a pipe's last event would wait for the next one.
        target = 2 * (len(self.text) - self.pos)
        while self.more() and not self._source.drained and len(self.text) - self.pos < target:
            pass


def _value_error(error: ValueError) -> str:
    if "integer string conversion" in str(error):
        return f"a number with more than {sys.get_int_max_str_digits()} digits"
    return str(error)


def _loads(text: str) -> Any:
    """``json.loads`` whose every failure is ``_Invalid`` with a message for the user."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _Invalid(str(error)) from None
    except RecursionError:
        raise _Invalid("nested too deeply") from None
    except ValueError as error:
        raise _Invalid(_value_error(error)) from None


class _Parser:
    """One input's events. ``label`` names what is being read now, so an error lands on the right event."""

    def __init__(self, name: str, window: _Window, *, lines: bool) -> None:
        self.name = name
        self.label = name
        self.window = window
        self.lines = lines

    def items(self) -> Iterator[Item]:
        try:
            yield from self._items()
        except _Unreadable as error:
            yield Item(self.label, error=str(error))
        except _Invalid as error:
            yield Item(self.label, error=f"not valid JSON: {error}")

    def _items(self) -> Iterator[Item]:
        w = self.window
        first = w.peek()
        if not first:
            raise _Invalid("the input is empty")
        if first == "{" and not self.lines and self._findings_first():
            yield from self._elements()
            self._rest_of_object()
            self._end()
            return
        # JSON lines, decided by content when the name does not say: the first line is a whole value and more
        # follows. Never by the failure of a whole-file parse: a pretty-printed file cut short is one error.
        if self.lines or first == "{":
            if (value := self._first_line()) is not None:
                yield from self._after_first_line(value[0])
                return
            if self.lines:
                yield from self._lines(0)
                return
        if first == "[":
            w.pos += 1
            yield from self._elements()
            self._end()
        else:
            yield from self._document()

    def _findings_first(self) -> bool:
        """Whether the object at ``pos`` opens with ``"Findings": [`` (then consumed through the ``[``). Reads
        only until that is decided: a pipe's first finding must not wait for more text than it needs."""
        w = self.window
        while not _STRUCTURAL.search(w.text, w.pos + 1) and len(w.text) - w.pos < _FINDINGS_PROBE and w.more():
            pass
        if match := _FINDINGS_FIRST.match(w.text, w.pos):
            w.pos = match.end()
            return True
        return False

    def _first_line(self) -> tuple[Any] | None:
        """The first line's value, consumed, if that line is a whole JSON value; else None, nothing consumed."""
        w = self.window
        end = w.line_end()
        if end < 0:
            return None
        try:
            value = _loads(w.text[w.pos : end])
        except _Invalid:
            return None
        w.pos = end
        return (value,)

    def _after_first_line(self, value: Any) -> Iterator[Item]:
        if self.window.peek():
            yield Item(f"{self.name}#0", value)
            yield from self._lines(1)
        else:  # a one-line file is a whole document, whatever its name says
            yield from self._whole(value)

    def _document(self) -> Iterator[Item]:
        value = self.window.value()
        self._end()
        yield from self._whole(value)

    def _whole(self, data: Any) -> Iterator[Item]:
        if isinstance(data, dict) and len(data) <= 2:
            lists = [data[key] for key in CONTAINERS if isinstance(data.get(key), list)]
            if len(lists) == 1:
                data = lists[0]  # get-findings output, a CloudTrail log file
        if isinstance(data, list):
            for index, raw in enumerate(data):
                yield Item(f"{self.name}#{index}", raw)
        else:
            yield Item(self.name, data)

    def _elements(self) -> Iterator[Item]:
        """The elements of an array whose ``[`` has been read, through its ``]``."""
        w = self.window
        index = 0
        self.label = f"{self.name}#{index}"
        if w.peek() == "]":
            w.pos += 1
            return
        while True:
            w.peek()
            yield Item(self.label, w.value())
            index += 1
            self.label = f"{self.name}#{index}"
            delimiter = w.peek()
            if delimiter == "]":
                w.pos += 1
                return
            if delimiter != ",":
                raise _Invalid(f"Expecting ',' delimiter: {w.where(w.pos)}")
            w.pos += 1

    def _rest_of_object(self) -> None:
        """The members after ``"Findings": [...]`` (``NextToken`` and the like): checked, then ignored."""
        w = self.window
        self.label = self.name
        while (delimiter := w.peek()) == ",":
            w.pos += 1
            w.peek()
            if not isinstance(w.value(), str) or w.peek() != ":":
                raise _Invalid(f"Expecting a property name and ':': {w.where(w.pos)}")
            w.pos += 1
            w.peek()
            w.value()
        if delimiter != "}":
            raise _Invalid(f"Expecting ',' delimiter: {w.where(w.pos)}")
        w.pos += 1

    def _end(self) -> None:
        self.label = self.name
        if self.window.peek():
            raise _Invalid(f"Extra data: {self.window.where(self.window.pos)}")

    def _lines(self, index: int) -> Iterator[Item]:
        w = self.window
        while w.peek():  # skips blank lines
            self.label = f"{self.name}#{index}"
            number = w.line(w.pos)
            end = w.line_end()
            if end < 0:
                w.skip_line()
                yield Item(self.label, error=f"line {number}: longer than {MAX_EVENT_CHARS} characters")
            else:
                text, w.pos = w.text[w.pos : end], end
                try:
                    item = Item(self.label, _loads(text))
                except _Invalid as error:
                    item = Item(self.label, error=f"line {number}: not valid JSON: {error}")
                yield item
            index += 1
