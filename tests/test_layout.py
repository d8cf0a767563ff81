"""The package's shape: no import cycles, and a README that names every part."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "batch_sms"
README = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """The package's modules that `path` imports; `from batch_sms.x import y` counts as
    `batch_sms.x.y` when y is a module, else as `batch_sms.x`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                if inner in MODULES:
                    found.add(inner)
                elif node.module in MODULES:
                    found.add(node.module)
    return found


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {name: imports_of(path) - {name} for name, path in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for other in graph[name]:
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return found


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    assert cycles() == []


def test_the_lowest_layer_imports_nothing_above_it() -> None:
    allowed = {"batch_sms.rules", "batch_sms.files.columns"}
    for low in ("batch_sms.models", "batch_sms.errors", "batch_sms.rules"):
        assert imports_of(MODULES[low]) <= allowed, low


def test_the_library_knows_nothing_of_the_terminal() -> None:
    for name, path in MODULES.items():
        if name.startswith("batch_sms.cli") or name == "batch_sms.__main__":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import click|from click|import tqdm|from tqdm)", text, re.M), (
            name
        )


def test_the_readme_names_every_part_of_the_package() -> None:
    parts = sorted(
        {f"batch_sms/{path.parent.relative_to(PACKAGE)}/" for path in PACKAGE.glob("*/*.py")}
        | {f"batch_sms/{path.name}" for path in PACKAGE.glob("*.py")}
    )
    development = README.split("## Development", 1)[1]
    missing = [part for part in parts if f"`{part}`" not in development]
    assert missing == [], "README's Development section should name every part"
