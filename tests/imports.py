"""What a source file imports, read from its syntax tree (for the tests of the layering)."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_names(path: Path, package: str = "genrekit") -> set[str]:
    """Every ``package.*`` name a source file imports, top level or inside functions:
    ``import a.b`` gives ``a.b``, ``from a.b import c`` gives ``a.b.c`` (relative imports are
    not followed)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == package or name.startswith(package + ".")}
