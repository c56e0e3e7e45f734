"""The shipped default bundle's answers to seeded synthetic inputs, for the golden test.

:func:`golden_answers` runs :meth:`Classifier.load` (the default bundle) through every way a
song is classified (``predict`` on arrays, files, bytes and file objects, with spread and with
every window, overlapping hops, embeddings; ``iter_predict``; ``classify_windows`` +
``summarize``; ``prepare`` + ``predict_prepared`` as the batch engine uses them) and reduces each
prediction to plain JSON (:func:`digest`). ``tests/predict/golden/default_bundle.json`` holds the
answers of the code before the ``Classifier`` was cut into its seams; regenerate it only for a
change that is meant to change predictions::

    PYTHONPATH=src python -m tests.predict.golden_bundle tests/predict/golden/default_bundle.json
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from genrekit.errors import GenrekitError
from genrekit.predict import Classifier, Prediction, WindowResults

SR = 16000  # Hz, the default bundle's rate
HIFI_SR = 44100  # Hz
N_EMBEDDING_VALUES = 6  # leading values of an embedding kept in the digest
PART_S = 9.0  # seconds per classify_windows part


def synth(duration_s: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A seeded music-like signal (float32 in [-0.6, 0.6]): plucked chords over a kick and hats."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    y = np.zeros(n)
    beat_s = 0.5
    for i in range(int(math.ceil(duration_s / beat_s))):
        start = int(i * beat_s * sr)
        part = slice(start, min(n, start + int(beat_s * sr)))
        tt = t[part] - t[start]
        root = 98.0 * 2 ** (rng.integers(0, 12) / 12)
        for ratio in (1.0, 1.26, 1.5):
            y[part] += sum(0.25 / k * np.sin(2 * np.pi * root * ratio * k * tt) for k in range(1, 6)) * np.exp(-3 * tt)
        y[part] += 0.8 * np.sin(2 * np.pi * 55 * tt * np.exp(-8 * tt)) * np.exp(-12 * tt)
        y[part] += 0.15 * rng.standard_normal(tt.size) * np.exp(-60 * (tt % 0.25))
    return (0.6 * y / np.abs(y).max()).astype(np.float32)


def inputs() -> dict[str, np.ndarray]:
    """The seeded waveforms (mono at 16 kHz unless the name says otherwise)."""
    stereo = np.stack([synth(12.0, seed=3), synth(12.0, seed=4)])
    rng = np.random.default_rng(7)
    return {
        "short": synth(1.5, seed=1),
        "ten": synth(10.0, seed=2),
        "forty": synth(40.0, seed=5),
        "stereo": stereo,
        "hifi": synth(8.0, sr=HIFI_SR, seed=6),
        "noise": (0.3 * rng.standard_normal(6 * SR)).astype(np.float32),
        "silent": np.zeros(5 * SR, dtype=np.float32),
    }


def digest(result: Prediction | GenrekitError) -> dict[str, Any]:
    """A prediction as plain JSON, its embeddings reduced to a few numbers and norms."""
    if not isinstance(result, Prediction):
        return {"error": type(result).__name__}
    answer = result.to_dict()
    vector = answer.pop("embedding")
    vectors = answer.pop("segment_embeddings")
    if vector is not None:
        answer["embedding"] = {
            "dim": len(vector),
            "head": vector[:N_EMBEDDING_VALUES],
            "norm": float(np.linalg.norm(vector)),
        }
    if vectors is not None:
        answer["segment_embeddings"] = {
            "count": len(vectors),
            "head": [v[:N_EMBEDDING_VALUES] for v in vectors[:2]],
            "norms": [float(np.linalg.norm(v)) for v in vectors],
        }
    return answer


def _in_parts(classifier: Classifier, y: np.ndarray, sr: int, **options: Any) -> Prediction:
    """The whole-song answer built part by part, as the service's background timeline does."""
    gathered = WindowResults(embed=bool(options.get("embed", False)))
    duration_s = y.shape[-1] / sr
    first = 0.0
    while first < duration_s:
        gathered.extend(classifier.classify_windows(y, sr=sr, first_s=first, last_s=first + PART_S, **options))
        first += PART_S
    n_samples = int(round(y.shape[-1] * classifier.sample_rate / sr))
    return classifier.summarize(gathered, n_samples=n_samples, name="<parts>")


def golden_answers(workdir: Path) -> dict[str, dict[str, Any]]:
    """Every case's digest, keyed by case name (files are written under ``workdir``)."""
    classifier = Classifier.load()
    waves = inputs()
    wav = workdir / "forty.wav"
    soundfile.write(wav, np.stack([waves["forty"], synth(40.0, seed=8)], axis=1), SR, subtype="PCM_16")
    hifi_wav = workdir / "hifi.wav"
    soundfile.write(hifi_wav, waves["hifi"], HIFI_SR, subtype="PCM_16")
    answers: dict[str, Prediction | GenrekitError] = {}
    for name, y in waves.items():
        answers[f"predict/{name}"] = classifier.predict(y, sr=HIFI_SR if name == "hifi" else SR)
    answers["predict/forty/every-window"] = classifier.predict(waves["forty"], sr=SR, max_windows=0)
    answers["predict/forty/hop"] = classifier.predict(waves["forty"], sr=SR, hop_s=1.5, max_windows=6, top_k=3)
    answers["predict/ten/embed"] = classifier.predict(waves["ten"], sr=SR, embed=True, max_windows=0)
    answers["predict/stereo/int16"] = classifier.predict(
        (waves["stereo"] * 32767).astype(np.int16), sr=SR, name="int", top_k=0
    )
    answers["predict/wav/excerpts"] = classifier.predict(str(wav), name="wav")
    answers["predict/wav/stream"] = classifier.predict(str(wav), name="wav", max_windows=0, embed=True)
    answers["predict/wav/bytes"] = classifier.predict(wav.read_bytes(), name="wav", max_windows=5)
    with open(hifi_wav, "rb") as handle:
        answers["predict/hifi/file-object"] = classifier.predict(handle, name="hifi", max_windows=0)
    answers["summarize/forty"] = _in_parts(classifier, waves["forty"], SR)
    answers["summarize/hifi/embed"] = _in_parts(classifier, waves["hifi"], HIFI_SR, embed=True)
    sources: list[Any] = [waves["ten"], io.BytesIO(b"not audio at all"), waves["short"]]
    for index, result in enumerate(classifier.iter_predict(sources, names=["a", "b", "c"], sr=SR)):
        answers[f"iter_predict/{index}"] = result
    songs = [
        classifier.prepare(str(wav), name="wav"),
        classifier.prepare(waves["ten"], sr=SR, name="ten"),
        classifier.prepare(waves["short"], sr=SR, name="short"),
        classifier.prepare(waves["silent"], sr=SR, name="silent"),
    ]
    for index, result in enumerate(classifier.predict_prepared(songs, batch_size=3)):
        answers[f"predict_prepared/{index}"] = result
    embedded = [classifier.prepare(waves["stereo"], sr=SR, embed=True, max_windows=0)]
    answers["predict_prepared/embed"] = classifier.predict_prepared(embedded)[0]
    return {name: digest(result) for name, result in answers.items()}


def main(argv: list[str]) -> None:
    """Write the golden answers to ``argv[0]``."""
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        answers = golden_answers(Path(workdir))
    lines = [f"{json.dumps(name)}: {json.dumps(answer, sort_keys=True)}" for name, answer in sorted(answers.items())]
    Path(argv[0]).write_text("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
