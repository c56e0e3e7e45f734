"""End to end against the original musicnn: our decoding + musicnn input + PyTorch port, and
the serving path (NumPy musicnn input + the bundle's ONNX graph on ONNX Runtime, no torch).

Decodes the golden clips from the shared data with :func:`genrekit.audio.load_audio` at
16 kHz, computes :func:`genrekit.features.functional.musicnn_input` with zero centre
padding (the golden run used librosa 0.10, which pads with zeros; musicnn's own librosa 0.7
reflected) and compares with the taggram of musicnn 0.1.0 on TensorFlow, and the input patches
with musicnn's own input recomputed by librosa (``tests.models.test_musicnn.reference_patches``).
Measured max |error| on the per-window tag probabilities: 1.0e-5 (all four models).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genrekit.audio import load_audio
from genrekit.bundle import read_card, save_bundle
from genrekit.features.spectral import MUSICNN_N_FRAMES, musicnn_input_np
from genrekit.features.functional import musicnn_input, musicnn_patches
from genrekit.models.heads import WINDOW_LENGTH, MusicnnHeadClassifier, MusicnnHeadConfig, musicnn_head_card
from genrekit.models.musicnn import load_pretrained, musicnn_embeddings
from genrekit.models.onnx_runtime import OnnxMusicnnHead, load_onnx_bundle
from tests.models.test_musicnn import load_golden

E2E_TAGGRAM_ATOL = 1e-4  # measured 1.0e-5
PATCH_ATOL = 2e-3  # input patches: float16 rounding of the mel power flips a few values; measured 4.2e-4

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> list[tuple[dict, np.ndarray]]:
    out = []
    for ref in load_golden(shared_data).values():
        y, sr = load_audio(shared_data / str(ref["source"]), sr=16000)
        assert sr == 16000
        out.append((ref, y))
    return out


@pytest.mark.slow
def test_end_to_end_taggram_matches_original(clips: list) -> None:
    models = {name: load_pretrained(name) for name in ("MSD_musicnn", "MTT_vgg")}  # all four: backbone parity tests
    for ref, y in clips:
        patches = musicnn_patches(musicnn_input(y, pad_mode="constant"))
        assert patches.shape == ref["patches"].shape
        np.testing.assert_allclose(patches.numpy(), ref["patches"], rtol=0, atol=PATCH_ATOL)
        for name, model in models.items():
            taggram = musicnn_embeddings(model, patches)["taggram"].numpy()
            expected = ref[f"{name}__taggram"]
            np.testing.assert_allclose(taggram, expected, rtol=0, atol=E2E_TAGGRAM_ATOL, err_msg=f"{ref['source']} {name}")
            np.testing.assert_array_equal(np.argsort(-taggram, 1)[:, :5], np.argsort(-expected, 1)[:, :5])


def test_head_first_window_tags_match_original(clips: list) -> None:
    """A song's first 2.992 s window through the head model gives musicnn's first taggram row.

    Only the first window of a song is comparable: later windows pad their first STFT frame
    themselves, where musicnn's full-song spectrogram sees the preceding audio.
    """
    backbone = load_pretrained("MTT_musicnn")
    model = MusicnnHeadClassifier(["a", "b"], MusicnnHeadConfig(backbones=("MTT_musicnn",), pad_mode="constant"),
                                  {"MTT_musicnn": backbone})  # fmt: skip
    windows = np.stack([y[:WINDOW_LENGTH] for _, y in clips])
    tags = model.predict_tags_windows(windows)["MTT_musicnn"]
    expected = np.stack([ref["MTT_musicnn__taggram"][0] for ref, _ in clips])
    np.testing.assert_allclose(tags, expected, rtol=0, atol=E2E_TAGGRAM_ATOL)
    assert torch.equal(torch.from_numpy(tags).argmax(1), torch.from_numpy(expected).argmax(1))


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> OnnxMusicnnHead:
    """A musicnn head bundle on MSD_musicnn with MTT_musicnn tags, served from its ONNX graph."""
    backbones = {name: load_pretrained(name) for name in ("MSD_musicnn", "MTT_musicnn")}
    config = MusicnnHeadConfig(backbones=("MSD_musicnn",), tag_backbones=("MTT_musicnn",), pad_mode="constant")
    model = MusicnnHeadClassifier(["a", "b"], config, backbones)
    directory = save_bundle(tmp_path_factory.mktemp("onnx") / "b", musicnn_head_card(model, name="parity"), model.bundle_tensors())
    return load_onnx_bundle(directory, read_card(directory))


def _numpy_patches(y: np.ndarray) -> np.ndarray:
    """musicnn's non-overlapping patches ``(n, 187, 96)`` of a whole song, computed in NumPy."""
    log_mel = musicnn_input_np(y, pad_mode="constant")
    n = log_mel.shape[-1] // MUSICNN_N_FRAMES
    return log_mel[:, : n * MUSICNN_N_FRAMES].reshape(96, n, MUSICNN_N_FRAMES).transpose(1, 2, 0)


@pytest.mark.slow
def test_serving_path_taggram_matches_original(clips: list, onnx_model: OnnxMusicnnHead) -> None:
    """NumPy input + ONNX Runtime (the torch-free serving path) against musicnn 0.1.0 on TensorFlow."""
    for ref, y in clips:
        patches = _numpy_patches(y)
        np.testing.assert_allclose(patches, ref["patches"], rtol=0, atol=PATCH_ATOL, err_msg=str(ref["source"]))
        _, tags = onnx_model.predict_patches(patches)
        for name in ("MSD_musicnn", "MTT_musicnn"):
            expected = ref[f"{name}__taggram"]
            np.testing.assert_allclose(tags[name], expected, rtol=0, atol=E2E_TAGGRAM_ATOL, err_msg=f"{ref['source']} {name}")
            np.testing.assert_array_equal(np.argsort(-tags[name], 1)[:, :5], np.argsort(-expected, 1)[:, :5])


def test_serving_path_first_window_tags_match_original(clips: list, onnx_model: OnnxMusicnnHead) -> None:
    """The serving model's own windowing (first 2.992 s window) gives musicnn's first taggram row."""
    windows = np.stack([y[:WINDOW_LENGTH] for _, y in clips])
    _, tags = onnx_model.predict_all_windows(windows)
    for name in ("MSD_musicnn", "MTT_musicnn"):
        expected = np.stack([ref[f"{name}__taggram"][0] for ref, _ in clips])
        np.testing.assert_allclose(tags[name], expected, rtol=0, atol=E2E_TAGGRAM_ATOL)
        np.testing.assert_array_equal(tags[name].argmax(1), expected.argmax(1))
