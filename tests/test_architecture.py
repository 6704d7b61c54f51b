"""The package's shape: layers that import only downwards, no circles, public names that stay callable.

The layers are read from the code's own imports (every ``import`` statement, including those inside
functions), so a new arrow that runs back up or closes a circle fails here, whoever adds it.
``docs/architecture.md`` explains what each layer owns.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import csi_research

PACKAGE = Path(csi_research.__file__).resolve().parent

# From the bottom up. A module may import from its own room and from rooms on lower floors; rooms on
# the same floor are independent of each other. The package's __init__ (the public facade) is the top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("model",),
    ("data",),
    ("stats",),
    ("evaluation", "records"),
    ("render",),
    ("study",),
    ("programme",),
    ("reporting",),
    ("run",),
)
FLOOR = {room: floor for floor, rooms in enumerate(LAYERS) for room in rooms}


def module_name(path: Path) -> str:
    parts = ["csi_research", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str) -> set[str]:
    """The package's modules that ``module`` imports, wherever in its file the import stands."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found |= {name for name in names if name in MODULES or name.startswith("csi_research.")}
    found.discard(module)
    return found


GRAPH = {module: imported(module) for module in MODULES}


def room(module: str) -> str:
    return module.split(".")[1]


def test_every_module_lives_in_a_declared_layer():
    rooms = {room(m) for m in MODULES if m != "csi_research"}
    assert rooms <= set(FLOOR), f"declare in LAYERS and docs/architecture.md: {rooms - set(FLOOR)}"
    assert all(name in MODULES for name in GRAPH.values() for name in name), "an import names no module"


def test_no_import_runs_back_up_or_sideways():
    wrong = []
    for module, targets in GRAPH.items():
        if module == "csi_research":
            continue
        for target in targets:
            if target == "csi_research":
                wrong.append(f"{module} -> the package facade (import from the defining module instead)")
            elif room(target) != room(module) and FLOOR[room(target)] >= FLOOR[room(module)]:
                wrong.append(f"{module} (floor {FLOOR[room(module)]}) -> {target} "
                             f"(floor {FLOOR[room(target)]})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_no_import_circles():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_checks_see_an_arrow_against_the_order(tmp_path):
    # the graph is built from every import statement, including one inside a function
    assert "csi_research.stats.plsc" in GRAPH["csi_research.stats.pls"]
    assert "csi_research.data.sample" in GRAPH["csi_research.stats.indices"]
    assert FLOOR["core"] < FLOOR["data"] < FLOOR["stats"] < FLOOR["study"] < FLOOR["programme"] < FLOOR["run"]


def all_submodules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(csi_research.__path__, "csi_research."))


def test_every_public_name_is_the_documented_object_whatever_was_imported_first():
    for name in all_submodules():
        importlib.import_module(name)
    children = {name.split(".")[1] for name in all_submodules()}
    assert not children & set(csi_research._LAZY), "a public name shadowed by a module of the same name"
    for name in csi_research.__all__:
        value = getattr(csi_research, name)
        assert not inspect.ismodule(value), name
        if name in csi_research._LAZY:
            home = importlib.import_module(csi_research._LAZY[name])
            assert value is getattr(home, name), name
            assert getattr(value, "__module__", home.__name__).startswith("csi_research"), name
    assert callable(csi_research.ipma) and callable(csi_research.bootstrap) and callable(csi_research.rollup)


@pytest.mark.parametrize("first", ["csi_research.stats.ipma", "csi_research.stats.bootstrap",
                                   "csi_research.programme.rollup"])
def test_a_fresh_interpreter_importing_a_submodule_first_still_calls_the_function(first):
    import subprocess
    import sys

    name = first.rsplit(".", 1)[1]
    code = f"import {first}; import csi_research as csi; f = csi.{name}; assert callable(f) and not "\
           f"isinstance(f, type(csi)), f; print(f.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == first
