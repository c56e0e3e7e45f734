"""The serving path imports no layer above its own, and never torch or the training stack.

Layers, bottom up: audio -> features -> bundle (the file format) -> models -> predict ->
service, cli. Each check imports one module in a fresh interpreter and lists what came with
it; a last check classifies with the default bundle while torch cannot be imported at all.

The workbench floors (see docs/architecture.md) are checked on the source, function-level
imports included: evaluation -> training -> workbench, each importing only downwards; storage
(``genrekit.store``) imports none of its users, and catalog and lifecycle reach it without
the web app; one windowing (``genrekit.audio.windows``) for every room. The crash-surviving
pool (``genrekit.pool``) imports nothing of genrekit but errors and settings, so datasets and
the batch engine both stand on it; the batch engine imports no library tool (``catalog``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imports import imported_names

TORCH = ("torch", "sklearn", "librosa", "matplotlib", "genrekit.training", "genrekit.evaluation", "genrekit.tuning")
ABOVE = {
    "genrekit.audio.windows": ("genrekit.features", "genrekit.bundle", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.audio": ("genrekit.features", "genrekit.bundle", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.features.spectral": ("genrekit.bundle", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.bundle": ("genrekit.features", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.models.onnx_runtime": ("genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.predict": ("genrekit.service", "genrekit.cli"),
    "genrekit.store.queries": ("genrekit.service", "genrekit.catalog", "genrekit.lifecycle", "genrekit.cli", "genrekit.web"),
    "genrekit.service.main": ("genrekit.cli",),
    "genrekit.cli.main": (),
}

HEAVY_FOR_THE_PARSER = ("numpy", "scipy", "onnxruntime", "fastapi", "sqlalchemy")  # `genrekit --help` stays instant

LIST_MODULES = """
import importlib, sys
importlib.import_module(sys.argv[1])
if sys.argv[1] == "genrekit.cli.main":
    sys.modules["genrekit.cli.main"].build_parser()
print("\\n".join(sorted(sys.modules)))
"""

BLOCK_TORCH = """
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "sklearn", "librosa") or name.startswith("genrekit.training"):
            raise ImportError(f"{name} is not importable here")
        return None
sys.meta_path.insert(0, _Blocked())
import numpy as np
from genrekit import Classifier
clf = Classifier.load()
rng = np.random.default_rng(0)
y = (0.3 * np.sin(2 * np.pi * 330 * np.arange(8 * 16000) / 16000) + 0.05 * rng.standard_normal(8 * 16000)).astype(np.float32)
prediction = clf.predict(y, sr=16000, top_k=3)
assert abs(sum(g.score for g in prediction.genres) - 1) < 1e-4 and len(prediction.tags) == 3
print(type(clf.model).__name__)
"""


def _imported_with(module: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", LIST_MODULES, module], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def _matching(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("module", sorted(ABOVE))
def test_no_upward_import_and_no_training_stack(module: str) -> None:
    modules = _imported_with(module)
    assert module in modules
    assert not _matching(modules, ABOVE[module]), f"{module} imports layers above it"
    assert not _matching(modules, TORCH), f"{module} imports the training stack"
    if module == "genrekit.cli.main":
        assert not _matching(modules, HEAVY_FOR_THE_PARSER), "the CLI parser imports heavy packages"


def test_classifier_runs_where_torch_cannot_be_imported() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "OnnxMusicnnHead"


SRC = Path(__file__).resolve().parents[1] / "src" / "genrekit"
ROOMS = sorted(p.stem for p in SRC.iterdir() if not p.stem.startswith("__") and (p.suffix == ".py" or (p / "__init__.py").exists()))
NEVER = {  # room -> rooms it may not import, even inside a function
    "pool": tuple(r for r in ROOMS if r not in ("pool", "errors", "settings")),  # neutral: below datasets and batch
    "batch": ("catalog", "service", "cli", "store", "lifecycle", "training", "evaluation", "tuning", "workbench"),
    "predict": ("batch", "catalog"),  # one song needs no batch engine
    "evaluation": ("training", "workbench", "tuning"),
    "training": ("workbench",),
    "store": ("service", "catalog", "lifecycle", "cli", "web"),  # storage sits below every user of the database
    "catalog": ("service",),  # a library scan reaches the database through store, not the web app
    "lifecycle": ("service",),  # so does retraining
}


@pytest.mark.parametrize("room", sorted(NEVER))
def test_workbench_floors_import_only_downwards(room: str) -> None:
    forbidden = tuple(f"genrekit.{other}" for other in NEVER[room])
    bad = sorted(
        f"{path.relative_to(SRC)}: {name}"
        for path in (SRC / room).rglob("*.py")
        for name in imported_names(path)
        if _matching({name}, forbidden)
    )
    assert not bad, f"{room} imports a floor above it: {bad}"


def test_one_windowing() -> None:
    """The training-only ``features.functional.frame_windows`` is gone: every room cuts windows
    with ``genrekit.audio.windows``."""
    import genrekit.features.functional as functional

    assert not hasattr(functional, "frame_windows")
    users = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "frame_windows" in p.read_text(encoding="utf-8"))
    assert not users, f"frame_windows is still named in {users}"


REPO = SRC.parents[1]
ARCHITECTURE = REPO / "docs" / "architecture.json"


def _module_file(name: str) -> Path | None:
    """The source file that ``import name`` (or ``from a.b import name``) reads, longest match."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        base = REPO.joinpath("src", *parts[:n])
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py")
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
    return None


def _imported_files(path: Path) -> set[Path]:
    """The genrekit files one source file imports (function-level imports included):
    ``from pkg import sub`` reads ``pkg/sub.py``; ``from pkg import name`` reads the file that
    defines or hands on ``name`` (``pkg/__init__.py`` for a package's face)."""
    files = {_module_file(name) for name in imported_names(path)}
    return {f for f in files if f is not None and f != path}


def _import_graph() -> dict[Path, set[Path]]:
    """Source file -> the genrekit files it imports."""
    return {path: _imported_files(path) for path in SRC.rglob("*.py")}


def test_no_import_circles() -> None:
    """No two files import each other, directly or round a loop (Tarjan's strongly connected
    components over the whole package)."""
    graph = _import_graph()
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    circles: list[list[str]] = []

    def visit(node: Path) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(str(member.relative_to(SRC)))
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def _parts() -> dict[str, list[Path]]:
    board = json.loads(ARCHITECTURE.read_text(encoding="utf-8"))
    return {name: [REPO / p for p in part["is"]] for name, part in board["parts"].items()}


def _part_of(path: Path, parts: dict[str, list[Path]]) -> str | None:
    """The part whose longest listed path holds this file (the whiteboard's own rule)."""
    best: tuple[int, str | None] = (-1, None)
    for name, places in parts.items():
        for place in places:
            if (path == place or place in path.parents) and len(place.parts) > best[0]:
                best = (len(place.parts), name)
    return best[1]


def _part_arrows() -> dict[tuple[str, str], list[str]]:
    parts = _parts()
    arrows: dict[tuple[str, str], list[str]] = {}
    for path, targets in _import_graph().items():
        here = _part_of(path, parts)
        for target in targets:
            there = _part_of(target, parts)
            if here and there and here != there:
                arrows.setdefault((here, there), []).append(f"{path.relative_to(SRC)} -> {target.relative_to(SRC)}")
    return arrows


def test_architecture_board_is_true() -> None:
    """docs/architecture.json, read against the code: every "never" is kept, every arrow it draws
    exists, and it draws every arrow the code has (function-level imports included)."""
    board = json.loads(ARCHITECTURE.read_text(encoding="utf-8"))
    found = _part_arrows()
    broken = {f"{a} -> {b} ({why})": found[(a, b)][:3] for a, b, why in board["never"] if (a, b) in found}
    assert not broken, f"nevers broken: {broken}"
    drawn = {(arrow[0], arrow[1]) for arrow in board["arrows"]}
    assert not drawn - set(found), f"drawn but not in the code: {sorted(drawn - set(found))}"
    assert not set(found) - drawn, f"in the code but not drawn: {[(k, found[k][:2]) for k in sorted(set(found) - drawn)]}"


def test_architecture_board_places_every_room() -> None:
    """Every package of src/genrekit stands on a part of the board."""
    parts = _parts()
    rooms = sorted(p for p in SRC.iterdir() if (p / "__init__.py").is_file())
    assert [str(r.relative_to(SRC)) for r in rooms if _part_of(r / "__init__.py", parts) is None] == []
