"""The house's shape, checked: a pure core, plugins that stay pure, and no import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambdas" / "riposte"
PURE = ("core", "engine", "sources", "actions", "notifiers")
SDKS = ("boto3", "botocore", "urllib3", "aws_lambda_powertools")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (local imports count too)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def riposte_imports(name: str) -> set[str]:
    return {m for m in imports_of(MODULES[name]) if m in MODULES and m != name}


def test_the_core_imports_nothing_but_itself_the_stdlib_and_pydantic() -> None:
    allowed_third_party = {"pydantic"}
    for name, path in MODULES.items():
        if not name.startswith("riposte.core"):
            continue
        for imported in imports_of(path):
            top = imported.split(".")[0]
            if top == "riposte":
                assert imported.startswith("riposte.core"), f"{name} imports {imported}"
            elif top not in sys.stdlib_module_names and top != "__future__":
                assert top in allowed_third_party, f"{name} imports {imported}"


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_never_import_an_sdk_or_http_client(package: str) -> None:
    for name, path in MODULES.items():
        if name == f"riposte.{package}" or name.startswith(f"riposte.{package}."):
            bad = {m for m in imports_of(path) if m.split(".")[0] in SDKS}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_loading_every_registry_loads_no_sdk() -> None:
    code = (
        "import sys\n"
        "from riposte.sources import SOURCES\nfrom riposte.actions import ACTIONS\n"
        "from riposte.notifiers import NOTIFIERS\nimport riposte.engine.runner, riposte.engine.setup\n"
        "assert SOURCES.names() and ACTIONS.names() and NOTIFIERS.names()\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r})\n"
        "sys.exit(f'loaded {loaded}' if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_import_graph_has_no_cycle() -> None:
    graph = {name: riposte_imports(name) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for child in sorted(graph[name]):
            # A package's __init__ is imported before its submodules; that edge is Python's, not a cycle.
            if name.startswith(child + "."):
                continue
            if state.get(child) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, name, child]))
            if child not in state:
                visit(child, [*path, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
