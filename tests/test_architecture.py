"""The import graph of src/deepscreen: no cycles, and no module importing its own package root.

Read from the source with ``ast``. Imports inside functions count (hiding an import in a
function is how a cycle usually sneaks back in); imports under ``if TYPE_CHECKING:`` do not,
since they never run: two dataclasses that name each other in annotations are not a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "deepscreen"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the deepscreen modules it imports (``from pkg import submodule`` names the
    submodule, not the package)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = {f"{target}.{a.name}" for a in node.names} & modules.keys()
                edges[name] |= subs
                if len(subs) < len(node.names) and target in modules:
                    edges[name].add(target)
            elif isinstance(node, ast.Import):
                edges[name] |= {a.name for a in node.names} & modules.keys()
        edges[name].discard(name)
    return edges


def _runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node of the module except those under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return [n for n in ast.walk(tree) if id(n) not in skipped]


def test_no_module_imports_its_own_package_root() -> None:
    edges = _imports(_modules())
    upward = sorted(f"{module} -> {target}" for module, targets in edges.items()
                    for target in targets if module.startswith(target + "."))
    assert upward == [], "import the module that defines the name instead:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle() -> None:
    edges = _imports(_modules())
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)
