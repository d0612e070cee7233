"""Print the mutation score of the safety core after `mutmut run` (used by `make mutate`; run from the repo root).

Two scores per module and overall: every mutant (killed / total), and the behavioural one, which leaves out the
equivalent mutants listed in tests/mutants_equivalent.txt (mutants no test could ever tell apart from the
original). Each listed mutant must still exist and still make the change written beside it: an entry that no
longer matches (the code moved on) or a listed mutant that was killed (so it was not equivalent) fails the run,
so the list cannot quietly grow stale. Exits 1 when the behavioural score is below ``--min`` percent.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

EQUIVALENT = Path(__file__).with_name("mutants_equivalent.txt")
# A mutant the tests noticed: they failed, or never finished (a mutant that loops forever is caught by the timeout).
DETECTED = {"killed", "timeout", "caught by type check"}


def equivalents(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (the mutated line, why no test can tell it apart), from ``name | line | reason`` rows."""
    found: dict[str, tuple[str, str]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        name, line, reason = (part.strip() for part in raw.split(" | ", 2))
        if not (name and line and reason) or name in found:
            raise SystemExit(f"{path}:{number}: expected one 'mutant | mutated line | reason' row per mutant")
        found[name] = (line, reason)
    return found


def results() -> dict[str, dict[str, str]]:
    """module -> mutant name -> status."""
    by_module: dict[str, dict[str, str]] = defaultdict(dict)
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        module = ".".join(path.with_suffix("").parts[1:])  # src/riposte/core/guard.py -> riposte.core.guard
        for name, code in data.exit_code_by_key.items():
            by_module[module][name] = status_by_exit_code[code]
    return by_module


def added_lines(name: str) -> set[str]:
    diff = get_diff_for_mutant(name)
    return {line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")}


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "  n/a "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=95.0, help="fail below this behavioural score (percent)")
    args = parser.parse_args()

    listed = equivalents(EQUIVALENT)
    by_module = results()
    if not by_module:
        print("no mutation results: run `mutmut run` first", file=sys.stderr)
        return 2
    every = {name: status for module in by_module.values() for name, status in module.items()}
    problems = [f"listed as equivalent but no such mutant: {name}" for name in listed if name not in every]
    for name, (line, _) in listed.items():
        if name in every and line not in added_lines(name):
            problems.append(f"listed as equivalent but the mutant no longer makes that change: {name}")
        if every.get(name) in DETECTED:
            problems.append(f"listed as equivalent but a test kills it (so it is not equivalent): {name}")

    header = f"{'module':<28} {'killed':>13} {'score':>7} {'equivalent':>11} {'behavioural':>13} {'score':>7}"
    print(header)
    print("-" * len(header))
    totals: Counter[str] = Counter()
    for module in sorted(by_module):
        statuses = by_module[module]
        total, killed = len(statuses), sum(s in DETECTED for s in statuses.values())
        equivalent = sum(name in listed for name in statuses)
        behavioural = total - equivalent
        totals.update(total=total, killed=killed, equivalent=equivalent, behavioural=behavioural)
        print(
            f"{module:<28} {f'{killed}/{total}':>13} {percent(killed, total):>7} {equivalent:>11} "
            f"{f'{killed}/{behavioural}':>13} {percent(killed, behavioural):>7}"
        )
    print("-" * len(header))
    killed, total, behavioural = totals["killed"], totals["total"], totals["behavioural"]
    print(
        f"{'safety core':<28} {f'{killed}/{total}':>13} {percent(killed, total):>7} {totals['equivalent']:>11} "
        f"{f'{killed}/{behavioural}':>13} {percent(killed, behavioural):>7}"
    )

    left = sorted(name for name, status in every.items() if status not in DETECTED and name not in listed)
    if left:
        print(f"\n{len(left)} mutants not killed (see one with `mutmut show NAME`):")
        for name in left:
            print(f"  {name}: {every[name]}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    score = 100 * killed / behavioural if behavioural else 0.0
    if score < args.min:
        print(f"error: behavioural score {score:.1f}% is below {args.min:g}%", file=sys.stderr)
    return 1 if problems or score < args.min else 0


if __name__ == "__main__":
    sys.exit(main())
