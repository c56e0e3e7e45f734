""""Why?" on the serving path: occlusion and the faithfulness check through ONNX Runtime, without torch.

The NumPy methods must give the PyTorch ones' numbers (same patches, same masks), and the
shipped model explained through its ONNX graph must match the PyTorch model's occlusion.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from genrekit.explain import occlusion
from genrekit.explain.song import ExplainSettings, explain_waveform, load_explainable

SR = 16_000  # Hz, the shipped model's rate
# coarse patches keep the PyTorch side of the comparison to a few seconds
COARSE = ExplainSettings(max_windows=1, patch_s=1.0, patch_bands=3)


def band_score(spec: np.ndarray) -> np.ndarray:
    """A toy model: the mean of bins 4..7 of frames 10..19 (a "band" the score listens to)."""
    return np.asarray(spec)[:, 4:8, 10:20].mean(axis=(1, 2))


def test_numpy_occlusion_finds_the_band_and_the_check_passes() -> None:
    rng = np.random.default_rng(0)
    spec = rng.random((2, 16, 40)).astype(np.float32) + 1.0
    saliency = occlusion.occlusion_saliency(band_score, spec, patch_bins=4, patch_frames=10, batch_size=3)
    band = np.zeros((16, 40), dtype=bool)
    band[4:8, 10:20] = True
    assert (saliency[:, band] > 0.3).all() and (saliency[:, ~band] == 0.0).all()
    check = occlusion.deletion_check(band_score, spec, saliency, patch_bins=4, patch_frames=10, fraction=0.1)
    assert check["passed"] and check["deletion_drop"] > 0.3 and check["random_drop"] < check["deletion_drop"]
    wrong = occlusion.deletion_check(band_score, spec, -saliency, patch_bins=4, patch_frames=10, fraction=0.1)
    assert not wrong["passed"]


def test_numpy_methods_equal_the_pytorch_ones() -> None:
    torch = pytest.importorskip("torch")
    from genrekit.explain import attribution

    rng = np.random.default_rng(1)
    spec = rng.standard_normal((3, 12, 30)).astype(np.float32)
    weights = rng.standard_normal((12, 30)).astype(np.float32)

    def score_np(batch: np.ndarray) -> np.ndarray:
        return np.tanh((np.asarray(batch) * weights).sum(axis=(1, 2)) / 10)

    def score_torch(batch: torch.Tensor) -> torch.Tensor:
        return torch.tanh((batch * torch.from_numpy(weights)).sum(dim=(1, 2)) / 10)

    patch = {"patch_bins": 5, "patch_frames": 7}  # edge patches are cut in both directions
    ours = occlusion.occlusion_saliency(score_np, spec, **patch)
    theirs = attribution.occlusion_saliency(score_torch, torch.from_numpy(spec), **patch).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    mine = occlusion.deletion_check(score_np, spec, ours, **patch)
    other = attribution.deletion_check(score_torch, torch.from_numpy(spec), torch.from_numpy(theirs), **patch)
    assert mine["deletion_drop"] == pytest.approx(other["deletion_drop"], abs=1e-5)
    pooled = occlusion.adaptive_mean_pool(ours, n_bins=5, n_frames=8)
    reference = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(ours).unsqueeze(1), (5, 8)).squeeze(1).numpy()
    np.testing.assert_allclose(pooled, reference, atol=1e-6)


def clip(seconds: float, *, seed: int = 0) -> np.ndarray:
    """Chords over noise: something the shipped model has evidence about."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(0.2 * np.sin(2 * np.pi * f * t) * (1 + np.sign(np.sin(2 * np.pi * 2 * t))) for f in (110, 220, 330, 1760))
    return (y + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_the_shipped_model_is_explained_through_onnx_runtime_with_pytorch_numbers() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    y = clip(3.5)
    card, onnx_model = load_explainable(None)
    assert type(onnx_model).__name__ == "OnnxMusicnnHead"
    ours = explain_waveform(y, onnx_model, card, COARSE)
    torch_card, torch_model = load_explainable(None, runtime="torch")
    theirs = explain_waveform(y, torch_model, torch_card, COARSE)
    assert ours.data["predicted"] == theirs.data["predicted"]
    for label, p in theirs.data["probabilities"].items():
        assert ours.data["probabilities"][label] == pytest.approx(p, abs=1e-4)
    assert ours.maps["occlusion"].shape == theirs.maps["occlusion"].shape == (1, 96, 187)
    np.testing.assert_allclose(ours.maps["occlusion"], theirs.maps["occlusion"], atol=1e-4)
    assert np.abs(theirs.maps["occlusion"]).max() > 1e-3  # the comparison is not between two empty maps
    a, b = ours.data["faithfulness"], theirs.data["faithfulness"]
    assert a["deletion_drop"] == pytest.approx(b["deletion_drop"], abs=1e-4)
    assert list(ours.data["saliency"]["methods"]) == ["occlusion"]


EXPLAIN_WITHOUT_TORCH = """
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "safetensors", "sklearn", "librosa", "matplotlib") or name.startswith("genrekit.training"):
            raise ImportError(f"{name} is not importable here")
        return None
sys.meta_path.insert(0, _Blocked())
import numpy as np
from genrekit.explain.song import ExplainSettings, explain_waveform, load_explainable
card, model = load_explainable(None)
rng = np.random.default_rng(0)
t = np.arange(int(3.5 * 16000)) / 16000
y = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
data = explain_waveform(y, model, card, ExplainSettings(max_windows=1, patch_s=1.0, patch_bands=3)).data
assert abs(sum(w["share"] for w in data["windows"]) - 1) < 1e-3
assert data["saliency"]["map_shape"][0] == 1 and set(data["faithfulness"]) >= {"deletion_drop", "random_drop", "passed"}
print(type(model).__name__, "torch" in sys.modules)
"""


def test_explaining_the_shipped_model_needs_no_torch() -> None:
    result = subprocess.run([sys.executable, "-c", EXPLAIN_WITHOUT_TORCH], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["OnnxMusicnnHead", "False"]


def test_integrated_gradients_are_refused_on_onnx_runtime_with_a_clear_error() -> None:
    from genrekit.errors import InvalidParameterError

    card, model = load_explainable(None)
    with pytest.raises(InvalidParameterError, match="PyTorch"):
        explain_waveform(clip(3.5), model, card, ExplainSettings(max_windows=1, integrated_gradients=True))
    with pytest.raises(InvalidParameterError, match="runtime"):
        load_explainable(None, runtime="onnx", integrated_gradients=True)
