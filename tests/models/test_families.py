"""Model families: each declares its trainer, config schema, explainer and search space where it
is defined, and no other room chains on family names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.models.families import FAMILIES, FAMILY_MODULES, TRAINERS, Family, get_family, no_spectrogram
from genrekit.training.config import load_config_file, resolve_config
from genrekit.tuning.space import SEARCH_KEY, parse_search_space
from tests.imports import imported_names

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "genrekit"
CONFIGS = ROOT / "configs"
# Rooms that once chained on family names; they now ask the family's record.
NO_FAMILY_NAMES = (
    "training/trainers.py",
    "training/fitters.py",
    "training/config.py",
    "explain/adapters.py",
    "tuning/objective.py",
    "tuning/space.py",
)


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_declares_its_four_parts(name: str) -> None:
    from genrekit.training.fitters import FITTERS

    family = get_family(name)
    assert isinstance(family, Family) and family.name == name
    assert family.trainer in TRAINERS and family.trainer in FITTERS  # trainer
    family.schema({})  # config schema: the defaults parse
    with pytest.raises(InvalidParameterError):
        family.schema({"no_such_key": 1})
    assert callable(family.explainer)  # explainer adapter
    search = CONFIGS / family.search  # search space
    assert search.is_file()
    data = load_config_file(search)
    assert data.get("family") == name
    if SEARCH_KEY in data:
        assert parse_search_space(data[SEARCH_KEY])
    assert resolve_config(name).family == name  # preset


def test_families_are_declared_in_the_listed_modules() -> None:
    assert set(FAMILY_MODULES) == set(FAMILIES)
    for name, module in FAMILY_MODULES.items():
        assert get_family(name).schema.__module__ in (module, "genrekit.models.neural")
    with pytest.raises(InvalidParameterError, match="unknown family"):
        get_family("transformer")


def test_only_net_families_declare_a_build() -> None:
    with pytest.raises(InvalidParameterError, match="build"):
        Family("x", "net", dict, no_spectrogram, "x.toml")
    with pytest.raises(InvalidParameterError, match="trainer"):
        Family("x", "gradient_boosting", dict, no_spectrogram, "x.toml")


def _chained_names(source: str) -> set[str]:
    """String constants the source compares with, keys tables by, or lists (``==``, ``in``, dict
    keys, tuple/list/set items): where an if/elif chain or a per-family table would name families."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
        elif isinstance(node, ast.Dict):
            parts = [k for k in node.keys if k is not None]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            parts = list(node.elts)
        else:
            continue
        found |= {p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)}
    return found


def test_the_check_sees_a_chain() -> None:
    chain = 'if family == "knn":\n    pass\nelif family in ("mlp", "crnn"):\n    pass\nPRESETS = {"svm": {}}\n'
    assert _chained_names(chain) == {"knn", "mlp", "crnn", "svm"}
    assert not _chained_names('family: str = "cnn2d_logmel"\n')  # a default is not a chain


@pytest.mark.parametrize("relative", NO_FAMILY_NAMES)
def test_no_room_chains_on_family_names(relative: str) -> None:
    source = (SRC / relative).read_text(encoding="utf-8")
    named = sorted(_chained_names(source) & set(FAMILIES))
    assert not named, f"{relative} names families {named}: ask their Family record instead"
    assert "_FAMILIES" not in source  # no BASELINE_FAMILIES / NET_FAMILIES lists either


def test_spectrogram_views_come_from_the_family() -> None:
    from genrekit.explain.adapters import spectrogram_view
    from genrekit.models.cnn import Cnn2dConfig, build_cnn2d
    from genrekit.models.neural import TorchWaveformClassifier

    net, params = build_cnn2d(Cnn2dConfig(n_channels=(2,)), frontend="logmel", feature_params={"n_mels": 16}, n_labels=2, sample_rate=8000)
    model = TorchWaveformClassifier(net, ["a", "b"], sample_rate=8000, window_s=1.0)

    class Card:
        model_type = "cnn2d_logmel"
        features = {"kind": "logmel", **params}
        sample_rate = 8000

    view = spectrogram_view(model, Card())
    assert view.kind == "log-mel" and view.frame_rate_hz == pytest.approx(8000 / params["hop_length"])
    Card.model_type = "knn"
    with pytest.raises(InvalidParameterError, match="no spectrogram saliency for a knn model"):
        spectrogram_view(model, Card())


def test_onnx_export_imports_no_model_family() -> None:
    """The writer of the ONNX graph is registered by the musicnn head module, which calls the
    exporter: the arrow runs heads -> onnx_export only (no circle, not even inside a function)."""
    imported = imported_names(SRC / "models" / "onnx_export.py")
    families = set(FAMILY_MODULES.values())
    assert not [name for name in imported if any(name == m or name.startswith(m + ".") for m in families)]
