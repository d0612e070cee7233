"""The CLI never ends in a traceback: a bad input is one error line and the others are still processed, a bad
configuration is one message, a closed pipe ends the run quietly; exit statuses 0, 2, 3 and 141."""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from riposte import cli, sources
from riposte.actions import Ports
from riposte.adapters.memory import MemoryNacls, MemoryState
from riposte.core import config as cfg
from riposte.core.model import Outcome, Result, Status
from riposte.core.ports import NaclEntry
from riposte.notifiers import Notifier, Route, SecretSpec
from riposte.runtime import Runtime
from tests.conftest import EVENTS, GUARDDUTY, ROOT

GOOD = GUARDDUTY / "bitcoin_outbound.json"
EVENT: dict[str, Any] = json.loads(GOOD.read_text())
COMPACT = json.dumps(EVENT)
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "lambdas")}
CLI = [sys.executable, "-m", "riposte.cli"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[dict[str, Any]], str]:
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def riposte(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=ENV, check=False
    )


# --- inputs that used to end the run with a traceback ---------------------------------------------------------


def nested_pascal_finding(depth: int) -> dict[str, Any]:
    """A get-findings (PascalCase) finding whose AdditionalInfo nests ``depth`` objects deep."""
    finding: dict[str, Any] = json.loads((EVENTS / "get_findings_output.json").read_text())["Findings"][0]
    deep: dict[str, Any] = {}
    for _ in range(depth):
        deep = {"Nested": deep}
    finding["Service"]["AdditionalInfo"] = deep
    return finding


def test_inputs_that_crashed_the_run_are_one_error_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "1-brackets.json").write_text("[" * 100_000)
    (tmp_path / "2-integer.json").write_text('{"count": 1' + "0" * 5000 + "}")  # 10**5000 written out
    (tmp_path / "3-truncated.json").write_text(json.dumps(EVENT, indent=2)[:-40])
    shutil.copy(GOOD, tmp_path / "4-good.json")
    status, lines, err = run_cli(capsys, "score", tmp_path)
    assert status == 2
    assert err == ""
    assert [(Path(line["input"]).name, "error" in line) for line in lines] == [
        ("1-brackets.json#0", True),
        ("2-integer.json", True),
        ("3-truncated.json", True),  # one error, not one per line
        ("4-good.json", False),
    ]
    assert "nested too deeply" in lines[0]["error"]
    assert "a number with more than 4300 digits" in lines[1]["error"]
    assert lines[2]["error"].startswith("not valid JSON: ")
    assert lines[3]["score"] == 85


def test_a_finding_nested_deeper_than_a_source_can_walk_is_one_line(tmp_path: Path) -> None:
    # Deep enough for the GuardDuty source's recursive PascalCase -> camelCase conversion to exhaust the
    # recursion limit, shallow enough for the JSON decoder. (Once that source stops recursing, the finding
    # is simply processed: either way one line, and the next input goes on.)
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(nested_pascal_finding(sys.getrecursionlimit() * 2 // 3)))
    result = riposte("score", path, GOOD)
    assert result.stderr == ""
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["input"] == str(path)
    assert first.get("error", "nested too deeply to process") == "nested too deeply to process"
    assert second["score"] == 85
    assert result.returncode == (2 if "error" in first else 0)


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply to process"),
        (ValueError("Exceeds the limit (4300 digits)"), "cannot process: Exceeds the limit (4300 digits)"),
    ],
)
def test_recursion_and_value_errors_from_a_source_become_error_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, raised: Exception, error: str
) -> None:
    real = sources.normalize

    def normalize(raw: Any, source: str | None = None) -> Any:
        if isinstance(raw, dict) and raw.get("boom"):
            raise raised
        return real(raw, source)

    monkeypatch.setattr(sources, "normalize", normalize)
    (tmp_path / "boom.json").write_text('{"boom": true}')
    status, lines, _ = run_cli(capsys, "score", tmp_path / "boom.json", GOOD)
    assert status == 2
    assert lines[0] == {"input": str(tmp_path / "boom.json"), "error": error}
    assert lines[1]["score"] == 85


def test_directories_without_events_are_errors_not_silence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("no events here")
    status, lines, _ = run_cli(capsys, "score", tmp_path / "empty", tmp_path / "docs", GOOD)
    assert status == 2
    error = "no event files (*.json, *.jsonl, *.ndjson, *.gz) in this directory"
    assert lines[:2] == [
        {"input": str(tmp_path / "empty"), "error": error},
        {"input": str(tmp_path / "docs"), "error": error},
    ]
    assert lines[2]["score"] == 85


@pytest.mark.slow
def test_a_fifo_or_device_is_reported_without_opening_it(tmp_path: Path) -> None:
    # Nobody ever writes to these FIFOs: opening one for reading would block until the timeout.
    os.mkfifo(tmp_path / "named.json")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "dir" / "inside.json")
    result = riposte("score", tmp_path / "named.json", tmp_path / "dir", "/dev/zero", GOOD, timeout=60)
    assert result.returncode == 2
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["input"], line.get("error", "")[:30]) for line in lines] == [
        (str(tmp_path / "named.json"), "not a regular file (a FIFO): n"),
        (str(tmp_path / "dir" / "inside.json"), "not a regular file (a FIFO): n"),
        ("/dev/zero", "not a regular file (a characte"),
        (str(GOOD), ""),
    ]


# --- configuration -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe mode", "not UTF-8: invalid start byte at byte 0"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "not valid TOML: nested too deeply"),
        (b"a = 1" + b"0" * 5000, "not valid TOML: Exceeds the limit (4300 digits) for integer string conversion"),
    ],
)
def test_a_config_that_cannot_be_read_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(content)
    status, lines, err = run_cli(capsys, "score", "--config", config, GOOD)
    assert (status, lines) == (2, [])
    assert err.startswith(f"riposte: {config}: {message}")
    assert len(err.splitlines()) == 1


def test_a_config_path_that_is_a_directory_or_unreadable_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(capsys, "score", "--config", tmp_path, GOOD) == (2, [], f"riposte: {tmp_path}: not a regular file\n")
    below_a_file = tmp_path / "c.toml" / "x.toml"
    (tmp_path / "c.toml").write_text("")
    assert run_cli(capsys, "score", "--config", below_a_file, GOOD) == (
        2,
        [],
        f"riposte: {below_a_file}: cannot read: Not a directory\n",
    )

    def unreadable(path: str) -> cfg.Config:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(cli.setup, "load", unreadable)
    assert run_cli(capsys, "score", "--config", tmp_path / "c.toml", GOOD) == (
        2,
        [],
        f"riposte: {tmp_path / 'c.toml'}: cannot read: Permission denied\n",
    )


def test_the_default_config_being_a_directory_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "riposte.toml").mkdir()
    assert run_cli(capsys, "score", GOOD) == (2, [], "riposte: riposte.toml: not a regular file\n")


@pytest.mark.skipif(os.geteuid() == 0, reason="file modes do not stop root; the monkeypatched test covers it")
def test_an_unreadable_config_by_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    config.chmod(0)
    assert run_cli(capsys, "score", "--config", config, GOOD) == (
        2,
        [],
        f"riposte: {config}: cannot read: Permission denied\n",
    )


@pytest.mark.slow
def test_a_fifo_config_is_one_error_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "c.toml")
    result = riposte("score", "--config", tmp_path / "c.toml", GOOD, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"riposte: {tmp_path / 'c.toml'}: not a regular file\n"


# --- exit statuses of `riposte run` --------------------------------------------------------------------------

ACL = "acl-0123456789abcdef0"


class FixedNotifier(Notifier):
    name: ClassVar[str] = "slack"
    route: ClassVar[Route] = Route.NOTIFY
    secret: ClassVar[SecretSpec] = SecretSpec("slack_webhook_url", "riposte/slack-webhook-url", "test")

    def __init__(self, status: Status) -> None:
        super().__init__(transport=None, destination=lambda: None)  # type: ignore[arg-type]
        self.status = status

    def render(self, result: Result) -> dict[str, Any]:
        return {}

    def send(self, result: Result) -> Outcome:
        return Outcome(self.name, "", self.status, "as the test says")


def local_runtime(monkeypatch: pytest.MonkeyPatch, *, notify: Status, acls: bool = True) -> None:
    """``riposte run`` against in-memory ports: no ACL at all makes block_ip fail."""
    nacls = MemoryNacls({ACL: [NaclEntry(100, False, "allow", "0.0.0.0/0")]} if acls else {})

    def build(config: cfg.Config, *, table_name: str | None) -> Runtime:
        ports = Ports(nacl=nacls, state=MemoryState())
        return Runtime(config=config, ports=ports, notifiers={"slack": FixedNotifier(notify)})

    monkeypatch.setattr("riposte.runtime.build", build)


def statuses(line: dict[str, Any]) -> list[str]:
    return [o["status"] for o in (*line["actions"], *line["notify"])]


@pytest.mark.parametrize(
    ("notify", "acls", "expected"),
    [
        (Status.DONE, True, (0, ["dry_run", "done", "skipped"])),
        (Status.SKIPPED, True, (0, ["dry_run", "skipped", "skipped"])),
        (Status.FAILED, True, (3, ["dry_run", "failed", "skipped"])),
        (Status.DONE, False, (3, ["failed", "done", "skipped"])),
    ],
)
def test_run_exits_3_when_an_action_or_notification_failed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    notify: Status,
    acls: bool,
    expected: tuple[int, list[str]],
) -> None:
    local_runtime(monkeypatch, notify=notify, acls=acls)
    status, (line,), _ = run_cli(capsys, "run", GOOD)
    assert (status, statuses(line)) == expected


def test_a_refusal_is_not_a_failure(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    local_runtime(monkeypatch, notify=Status.DONE)
    status, (line,), _ = run_cli(capsys, "run", "--allow", "45.13.104.0/22", GOOD)
    assert (status, line["actions"][0]["status"]) == (0, "refused")


def test_a_rejected_input_wins_over_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    local_runtime(monkeypatch, notify=Status.FAILED)
    (tmp_path / "bad.json").write_text('{"hello": "world"}')
    status, lines, _ = run_cli(capsys, "run", GOOD, tmp_path / "bad.json")
    assert status == 2
    assert "failed" in statuses(lines[0])
    assert "unrecognized event shape" in lines[1]["error"]


def test_score_exits_0_or_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{")
    assert run_cli(capsys, "score", GOOD)[0] == 0
    assert run_cli(capsys, "score", GOOD, tmp_path / "bad.json")[0] == 2


# --- pipes ---------------------------------------------------------------------------------------------------


@pytest.fixture
def many_events(tmp_path: Path) -> Path:
    """More output than a pipe buffers (about 1 KB a line, 64 KB a pipe), so the run must outlive its reader."""
    path = tmp_path / "many.jsonl"
    path.write_text(f"{COMPACT}\n" * 2000)
    return path


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_run_quietly(many_events: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "score", str(many_events)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert json.loads(process.stdout.readline())["input"] == f"{many_events}#0"
    process.stdout.close()  # like `head -n 1` or a pager that quits
    assert process.wait(timeout=120) == 141  # 128 + SIGPIPE, what a shell shows for a process SIGPIPE ended
    assert process.stderr.read() == b""


@pytest.mark.slow
def test_piping_into_head_prints_no_traceback(many_events: Path) -> None:
    command = f'{shlex.join(CLI)} score {many_events} | head -n 2; echo "exit ${{PIPESTATUS[0]}}"'
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, env=ENV, check=False)
    lines = result.stdout.splitlines()
    assert [json.loads(line)["input"] for line in lines[:2]] == [f"{many_events}#0", f"{many_events}#1"]
    assert lines[2:] == ["exit 141"]
    assert result.stderr == ""


def read_line_within(process: subprocess.Popen[bytes], seconds: float) -> dict[str, Any]:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    assert ready, f"no output within {seconds}s while the input is still open: the CLI waits for all of it"
    line: dict[str, Any] = json.loads(process.stdout.readline())
    return line


@pytest.mark.slow
@pytest.mark.parametrize(
    ("opening", "rest", "labels"),
    [
        (f"{COMPACT}\n{COMPACT}\n", f"{COMPACT}\n", ["-#0", "-#1", "-#2"]),
        (f"[{COMPACT},", f"{COMPACT}]", ["-#0", "-#1"]),
        (f'{{"Findings": [{COMPACT},', f"{COMPACT}]}}", ["-#0", "-#1"]),
    ],
)
def test_standard_input_is_processed_as_it_arrives(opening: str, rest: str, labels: list[str]) -> None:
    process = subprocess.Popen(
        [*CLI, "score", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        process.stdin.write(opening.encode())
        process.stdin.flush()
        first = read_line_within(process, seconds=60)  # the input is still open: nothing more has been written
        process.stdin.write(rest.encode())
        process.stdin.close()
        others = [json.loads(line) for line in process.stdout.read().splitlines()]
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        process.kill()
    assert [line["input"] for line in (first, *others)] == labels
    assert first["source"] == "guardduty"


@pytest.mark.parametrize("command", [["run"], ["unblock", "--table", "t", "45.13.104.9"]])
def test_a_command_that_needs_aws_says_so_without_a_traceback_when_it_is_not_configured(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    sample = Path(__file__).resolve().parents[1] / "events" / "guardduty" / "c2_activity_outbound.json"
    args = [*command, str(sample)] if command == ["run"] else command
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "riposte: this command works against AWS" in err
    assert "You must specify a region" in err
    assert "Traceback" not in err


def test_a_bug_that_is_not_about_aws_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(argv: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "_main", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["score", "x"])
