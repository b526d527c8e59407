"""The package structure: no import cycles, and a core that knows no transport.

The graph is read with `ast` from the source, so it contains every import: at module level,
inside functions and under TYPE_CHECKING alike.  A cycle hidden in a function still means
that neither module can be understood (or tested, or replaced) without the other.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cse", "resources", "bindings", "client", "server", "schemas", "examples", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from package import module` imports that module; `from module import name` the module.
            names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {module: imported(module, path, known) for module, path in modules.items()}


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan): the modules
    that import each other, directly or through others."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """A shortest cycle through each module that is on one (each cycle listed once)."""
    found: list[list[str]] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    for component in components(graph):
        for start in component:
            cycle = shortest_cycle(graph, set(component), start)
            edges = frozenset(zip(cycle, cycle[1:]))
            if edges not in seen:
                seen.add(edges)
                found.append(cycle)
    return found


def shortest_cycle(graph: dict[str, set[str]], members: set[str], start: str) -> list[str]:
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is on no cycle within {sorted(members)}")


def describe(found: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_graph_sees_imports_inside_functions_and_type_checking_blocks():
    graph = import_graph()
    assert "cse.operations" in graph["cse.dispatcher"]          # under TYPE_CHECKING only
    assert "cse.storage.sqlite" in graph["cse.storage"]         # inside open_storage only
    # A cycle the check must find: two modules importing each other only lazily.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]


def test_no_module_imports_itself_back():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + describe(found)


def test_the_core_imports_no_binding_no_resource_type_and_not_the_composition_root():
    forbidden = ("bindings", "server", "resources")
    wrong = sorted(f"{module} imports {target}"
                   for module, targets in import_graph().items() if module.split(".")[0] == "cse"
                   for target in targets if target.split(".")[0] in forbidden)
    assert not wrong, "\n".join(wrong)


# Where the size rule applies: everything the project writes in Python.
SIZED = ("cse", "resources", "bindings", "client", "server", "schemas", "examples", "bench", "tests")
MAX_LINES = 500


def test_no_module_is_over_500_lines():
    """A module past ~500 lines holds more than one job: split it along a real seam (and
    keep the old import path working by re-exporting what others import)."""
    too_long = sorted(f"{path.relative_to(ROOT)}: {lines} lines"
                      for package in SIZED for path in (ROOT / package).rglob("*.py")
                      if (lines := len(path.read_text().splitlines())) > MAX_LINES)
    assert not too_long, "\n".join(too_long)
