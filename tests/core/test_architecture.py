"""The rooms of the house: no import circle among the app's modules (imports inside functions included), and
imports flow one way, app.py -> app_pages -> components -> embedlab, never back up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"embedlab": 0, "components": 1, "app_pages": 2, "app": 3}


def modules() -> dict[str, Path]:
    """Dotted name -> file, for app.py and every module under app_pages/, components/ and embedlab/."""
    files = [
        ROOT / "app.py",
        *(path for top in ("app_pages", "components", "embedlab") for path in (ROOT / top).rglob("*.py")),
    ]
    found = {}
    for path in files:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the app modules it imports anywhere in its file (``from a.b import c`` counts a.b, whose
    ``__init__`` runs first, and a.b.c when that is a module)."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in known.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.update(resolve(f"{node.module}.{alias.name}") for alias in node.names)
                targets.add(resolve(node.module))  # the package's __init__ runs, and its names are read
        graph[name] = {target for target in targets if target and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_circle_and_an_arrow_up():
    graph = {"embedlab.a": {"embedlab.b"}, "embedlab.b": {"embedlab.a"}, "components.c": set()}
    assert cycles(graph) == [["embedlab.a", "embedlab.b"]]
    assert cycles({"embedlab.a": {"embedlab.b"}, "embedlab.b": set()}) == []


def test_no_import_circle():
    graph = import_graph()
    assert "embedlab.scorers.registry" in graph["embedlab.cli.common"]  # imported inside functions only: counted too
    assert cycles(graph) == []


def test_imports_never_run_back_up():
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if LAYERS[target.split(".")[0]] > LAYERS[module.split(".")[0]]
    ]
    assert upward == []
