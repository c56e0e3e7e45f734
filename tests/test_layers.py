"""The serving path imports no layer above its own, and never torch or the training stack.

Layers, bottom up: audio -> features -> bundle (the file format) -> models -> predict ->
service, cli. Each check imports one module in a fresh interpreter and lists what came with
it; a last check classifies with the default bundle while torch cannot be imported at all.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

TORCH = ("torch", "sklearn", "librosa", "matplotlib", "genrekit.training", "genrekit.evaluation", "genrekit.tuning")
ABOVE = {
    "genrekit.audio": ("genrekit.features", "genrekit.bundle", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.features.spectral": ("genrekit.bundle", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.bundle": ("genrekit.features", "genrekit.models", "genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.models.onnx_runtime": ("genrekit.predict", "genrekit.service", "genrekit.cli"),
    "genrekit.predict": ("genrekit.service", "genrekit.cli"),
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
