"""The house rules, checked on the source: rooms import only the rooms below them (import-linter contracts in
pyproject.toml), no module takes part in an import cycle (function-level imports count), nothing imports app.py,
and only the I/O modules name pylsl."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("dashboard", "calibration", "offline", "realtime", "models")
# The modules that talk to LSL itself; everything else reads the clock from realtime.clock and gets streams from these.
LSL_MODULES = {
    "realtime/clock.py", "realtime/lsl_select.py", "realtime/sources/lsl_inlet.py", "realtime/marker_inlet.py",
    "realtime/lsl_outlets.py", "realtime/counter_sender.py", "realtime/replay_player.py",
}


def _sources() -> Iterator[Path]:
    for room in ROOMS:
        yield from sorted((ROOT / room).rglob("*.py"))
    yield ROOT / "app.py"


def _imported(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names, at any depth (functions, TYPE_CHECKING blocks)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_rooms_import_only_the_rooms_below_them(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0, "import-linter contracts broken (output above)"


def test_no_module_is_part_of_an_import_cycle() -> None:
    graph = grimp.build_graph(*ROOMS, cache_dir=None)
    cycles = _cycles({m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules})
    assert not cycles, f"import cycles: {cycles}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_planted_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_nothing_imports_app() -> None:
    importers = [str(p.relative_to(ROOT)) for p in _sources() if p.name != "app.py" and "app" in _imported(p)]
    assert not importers, f"app.py sits on top; these import it: {importers}"


def test_only_the_lsl_modules_name_pylsl() -> None:
    naming = {str(p.relative_to(ROOT)) for p in _sources() if any(n.split(".")[0] == "pylsl" for n in _imported(p))}
    assert naming <= LSL_MODULES, f"processing modules that import pylsl: {sorted(naming - LSL_MODULES)}"
    assert "realtime/clock.py" in naming
