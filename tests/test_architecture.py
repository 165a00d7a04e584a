"""The package's one dependency direction (docs/architecture.md), checked on its source:
no import cycles, and no import from a lower layer up to a higher one except the few
listed here with their reason. A new cycle or upward import fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hwnas"

#: layers, lowest first; a module belongs to the longest prefix listed
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "hwnas._version",
        "hwnas._io",
        "hwnas._imports",
        "hwnas.errors",
        "hwnas.registry",
        "hwnas.metrics",
        "hwnas.pareto",
        "hwnas.indicators",
        "hwnas.config",
        "hwnas.datasets.catalogue",  # pure data (imports only errors): spaces read it
    ),
    ("hwnas.spaces",),
    ("hwnas.trial", "hwnas.sources"),
    (
        "hwnas.tabular",
        "hwnas.cost",
        "hwnas.quality",
        "hwnas.predictors",
        "hwnas.models",
        "hwnas.datasets",
        "hwnas.supernet",
        "hwnas.strategies",
        "hwnas.training",
    ),
    ("hwnas.evaluation",),
    ("hwnas.ledger", "hwnas.results"),
    ("hwnas.executors",),
    ("hwnas.study",),
    (
        "hwnas.report",
        "hwnas.export",
        "hwnas.bench",
        "hwnas.testing",
        "hwnas.dnas",
        "hwnas.gym",
        "hwnas.multifidelity",
    ),
    ("hwnas.cli", "hwnas.__main__", "hwnas"),
)

#: imports that run from a lower layer up, each lazy (inside a function) and why
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("hwnas.spaces.nb201", "hwnas.tabular.nb201"): (
        "an NB201 index names a row of the published table: parse() reads it, lazily"
    ),
    ("hwnas.spaces.nb201", "hwnas.models.nb201"): (
        "build() imports the torch builder lazily, so the space stays torch-free"
    ),
    ("hwnas.spaces.mbv3", "hwnas.models.mbv3"): (
        "build() and layers() import the torch builder lazily, so the space stays torch-free"
    ),
    ("hwnas.spaces._models", "hwnas.models"): (
        "builder(name) imports a space's torch builder lazily, for every space after mbv3"
    ),
}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: `if TYPE_CHECKING:` blocks are skipped."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the hwnas modules it imports (a name imported from a package counts as
    the submodule when it is one, else as the package)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, (path, is_package) in modules.items():
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [
                    f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix
                    for a in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target.startswith("hwnas") and target != module:
                    graph[module].add(target)
    return graph


def layer(module: str) -> int:
    best, where = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, where = len(prefix), index
    if where < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return where


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in graph.items() for b in targets if layer(b) > layer(a)}


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_every_module_has_a_layer() -> None:
    for module in import_graph():
        layer(module)


def test_imports_run_downward_except_the_listed_lazy_ones() -> None:
    found = upward(import_graph())
    assert found <= set(ALLOWED_UPWARD), sorted(found - set(ALLOWED_UPWARD))
    assert len(ALLOWED_UPWARD) <= 4


def test_the_checker_finds_a_cycle_and_an_upward_import() -> None:
    """The checks above can fail: a spaces <-> study pair is both."""
    downward = {"hwnas.study": {"hwnas.spaces"}}
    both_ways = {**downward, "hwnas.spaces": {"hwnas.study"}}
    assert cycles(downward) == [] and upward(downward) == set()
    assert cycles(both_ways) == [["hwnas.spaces", "hwnas.study"]]
    assert upward(both_ways) == {("hwnas.spaces", "hwnas.study")}


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
