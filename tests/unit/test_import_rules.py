"""Import rules of DESIGN.md §4, read from the source (AST) so that they cannot rot.

import-linter (``make test`` runs ``lint-imports``) checks the forbidden directions between the
top-level packages. This module checks what import-linter cannot:

(i)   ``domain`` imports only the standard library, ``eventsourcing.domain`` and other ``domain``
      modules (import-linter sees ``eventsourcing`` only as a whole);
(ii)  the module-level import graph of our own modules has no cycle;
(iii) the top-level package graph has no cycle either (imports point one way).

How imports are read:

* every ``import``/``from ... import`` statement counts, also inside functions (a lazy import
  is still a dependency);
* imports under ``if TYPE_CHECKING:`` count for (i) and (iii) but not for (ii): they do not run,
  and they are the usual way to type an annotation without a runtime cycle;
* ``from a.b import c`` is an edge to module ``a.b.c`` when that module exists, else to ``a.b``;
  ``import a.b.c`` is an edge to the longest existing prefix; importing a package is an edge to
  its ``__init__``; the implicit import of parent packages is not counted (a package that
  re-exports its submodules would otherwise always be a cycle).

The ``test_checker_*`` tests at the bottom run the same checks on small synthetic trees, so a
checker that silently stopped finding violations would fail too.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "tracking", "projections", "api", "dashboard", "drill")
DOMAIN_ALLOWED_THIRD_PARTY = ("eventsourcing.domain",)


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. "tracking.cli"
    target: str  # absolute name of the imported module (or of the module a name comes from)
    names: tuple[str, ...]  # names of a ``from target import ...``; empty for ``import target``
    path: Path
    lineno: int
    type_checking: bool

    @property
    def where(self) -> str:
        return f"{self.path}:{self.lineno}"


@dataclass
class ImportGraph:
    modules: dict[str, Path]
    imports: list[Import]
    unresolvable: list[str]

    def own_targets(self, imp: Import) -> set[str]:
        """Our modules that ``imp`` imports (see the module docstring for the rules)."""
        if not imp.names:
            found = self._longest_own_prefix(imp.target)
            return {found} if found else set()
        targets: set[str] = set()
        for name in imp.names:
            candidate = f"{imp.target}.{name}"
            found = candidate if candidate in self.modules else self._longest_own_prefix(imp.target)
            if found:
                targets.add(found)
        return targets

    def _longest_own_prefix(self, name: str) -> str | None:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            candidate = ".".join(parts[:end])
            if candidate in self.modules:
                return candidate
        return None

    def module_edges(self, *, include_type_checking: bool) -> dict[str, dict[str, Import]]:
        """module -> {imported own module -> first import statement making that edge}."""
        edges: dict[str, dict[str, Import]] = {name: {} for name in self.modules}
        for imp in self.imports:
            if imp.type_checking and not include_type_checking:
                continue
            for target in sorted(self.own_targets(imp)):
                if target != imp.source:
                    edges[imp.source].setdefault(target, imp)
        return edges

    def package_edges(self) -> dict[str, dict[str, Import]]:
        """top-level package -> {other top-level package -> first import making that edge}.

        The composition root (the CLI that mounts every part's commands) is left out: it is
        the one place allowed to know the whole system, and nothing imports it.
        """
        edges: dict[str, dict[str, Import]] = {}
        for source, targets in self.module_edges(include_type_checking=True).items():
            if source in COMPOSITION_ROOTS:
                continue
            source_top = source.split(".")[0]
            edges.setdefault(source_top, {})
            for target, imp in targets.items():
                target_top = target.split(".")[0]
                if target_top != source_top:
                    edges[source_top].setdefault(target_top, imp)
        return edges


COMPOSITION_ROOTS = frozenset({"tracking.cli"})


def test_nothing_imports_the_composition_root(graph: ImportGraph) -> None:
    importers = [
        source
        for source, targets in graph.module_edges(include_type_checking=True).items()
        if COMPOSITION_ROOTS & targets.keys()
    ]
    assert importers == [], f"the composition root must stay a leaf: imported by {importers}"


def discover_modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every .py file of our packages under ``root``."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        single_file = root / f"{package}.py"
        if single_file.is_file():
            modules[package] = single_file
        package_dir = root / package
        if not package_dir.is_dir():
            continue
        for path in sorted(package_dir.rglob("*.py")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts:
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking_test(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return False


def _iter_import_nodes(
    node: ast.AST, type_checking: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, type_checking
        return
    if isinstance(node, ast.If) and _is_type_checking_test(node.test):
        for child in node.body:
            yield from _iter_import_nodes(child, True)
        for child in node.orelse:
            yield from _iter_import_nodes(child, type_checking)
        return
    for any_child in ast.iter_child_nodes(node):
        yield from _iter_import_nodes(any_child, type_checking)


def read_imports(module: str, path: Path) -> tuple[list[Import], list[str]]:
    """The import statements of one module, with relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    imports: list[Import] = []
    unresolvable: list[str] = []
    for node, type_checking in _iter_import_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.append(Import(module, alias.name, (), path, node.lineno, type_checking))
            continue
        if node.level:
            keep = len(package_parts) - (node.level - 1)
            if keep < 1:
                unresolvable.append(
                    f"{path}:{node.lineno}: relative import beyond the top-level package"
                )
                continue
            base = ".".join(package_parts[:keep] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = tuple(alias.name for alias in node.names if alias.name != "*")
        imports.append(Import(module, base, names, path, node.lineno, type_checking))
    return imports, unresolvable


def build_graph(root: Path) -> ImportGraph:
    modules = discover_modules(root)
    imports: list[Import] = []
    unresolvable: list[str] = []
    for module, path in modules.items():
        module_imports, module_unresolvable = read_imports(module, path)
        imports.extend(module_imports)
        unresolvable.extend(module_unresolvable)
    return ImportGraph(modules, imports, unresolvable)


def domain_violations(graph: ImportGraph) -> list[str]:
    """(i): imports in ``domain`` of anything but stdlib, eventsourcing.domain and domain."""

    def allowed(name: str) -> bool:
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "domain":
            return True
        return any(
            name == prefix or name.startswith(prefix + ".") for prefix in DOMAIN_ALLOWED_THIRD_PARTY
        )

    violations: list[str] = []
    for imp in graph.imports:
        if imp.source.split(".")[0] != "domain":
            continue
        if allowed(imp.target):
            continue
        # ``from eventsourcing import domain`` names an allowed module.
        if imp.names and all(allowed(f"{imp.target}.{name}") for name in imp.names):
            continue
        shown = f"from {imp.target} import {', '.join(imp.names)}" if imp.names else imp.target
        violations.append(f"{imp.where}: {imp.source} imports {shown}")
    return violations


def find_cycles(edges: Mapping[str, Mapping[str, Import]]) -> list[list[str]]:
    """One cycle per back edge of a depth-first search (empty when the graph is acyclic).

    Each cycle is a path whose first and last node are the same.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(edges, white)
    cycles: list[list[str]] = []
    for start in sorted(edges):
        if colour[start] != white:
            continue
        colour[start] = grey
        path = [start]
        stack = [iter(sorted(edges[start]))]
        while stack:
            successor = next(stack[-1], None)
            if successor is None:
                colour[path.pop()] = black
                stack.pop()
                continue
            state = colour.get(successor, black)  # edges to unknown nodes lead nowhere
            if state == grey:
                cycles.append([*path[path.index(successor) :], successor])
            elif state == white:
                colour[successor] = grey
                path.append(successor)
                stack.append(iter(sorted(edges[successor])))
    return cycles


def describe_cycle(cycle: list[str], edges: Mapping[str, Mapping[str, Import]]) -> str:
    steps = [f"  {a} -> {b}  ({edges[a][b].where})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


# --- the rules, on this repository ------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build_graph(ROOT)


def test_every_relative_import_resolves(graph: ImportGraph) -> None:
    assert not graph.unresolvable, "\n".join(graph.unresolvable)


def test_domain_imports_only_stdlib_and_eventsourcing_domain(graph: ImportGraph) -> None:
    violations = domain_violations(graph)
    assert not violations, (
        "domain/ may import only the standard library, eventsourcing.domain and domain "
        "modules (DESIGN.md §4):\n" + "\n".join(violations)
    )


def test_no_import_cycle_between_modules(graph: ImportGraph) -> None:
    edges = graph.module_edges(include_type_checking=False)
    cycles = find_cycles(edges)
    assert not cycles, "import cycles between modules:\n" + "\n".join(
        describe_cycle(cycle, edges) for cycle in cycles
    )


def test_no_import_cycle_between_packages(graph: ImportGraph) -> None:
    edges = graph.package_edges()
    cycles = find_cycles(edges)
    assert not cycles, "top-level packages import each other (imports must point one way):\n" + (
        "\n".join(describe_cycle(cycle, edges) for cycle in cycles)
    )


# --- the checker itself, on synthetic trees ---------------------------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_accepts_an_empty_tree(tmp_path: Path) -> None:
    graph = build_graph(tmp_path)
    assert graph.modules == {}
    assert domain_violations(graph) == []
    assert find_cycles(graph.module_edges(include_type_checking=False)) == []
    assert find_cycles(graph.package_edges()) == []


def test_checker_accepts_clean_layered_code(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "domain/__init__.py": "from domain.arrival import Arrival\n",
            "domain/arrival.py": (
                "from __future__ import annotations\n"
                "import datetime, uuid\n"
                "from typing import TYPE_CHECKING\n"
                "from eventsourcing.domain import Aggregate, event\n"
                "from eventsourcing import domain as es_domain\n"
                "from . import rules\n"
                "from .rules import check\n"
                "if TYPE_CHECKING:\n"
                "    from domain.values import Stage\n"
                "class Arrival(Aggregate): ...\n"
            ),
            "domain/rules.py": "def check() -> None: ...\n",
            "domain/values.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from domain.arrival import Arrival\n",
            "tracking/__init__.py": "",
            "tracking/app.py": "from eventsourcing.application import Application\n"
            "from domain import Arrival\n",
            "projections/__init__.py": "from tracking.app import *\n",
            "api/__init__.py": "import tracking.app, projections, dashboard\nimport fastapi\n",
            "dashboard/__init__.py": "import pathlib\n",
        },
    )
    graph = build_graph(tmp_path)
    assert graph.unresolvable == []
    assert domain_violations(graph) == []
    assert find_cycles(graph.module_edges(include_type_checking=False)) == []
    assert find_cycles(graph.package_edges()) == []
    assert set(graph.module_edges(include_type_checking=True)["domain.values"]) == {
        "domain.arrival"
    }
    assert graph.module_edges(include_type_checking=False)["domain.values"] == {}
    assert set(graph.package_edges()["api"]) == {"tracking", "projections", "dashboard"}


def test_checker_reports_impure_domain(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "domain/__init__.py": "",
            "domain/a.py": "import fastapi\n",
            "domain/b.py": "from eventsourcing import Aggregate\n",
            "domain/c.py": "from eventsourcing.application import Application\n",
            "domain/d.py": "def f() -> None:\n    import psycopg\n",
            "domain/e.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from tracking.app import App\n",
            "domain/f.py": "import eventsourcing.persistence\n",
            "tracking/__init__.py": "",
            "tracking/app.py": "",
        },
    )
    violations = domain_violations(build_graph(tmp_path))
    assert [v.split(": ", 1)[1] for v in violations] == [
        "domain.a imports fastapi",
        "domain.b imports from eventsourcing import Aggregate",
        "domain.c imports from eventsourcing.application import Application",
        "domain.d imports psycopg",
        "domain.e imports from tracking.app import App",
        "domain.f imports eventsourcing.persistence",
    ]


def test_checker_reports_module_cycle_with_its_path(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "tracking/__init__.py": "",
            "tracking/x.py": "import tracking.y\n",
            "tracking/y.py": "from .z import q\n",
            "tracking/z.py": "def q() -> None:\n    from tracking import x\n",
        },
    )
    graph = build_graph(tmp_path)
    edges = graph.module_edges(include_type_checking=False)
    cycles = find_cycles(edges)
    assert cycles == [["tracking.x", "tracking.y", "tracking.z", "tracking.x"]]
    message = describe_cycle(cycles[0], edges)
    assert message.startswith("tracking.x -> tracking.y -> tracking.z -> tracking.x\n")
    assert "tracking/z.py:2" in message


def test_checker_ignores_type_checking_only_cycles_between_modules(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "projections/__init__.py": "",
            "projections/a.py": "from projections.b import B\n",
            "projections/b.py": "import typing\n"
            "if typing.TYPE_CHECKING:\n    from projections.a import A\nelse:\n    pass\n",
        },
    )
    graph = build_graph(tmp_path)
    assert find_cycles(graph.module_edges(include_type_checking=False)) == []
    assert find_cycles(graph.module_edges(include_type_checking=True)) == [
        ["projections.a", "projections.b", "projections.a"]
    ]


def test_checker_reports_package_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "tracking/__init__.py": "",
            "tracking/wiring.py": "from api.app import app\n",
            "api/__init__.py": "",
            "api/app.py": "import tracking\n",
        },
    )
    graph = build_graph(tmp_path)
    assert find_cycles(graph.module_edges(include_type_checking=False)) == []
    assert find_cycles(graph.package_edges()) == [["api", "tracking", "api"]]


def test_checker_reports_relative_import_beyond_top_level(tmp_path: Path) -> None:
    _write(tmp_path, {"domain/__init__.py": "", "domain/a.py": "from .. import x\n"})
    assert build_graph(tmp_path).unresolvable == [
        f"{tmp_path / 'domain' / 'a.py'}:1: relative import beyond the top-level package"
    ]
