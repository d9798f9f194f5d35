"""The layer contract: which of our packages may import which, and no import cycle.

    council       pure rules: imports nothing of ours with I/O (council, domain only)
    domain        the shared vocabulary: imports itself and the council's pure models only
    workflows     deterministic workflow code: imports itself, domain and council (those
                  two inside `workflow.unsafe.imports_passed_through()`, so the sandbox
                  shares the data converter's classes), never anything with I/O
    activities    side effects: meet the workflow only in domain (never workflows, api)
    agency.db, agency.provenance, api
                  depend on domain, never on workflows or activities, not even through
                  another module of ours
    entry points  a package's `__main__` module wires the layers into a process: it may
                  import anything, and nothing imports it
    tests, bench  may import anything; nothing else imports them, except that tests may
                  import bench (its pure helpers have unit tests, tests/bench)

Read from the source with `ast`. Imports inside functions count: a lazy import is a
dependency all the same. Each failure names the file, the line and the import.
"""

from __future__ import annotations

import ast
import functools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "activities",
    "agency",
    "api",
    "bench",
    "council",
    "domain",
    "migrations",
    "tests",
    "workflows",
)
# What domain may use of the council: its models, its spec and what those import.
PURE_COUNCIL = frozenset({"council.models", "council.spec", "council.problems"})
# Layers that must not reach the workflow or the activities, however indirectly.
BELOW_THE_WORKFLOW = ("agency.db", "agency.provenance", "api")


@dataclass(frozen=True)
class Import:
    importer: str
    file: str  # relative to the repository's root
    line: int
    target: str
    passed_through: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.target}"


def modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_passthrough(node: ast.With | ast.AsyncWith) -> bool:
    for item in node.items:
        call = item.context_expr
        if isinstance(call, ast.Call):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "imports_passed_through":
                return True
    return False


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, path: Path, file: str, known: dict[str, Path]) -> None:
        self.module, self.file, self.known = module, file, known
        self.package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        self.passthrough = 0
        self.found: list[Import] = []
        self._seen: set[tuple[int, str]] = set()

    def visit_With(self, node: ast.With) -> None:
        self._visit_with(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._visit_with(node)

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        inside = _is_passthrough(node)
        self.passthrough += inside
        self.generic_visit(node)
        self.passthrough -= inside

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            # `from a.b import c`: the module a.b.c when there is one, else a name in a.b.
            name = f"{base}.{alias.name}"
            self._add(node, name if name in self.known else base)

    def _add(self, node: ast.stmt, name: str) -> None:
        while name and name not in self.known:
            name = name.rpartition(".")[0]
        if name and name != self.module and (node.lineno, name) not in self._seen:
            self._seen.add((node.lineno, name))
            self.found.append(
                Import(self.module, self.file, node.lineno, name, self.passthrough > 0)
            )


def imports(root: Path = ROOT) -> list[Import]:
    """Every import of one of our modules by another, in source order."""
    known = modules(root)
    found: list[Import] = []
    for module, path in known.items():
        collector = _Collector(module, path, path.relative_to(root).as_posix(), known)
        collector.visit(ast.parse(path.read_text(), filename=str(path)))
        found += collector.found
    return found


def layer(module: str) -> str:
    for sub in BELOW_THE_WORKFLOW:
        if module == sub or module.startswith(sub + "."):
            return sub
    return module.split(".")[0]


def is_entry_point(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "__main__"


def why_forbidden(imp: Import) -> str | None:
    """Which rule `imp` breaks, or None."""
    src, dst, dst_top = layer(imp.importer), imp.target, imp.target.split(".")[0]
    if is_entry_point(dst):
        return "an entry point (__main__) is run, never imported"
    if dst_top in ("tests", "bench") and src not in (dst_top, "tests"):
        return f"only {dst_top} imports {dst_top}"
    if is_entry_point(imp.importer) or src in ("tests", "bench"):
        return None
    if src == "council" and dst_top not in ("council", "domain"):
        return "council is pure rules: it imports nothing of ours with I/O"
    if src == "domain" and dst_top != "domain" and dst not in PURE_COUNCIL:
        return "domain imports only itself and the council's pure models"
    if src == "workflows":
        if dst_top not in ("workflows", "domain", "council"):
            return "workflow code imports only workflows, domain and council (no I/O)"
        if dst_top != "workflows" and not imp.passed_through:
            return (
                "the workflow sandbox must share domain and council with the data converter: "
                "import them inside `with workflow.unsafe.imports_passed_through():`"
            )
    if src == "activities" and dst_top in ("workflows", "api"):
        return "activities meet the workflow only in domain"
    if src in BELOW_THE_WORKFLOW and dst_top in ("workflows", "activities"):
        return f"{src} depends on domain, never on {dst_top}"
    return None


def violations(found: list[Import]) -> Iterator[str]:
    for imp in found:
        why = why_forbidden(imp)
        if why is not None:
            yield f"{imp}: {why}"


def reachable(found: list[Import], start: str) -> dict[str, Import]:
    """Every module `start` imports, directly or not, with the import that reached it."""
    edges: dict[str, list[Import]] = {}
    for imp in found:
        edges.setdefault(imp.importer, []).append(imp)
    via: dict[str, Import] = {}
    queue = deque([start])
    while queue:
        for imp in edges.get(queue.popleft(), []):
            if imp.target not in via and imp.target != start:
                via[imp.target] = imp
                queue.append(imp.target)
    return via


def chain(via: dict[str, Import], end: str) -> list[Import]:
    steps = [via[end]]
    while steps[-1].importer in via:
        steps.append(via[steps[-1].importer])
    return steps[::-1]


def indirect_violations(found: list[Import]) -> Iterator[str]:
    """A layer below the workflow that reaches it through other modules."""
    importers = sorted({imp.importer for imp in found})
    for module in importers:
        if layer(module) not in BELOW_THE_WORKFLOW or is_entry_point(module):
            continue
        via = reachable(found, module)
        for target in sorted(via):
            if target.split(".")[0] in ("workflows", "activities"):
                path = " -> ".join(str(step) for step in chain(via, target))
                yield f"{module} reaches {target}: {path}"
                break


def cycles(found: list[Import]) -> list[list[Import]]:
    """One import cycle per strongly connected group of modules (Tarjan)."""
    edges: dict[str, list[Import]] = {}
    for imp in found:
        edges.setdefault(imp.importer, []).append(imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for imp in edges.get(node, []):
            if imp.target not in index:
                connect(imp.target)
                low[node] = min(low[node], low[imp.target])
            elif imp.target in on_stack:
                low[node] = min(low[node], index[imp.target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            connect(node)
    found_cycles = []
    for group in groups:
        inside = [imp for imp in found if imp.importer in group and imp.target in group]
        start = min(group)
        via = reachable(inside, start)
        back = next(imp for imp in inside if imp.target == start and imp.importer in via)
        found_cycles.append([*chain(via, back.importer), back])
    return found_cycles


# ------------------------------------------------------------------------ the contract
@functools.cache
def repository_imports() -> list[Import]:
    return imports(ROOT)


def test_no_layer_imports_what_it_must_not() -> None:
    broken = list(violations(repository_imports()))
    assert not broken, "layer contract broken:\n" + "\n".join(broken)


def test_no_layer_below_the_workflow_reaches_it_indirectly() -> None:
    broken = list(indirect_violations(repository_imports()))
    assert not broken, "layer contract broken:\n" + "\n".join(broken)


def test_no_import_cycle() -> None:
    found = cycles(repository_imports())
    assert not found, "import cycles:\n" + "\n".join(
        " -> ".join(str(step) for step in cycle) for cycle in found
    )


def test_the_contract_sees_every_package() -> None:
    seen = {imp.importer.split(".")[0] for imp in repository_imports()}
    assert seen >= {"activities", "agency", "api", "domain", "workflows", "tests"}


# ------------------------------------------------------- the checker catches what it must
def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for parent in path.relative_to(root).parents:
            if parent != Path("."):
                (root / parent / "__init__.py").touch()
    return root


def test_a_forbidden_import_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "workflows/task.py": "X = 1\n",
            "agency/db/records.py": '"""doc"""\n\nfrom workflows.task import X\n',
            "domain/task.py": "from agency import settings\n",
            "agency/settings.py": "",
            "workflows/phase.py": "from domain.task import T\n",
            "council/rules.py": "import activities.x\n",
            "activities/x.py": "",
        },
    )
    broken = sorted(violations(imports(root)))
    assert broken == [
        "agency/db/records.py:3 imports workflows.task: agency.db depends on domain, "
        "never on workflows",
        "council/rules.py:1 imports activities.x: council is pure rules: it imports "
        "nothing of ours with I/O",
        "domain/task.py:1 imports agency.settings: domain imports only itself and the "
        "council's pure models",
        "workflows/phase.py:1 imports domain.task: the workflow sandbox must share domain "
        "and council with the data converter: import them inside `with "
        "workflow.unsafe.imports_passed_through():`",
    ]


def test_an_entry_point_may_import_anything_and_is_never_imported(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "workflows/task.py": "",
            "api/__main__.py": "from workflows.task import TaskWorkflow\n",
            "api/app.py": "from api.__main__ import main\n",
        },
    )
    assert list(violations(imports(root))) == [
        "api/app.py:1 imports api.__main__: an entry point (__main__) is run, never imported"
    ]


def test_an_indirect_path_to_the_workflow_is_shown(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "api/routes.py": "from agency import helper\n",
            "agency/helper.py": "def f():\n    from workflows import task\n",
            "workflows/task.py": "",
        },
    )
    assert list(indirect_violations(imports(root))) == [
        "api.routes reaches workflows.task: api/routes.py:1 imports agency.helper -> "
        "agency/helper.py:2 imports workflows.task"
    ]


def test_a_cycle_is_shown_import_by_import(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "agency/a.py": "from agency import b\n",
            "agency/b.py": "import agency.c\n",
            "agency/c.py": "def f():\n    from agency.a import x\n",
        },
    )
    (cycle,) = cycles(imports(root))
    assert [str(step) for step in cycle] == [
        "agency/a.py:1 imports agency.b",
        "agency/b.py:1 imports agency.c",
        "agency/c.py:2 imports agency.a",
    ]
