"""The assistant package's import graph: no cycle inside it, and skills that do not reach into each other.

Every import statement counts, wherever it is: at the top, under `if TYPE_CHECKING:`, inside a function (a
lazy import is a dependency all the same). The graph is read with `ast`, nothing is imported, so a cycle that
happens to import fine today (thanks to `from __future__ import annotations` or a TYPE_CHECKING guard) is still
reported, named module by module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = "glassbridge.assistant"
ROOT = Path(__file__).resolve().parents[2] / "python" / "glassbridge" / "assistant"

#: The skills: each gets a SkillContext and the read-only SharedState, never the Assistant or another skill.
SKILLS = ("ask", "offline", "cards", "captions", "media", "wake", "power", "mic")


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def imported_modules(path: Path, modules: Iterable[str], root: Path = ROOT) -> set[str]:
    """The package's modules that `path` imports, in any statement anywhere in the file."""
    known = set(modules)
    me = module_name(path, root)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = me.split(".") if is_package else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                # `from glassbridge.assistant import ask` depends on the module ask; `... import Assistant`
                # on the package's __init__.
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    # `import glassbridge.assistant.ask.x` depends on the longest known prefix.
    out: set[str] = set()
    for name in found:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in known:
                out.add(candidate)
                break
    out.discard(me)
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    paths = sorted(root.rglob("*.py"))
    modules = [module_name(p, root) for p in paths]
    return {module_name(p, root): imported_modules(p, modules, root) for p in paths}


def _edges(graph: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    return {node: sorted(set(targets) & set(graph)) for node, targets in graph.items()}


def tangles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components that hold a cycle (Tarjan): modules that all reach each other."""
    edges = _edges(graph)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges[node]:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return sorted(components)


def shortest_cycle(graph: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """The shortest way from the component's first module back to itself, as [a, b, ..., a] (breadth first)."""
    edges, members, start = _edges(graph), set(component), component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in previous:
        following = []
        for node in frontier:
            for nxt in edges[node]:
                if nxt in members and nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    path = [start]
    node = previous[start]
    while node != start:
        path.append(node)
        node = previous[node]
    path.append(start)
    return path[::-1]


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per tangle; [] when the graph is acyclic."""
    return [shortest_cycle(graph, component) for component in tangles(graph)]


def _short(name: str) -> str:
    return name[len(PACKAGE) + 1:] if name.startswith(PACKAGE + ".") else name


def describe(graph: Mapping[str, Iterable[str]]) -> str:
    """Each tangle: its modules, and one cycle through them ("ask -> loop -> ask")."""
    out = []
    for component in tangles(graph):
        cycle = " -> ".join(_short(m) for m in shortest_cycle(graph, component))
        out.append(f"{len(component)} modules in one cycle ({', '.join(_short(m) for m in component)}), "
                   f"e.g. {cycle}")
    return "; ".join(out)


def test_the_cycle_finder_names_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"b", "c"}}) == []


def test_the_graph_reads_type_checking_and_function_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "assistant"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from glassbridge.assistant.a import A\n")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from glassbridge.assistant.b import B\nA = 1\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "c.py").write_text("import glassbridge.assistant.a as a\n")
    graph = import_graph(pkg)
    assert graph[PACKAGE] == {f"{PACKAGE}.a"}
    assert graph[f"{PACKAGE}.a"] == {f"{PACKAGE}.b"}
    assert graph[f"{PACKAGE}.b"] == {f"{PACKAGE}.c"}
    assert find_cycles(graph) == [[f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.c", f"{PACKAGE}.a"]]
    assert describe(graph) == "3 modules in one cycle (a, b, c), e.g. a -> b -> c -> a"


def test_the_assistant_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.loop" in graph and f"{PACKAGE}.ask" in graph  # the package was found
    assert not find_cycles(graph), f"import cycles in {PACKAGE} (TYPE_CHECKING and function imports " \
                                   f"included): {describe(graph)}"


@pytest.mark.parametrize("skill", SKILLS)
def test_a_skill_imports_neither_the_loop_nor_another_skill(skill: str) -> None:
    graph = import_graph()
    forbidden = {f"{PACKAGE}.{name}" for name in (*SKILLS, "loop")} | {PACKAGE}
    reached = sorted(graph[f"{PACKAGE}.{skill}"] & forbidden)
    assert not reached, f"the {skill} skill imports {', '.join(reached)}: it should go through the SkillContext"
