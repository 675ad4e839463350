"""The composition root imports one way: commands over the demo over the operations, no circle."""

import ast
from pathlib import Path

import carmen

ROOT = Path(carmen.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every carmen module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def test_no_module_of_carmen_reaches_itself_through_its_imports():
    paths = {module_name(path): path for path in ROOT.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}
    graph["carmen"] = set()  # the package itself is empty; importing it runs nothing
    circles = []

    def visit(name: str, trail: list[str]) -> None:
        for target in graph[name]:
            if target in trail:
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif len(trail) < len(graph):
                visit(target, [*trail, target])

    for start in graph:
        visit(start, [start])
    assert circles == []


def test_the_demo_calls_the_operations_not_the_command_line():
    demo = imports_of(ROOT / "demo.py", {"carmen.cli", "carmen.operations"})
    assert demo == {"carmen.operations"}
