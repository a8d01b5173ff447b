"""The architecture's rules, read from the source with ast: who may import what, and where files and the clock live.

features/ and models/ are pure: they never import pipeline/, mlflow or typer, never read or write files and never
read the clock. mlflow is imported only by pipeline/tracking.py, typer only by pipeline/cli.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE_PACKAGES = ("features", "models")
FORBIDDEN_IN_PURE = ("pipeline", "mlflow", "typer")
ONLY_IN = {"mlflow": "pipeline/tracking.py", "typer": "pipeline/cli.py"}
# Calls that read or write files, or read the clock (attribute names, as in pd.read_csv or Path(...).read_text).
FILE_CALLS = {
    "open", "read_csv", "read_parquet", "read_table", "read_text", "read_bytes", "write_text", "write_bytes",
    "to_csv", "to_parquet", "write_table", "savefig", "mkdir", "unlink",
}
CLOCK_CALLS = {"now", "today", "utcnow", "time", "perf_counter", "monotonic"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(tree: ast.AST) -> set[str]:
    """Top-level names of every module imported anywhere in the tree (function-level imports included)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def called(tree: ast.AST) -> set[str]:
    """Names of everything called: f(...) gives f, x.f(...) gives f."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            names.add(function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", ""))
    return names


@pytest.mark.parametrize("path", [p for package in PURE_PACKAGES for p in modules(package)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_packages_import_no_edge_and_touch_no_file_or_clock(path):
    tree = ast.parse(path.read_text())
    edges = {name for name in imported(tree) if name.split(".")[0] in FORBIDDEN_IN_PURE}
    assert not edges, f"{path.relative_to(ROOT)} imports {sorted(edges)}"
    if path.parts[-2] == "features":
        assert not {n for n in imported(tree) if n.split(".")[0] == "models"}, "features/ may not import models/"
    touches = called(tree) & (FILE_CALLS | CLOCK_CALLS)
    assert not touches, f"{path.relative_to(ROOT)} calls {sorted(touches)}"


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_each_outside_service_has_one_door(library):
    doors = [
        str(path.relative_to(ROOT))
        for package in ("features", "models", "pipeline")
        for path in modules(package)
        if any(name.split(".")[0] == library for name in imported(ast.parse(path.read_text())))
    ]
    assert doors == [ONLY_IN[library]]


def test_the_rules_catch_what_they_forbid():
    """The checks themselves can fail: a module that breaks each rule is caught."""
    tree = ast.parse(
        "import mlflow\nfrom pipeline.io import write_frame\nimport pandas as pd\n"
        "def f():\n    pd.read_csv('x.csv')\n    return pd.Timestamp.now()\n"
    )
    assert {"mlflow", "pipeline.io"} <= imported(tree)
    assert {"read_csv", "now"} <= called(tree)


def module_imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the project modules it imports, anywhere in it (imports inside functions
    count: a circle closed by a deferred import is still a circle)."""
    graph = {}
    for path in modules(package):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from features import complaints` imports the submodule, not the package's namespace
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    found.add(submodule if _is_module(submodule) else node.module)
        graph[name] = {m for m in found if m.split(".")[0] in ("features", "models", "pipeline")}
    return graph


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first walk (each reported once, from its first module)."""
    found, state = [], {}

    def walk(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    return found


def test_no_module_imports_itself_through_others():
    graph = {}
    for package in ("features", "models", "pipeline"):
        graph |= module_imports(package)
    assert cycles(graph) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]  # the walk does find one
