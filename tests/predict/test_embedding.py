"""Track embeddings: ``Classifier.predict(embed=True)`` with the default model, in PyTorch
and ONNX Runtime, and the pure helpers of :mod:`genrekit.predict.embedding`."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import BundleError, InvalidParameterError
from genrekit.predict import Classifier
from genrekit.bundle.embedding import EmbeddingSpec, embedding_spec
from genrekit.predict.embedding import track_embedding

SR = 16000  # Hz


def _music_like(seconds: float, seed: int) -> np.ndarray:
    """Notes with harmonics plus a little noise: something the music check accepts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    for start in np.arange(0.0, seconds, 0.5):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        mask = (t >= start) & (t < start + 0.5)
        for h in (1, 2, 3):
            y[mask] += np.sin(2 * np.pi * f0 * h * t[mask]) / h
    return (0.2 * y / np.abs(y).max() + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def classifiers() -> dict[str, Classifier]:
    out = {"torch": Classifier.load(runtime="torch")}
    try:
        out["onnx"] = Classifier.load(runtime="onnx")
    except BundleError as error:
        pytest.skip(f"ONNX Runtime unavailable: {error}")
    return out


@pytest.mark.slow
def test_embed_gives_unit_track_and_segment_vectors_in_both_runtimes(classifiers: dict[str, Classifier]) -> None:
    y = _music_like(13.0, seed=0)
    results = {}
    for runtime, clf in classifiers.items():
        assert clf.embedding is not None and clf.embedding.space.endswith("@" + clf.embedding.version)
        pred = clf.predict(y, sr=SR, embed=True)
        track = np.array(pred.embedding)
        segments = np.array(pred.segment_embeddings)
        assert track.shape == (clf.embedding.dim,)
        assert np.linalg.norm(track) == pytest.approx(1.0, abs=1e-5)
        assert segments.shape == (len(pred.segments), clf.embedding.dim)
        assert np.linalg.norm(segments, axis=1) == pytest.approx(1.0, abs=1e-5)
        assert track @ track_embedding(segments) == pytest.approx(1.0, abs=1e-4)
        results[runtime] = track
        plain = clf.predict(y, sr=SR)
        assert plain.embedding is None and plain.segment_embeddings is None
        assert [g.genre for g in plain.genres] == [g.genre for g in pred.genres]
        # Asking for the embedding must not lose the out-of-taxonomy score.
        assert plain.uncertainty is not None and pred.uncertainty is not None
        assert plain.uncertainty.ood_score is not None
        assert pred.uncertainty == plain.uncertainty
    assert np.abs(results["torch"] - results["onnx"]).max() < 1e-4


@pytest.mark.slow
def test_different_music_is_less_similar_than_the_same_music(classifiers: dict[str, Classifier]) -> None:
    clf = classifiers["onnx"]
    a = np.array(clf.predict(_music_like(9.0, seed=1), sr=SR, embed=True).embedding)
    jitter = np.random.default_rng(9).standard_normal(9 * SR).astype(np.float32) * 1e-3
    a_again = np.array(clf.predict(_music_like(9.0, seed=1) + jitter, sr=SR, embed=True).embedding)
    noise = np.random.default_rng(3).standard_normal(9 * SR).astype(np.float32) * 0.1
    b = np.array(clf.predict(noise, sr=SR, embed=True).embedding)
    assert a @ a_again > 0.95, (a @ a_again, a @ b)
    assert a @ b < a @ a_again - 0.05, (a @ a_again, a @ b)


def test_embed_on_a_model_without_embedding_is_refused(classifiers: dict[str, Classifier]) -> None:
    clf = classifiers["torch"]
    bare = Classifier(clf.model, None)
    bare.embedding = None
    with pytest.raises(InvalidParameterError, match="no embedding"):
        bare.predict(np.zeros(SR * 4, np.float32), sr=SR, embed=True)


def test_spec_round_trip_and_malformed_specs() -> None:
    spec = EmbeddingSpec(name="m/e", version="2", blocks=("MSD_musicnn/penultimate",), standardise=True, dim=200)
    assert embedding_spec({"embedding": spec.to_dict()}) == spec and spec.space == "m/e@2"
    assert embedding_spec({}) is None
    with pytest.raises(BundleError):
        embedding_spec({"embedding": {"name": "x"}})
    with pytest.raises(BundleError):
        embedding_spec({"embedding": {**spec.to_dict(), "dim": 0}})


def test_track_embedding_weights_and_normalises() -> None:
    windows = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert track_embedding(windows) == pytest.approx(np.array([1.0, 2.0]) / np.sqrt(5))
    assert track_embedding(windows, np.array([1.0, 0.0, 0.0])) == pytest.approx([1.0, 0.0])
    with pytest.raises(ValueError):
        track_embedding(np.zeros((0, 2)))
