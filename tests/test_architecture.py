"""The package's shape as docs/architecture.md states it: who may import whom, no cycles
between packages, no module over 400 lines.

The allowed directions are read from the "Allowed dependencies" table of the doc, so the doc
and this test cannot drift: changing a rule means changing the table.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "notebook_tracker"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 400
SKIPPED = {"migrations", "labextension"}  # alembic revisions; the built sidebar


def read_rules() -> tuple[dict[str, str], dict[str, set[str]]]:
    """(member -> layer, layer -> layers it may import) from the doc's table."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Allowed dependencies", 1)
    assert len(section) == 2, "docs/architecture.md lost its '## Allowed dependencies' section"
    members: dict[str, str] = {}
    allowed: dict[str, set[str]] = {}
    for line in section[1].splitlines():
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        layer = cells[0].strip("`")
        for member in re.findall(r"`([^`]+)`", cells[1]):
            assert member not in members, f"{member} is listed twice in the table"
            members[member] = layer
        allowed[layer] = set(re.findall(r"`([^`]+)`", cells[2]))
    assert allowed, "the '## Allowed dependencies' table has no rows"
    return members, allowed


MEMBERS, ALLOWED = read_rules()


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if SKIPPED.intersection(path.relative_to(PACKAGE).parts):
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def member_of(module: str) -> str:
    """The table's name for the part of the package `module` belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__.py"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1] + "/"
    return parts[1] + ".py"


def imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(notebook_tracker module, line) of every import in `path`, function-level ones too."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "notebook_tracker" and len(parts) > 1 and _exists(parts[1]):
                yield ".".join(parts[:2]), node.lineno


def _exists(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def layer_of(module: str) -> str:
    member = member_of(module)
    assert member in MEMBERS, (
        f"{member} is in no row of docs/architecture.md's 'Allowed dependencies' table: add it "
        "to the layer it belongs to."
    )
    return MEMBERS[member]


def layer_edges() -> dict[tuple[str, str], list[str]]:
    """(importing layer, imported layer) -> where, for imports that cross layers."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, path in modules():
        source = layer_of(module)
        for target_module, line in imported(module, path):
            target = layer_of(target_module)
            if target != source:
                where = f"{path.relative_to(ROOT)}:{line} imports {target_module}"
                edges.setdefault((source, target), []).append(where)
    return edges


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_documented_rules_have_no_cycle_and_name_only_known_layers():
    unknown = {t for targets in ALLOWED.values() for t in targets} - set(ALLOWED) - {"any"}
    assert not unknown, f"the table allows imports of layers it does not define: {unknown}"
    graph = {k: v - {"any"} for k, v in ALLOWED.items()}
    assert find_cycle(graph) is None, f"the documented directions form a cycle: {find_cycle(graph)}"


def test_every_part_of_the_package_is_in_the_table():
    parts = {member_of(module) for module, _ in modules()}
    missing = sorted(parts - set(MEMBERS))
    assert not missing, f"add {missing} to docs/architecture.md's 'Allowed dependencies' table"


def test_imports_between_layers_follow_the_documented_directions():
    wrong = [
        f"{source} -> {target}: {wheres[0]}" + (f" (+{len(wheres) - 1} more)" if wheres[1:] else "")
        for (source, target), wheres in sorted(layer_edges().items())
        if target not in ALLOWED[source] and "any" not in ALLOWED[source]
    ]
    assert not wrong, "imports against docs/architecture.md's directions:\n" + "\n".join(wrong)


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    edges = layer_edges()
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    cycle = find_cycle(graph)
    if cycle is not None:
        steps = [edges[(a, b)][0] for a, b in zip(cycle, cycle[1:], strict=False)]
        pytest.fail("import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(steps))


@pytest.mark.parametrize("path", [p for _, p in modules()], ids=[m for m, _ in modules()])
def test_no_module_is_over_400_lines(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, (
        f"{path.relative_to(ROOT)} has {lines} lines: split it by job (at most {MAX_LINES})"
    )


def environment_reads(tree: ast.AST) -> Iterator[int]:
    """Lines reading a variable straight from the process environment: `os.getenv(...)`,
    `os.environ.get(...)`, `os.environ[...]` (not assignments, and not copies handed to a child
    process such as `{**os.environ, ...}`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = ast.unparse(node.func)
            if target in ("os.getenv", "os.environ.get"):
                yield node.lineno
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if ast.unparse(node.value) == "os.environ":
                yield node.lineno


def test_only_env_py_reads_environment_variables():
    readers = [
        f"{path.relative_to(ROOT)}:{line}"
        for module, path in modules()
        if module != "notebook_tracker.env"
        for line in environment_reads(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not readers, (
        "read environment variables through an accessor in notebook_tracker/env.py (name, "
        "default, parser), not os.environ: " + ", ".join(readers)
    )
