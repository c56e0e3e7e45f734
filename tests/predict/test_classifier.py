"""Tests of genrekit.predict: window slicing, aggregation, tags, checks, and the Classifier
on every kind of input, with a tiny deterministic model saved as a real bundle (and, where
shared data is present, with the default bundle on a real clip)."""

from __future__ import annotations

import dataclasses

import io
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from genrekit.bundle import ModelCard, save_bundle
from genrekit.errors import AudioTooLongError, EmptyAudioError, GenrekitError, InvalidParameterError
from genrekit.models.loaders import register_model_type
from genrekit.predict import (
    WARNING_NOT_MUSIC,
    WARNING_SHORT,
    WARNING_SILENT,
    Classifier,
    _WindowSlicer,
    aggregate_probabilities,
    is_music,
    merge_tag_scores,
    music_evidence,
    rms_dbfs,
    spread_starts,
)

TINY_SR = 8000  # Hz
TINY_WINDOW_S = 1.0  # s
TINY_LABELS = ["quiet", "tonal", "noisy"]
TINY_TAGS = {"MSD": ["Rock", "calm"], "MTT": ["rock", "loud"]}


class TinyModel:
    """A deterministic WaveformClassifier: softmax of a linear map of (level, zero-crossing rate, 1)."""

    labels = TINY_LABELS
    sample_rate = TINY_SR
    window_s = TINY_WINDOW_S
    tag_names = TINY_TAGS

    def __init__(self, weight: np.ndarray) -> None:
        self.weight = np.asarray(weight, dtype=np.float64)
        self.batch_sizes: list[int] = []
        self.n_tag_calls = 0

    @staticmethod
    def _features(windows: np.ndarray) -> np.ndarray:
        level = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1))
        zcr = np.mean(np.abs(np.diff(np.signbit(windows), axis=1)), axis=1)
        return np.stack([10 * level, 10 * zcr, np.ones(len(windows))], axis=1)

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(windows))
        logits = self._features(windows) @ self.weight.T
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict_tags_windows(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        self.n_tag_calls += 1
        f = self._features(windows)
        sig = 1 / (1 + np.exp(-(f[:, :2] - 1.0)))
        return {"MSD": sig.astype(np.float32), "MTT": sig[:, ::-1].astype(np.float32) * 0.5}


TINY_WEIGHT = np.array([[-4.0, 0.0, 1.0], [1.0, -2.0, 0.0], [1.0, 2.0, -1.0]])


@register_model_type("tiny_test")
def _load_tiny(card: ModelCard, tensors: dict[str, torch.Tensor]) -> TinyModel:
    return TinyModel(tensors["weight"].numpy())


def save_tiny_bundle(directory: Path) -> Path:
    """Write the tiny model as a real bundle (card + safetensors)."""
    card = ModelCard(
        name="tiny-test",
        version="0.0.1",
        model_type="tiny_test",
        labels=TINY_LABELS,
        sample_rate=TINY_SR,
        window_s=TINY_WINDOW_S,
        tags=[t for names in TINY_TAGS.values() for t in names],
    )
    return save_bundle(directory, card, {"weight": torch.tensor(TINY_WEIGHT, dtype=torch.float32)})


def music_like(duration_s: float, sr: int = TINY_SR, seed: int = 0) -> np.ndarray:
    """A crude music-like signal: notes of a few harmonics with decays and noisy beats."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    note_s = 0.25
    for i in range(int(math.ceil(duration_s / note_s))):
        start = int(i * note_s * sr)
        seg = slice(start, min(n, start + int(note_s * sr)))
        tt = t[seg] - t[start]
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        env = np.exp(-tt * 6)
        y[seg] += sum(0.3 / k * np.sin(2 * np.pi * f0 * k * tt) for k in range(1, 5)) * env
        if i % 2 == 0:
            y[seg] += 0.2 * rng.standard_normal(len(tt)) * np.exp(-tt * 40)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture()
def tiny() -> Classifier:
    return Classifier(TinyModel(TINY_WEIGHT))


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


# ----------------------------------------------------------------------------- pure helpers


def test_rms_dbfs_of_full_scale_sine_is_minus_3_db() -> None:
    t = np.arange(8000) / 8000
    assert rms_dbfs(np.sin(2 * np.pi * 100 * t)) == pytest.approx(-3.0103, abs=1e-3)
    assert rms_dbfs(np.zeros(10)) == pytest.approx(-200.0)


def test_aggregate_mean_and_log_mean() -> None:
    probs = np.array([[0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_allclose(aggregate_probabilities(probs), [0.7, 0.3])
    geo = np.sqrt(probs[0] * probs[1])
    np.testing.assert_allclose(aggregate_probabilities(probs, method="log_mean"), geo / geo.sum())
    np.testing.assert_allclose(aggregate_probabilities(probs, weights=np.array([0.0, 1.0])), [0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"probs": np.zeros((0, 3))},
        {"probs": np.ones((2, 2)) / 2, "method": "median"},
        {"probs": np.ones((2, 2)) / 2, "weights": np.array([1.0, -1.0])},
        {"probs": np.ones((2, 2)) / 2, "weights": np.zeros(2)},
    ],
)
def test_aggregate_rejects_bad_input(kwargs: dict) -> None:
    probs = kwargs.pop("probs")
    with pytest.raises(InvalidParameterError):
        aggregate_probabilities(probs, **kwargs)


def test_merge_tag_scores_lowercases_and_keeps_max() -> None:
    merged = merge_tag_scores(
        {"MSD": np.array([0.2, 0.9]), "MTT": np.array([0.6, 0.1])},
        {"MSD": ["Rock", "Hip-Hop"], "MTT": ["rock", "guitar"]},
    )
    assert merged == pytest.approx({"rock": 0.6, "hip-hop": 0.9, "guitar": 0.1})
    with pytest.raises(InvalidParameterError):
        merge_tag_scores({"MSD": np.array([0.2])}, {"MSD": ["a", "b"]})


def _slice(y: np.ndarray, window: int, hop: int, block: int) -> list[tuple[int, int, np.ndarray]]:
    slicer = _WindowSlicer(window, hop)
    out = []
    for i in range(0, len(y), block):
        out += [(w.start, w.n_valid, w.samples.copy()) for w in slicer.push(y[i : i + block])]
    out += [(w.start, w.n_valid, w.samples.copy()) for w in slicer.finish()]
    return out


@pytest.mark.parametrize("block", [1, 7, 10, 25, 1000])
def test_planned_windows_are_cut_at_their_starts(block: int) -> None:
    y = np.arange(50, dtype=np.float32)
    slicer = _WindowSlicer(10, 10, starts=[3, 21, 38])
    got = [w for i in range(0, len(y), block) for w in slicer.push(y[i : i + block])] + list(slicer.finish())
    assert [(w.start, w.n_valid) for w in got] == [(3, 10), (21, 10), (38, 10)]
    for w in got:
        np.testing.assert_array_equal(w.samples, y[w.start : w.start + 10])
    # planned past the end (a length estimated too long): one window closes at the end instead
    short = _WindowSlicer(10, 10, starts=[3, 21, 38])
    got = [w for i in range(0, 30, block) for w in short.push(y[i : min(i + block, 30)])] + list(short.finish())
    assert [(w.start, w.n_valid) for w in got] == [(3, 10), (20, 10)]
    np.testing.assert_array_equal(got[-1].samples, y[20:30])


@pytest.mark.parametrize("block", [1, 7, 10, 25, 1000])
def test_window_slicer_is_independent_of_block_size(block: int) -> None:
    y = np.arange(25, dtype=np.float32)
    windows = _slice(y, window=10, hop=10, block=block)
    assert [(s, n) for s, n, _ in windows] == [(0, 10), (10, 10), (15, 10)]  # last one end-aligned
    for start, n_valid, samples in windows:
        np.testing.assert_array_equal(samples, y[start : start + n_valid])


def test_window_slicer_overlap_exact_fit_short_and_sparse() -> None:
    y = np.arange(20, dtype=np.float32)
    assert [s for s, _, _ in _slice(y, 10, 5, 3)] == [0, 5, 10]
    assert [s for s, _, _ in _slice(y, 10, 10, 3)] == [0, 10]  # exact fit: no extra window
    short = _slice(np.ones(4, dtype=np.float32), 10, 10, 3)
    assert len(short) == 1 and short[0][:2] == (0, 4)
    np.testing.assert_array_equal(short[0][2], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert [s for s, _, _ in _slice(np.arange(45, dtype=np.float32), 10, 20, 4)] == [0, 20, 35]


def test_music_evidence_flags_noise_tone_and_pauses_but_not_music_like() -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    t = np.arange(6 * sr) / sr
    noise = 0.3 * rng.standard_normal(6 * sr)
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    # speech-like: 200 ms voiced bursts (harmonics of a gliding 120 Hz pitch) between 250 ms pauses
    burst = (t % 0.45) < 0.2
    speechy = burst * sum(np.sin(2 * np.pi * 120 * (1 + 0.2 * np.sin(3 * t)) * k * t) / k for k in range(1, 10))
    for signal in (noise, sine, speechy):
        assert not is_music(music_evidence(signal.reshape(2, -1).astype(np.float32), sr))
    assert is_music(music_evidence(music_like(6.0, sr).reshape(2, -1), sr))
    with pytest.raises(InvalidParameterError):
        music_evidence(np.zeros(100, dtype=np.float32), sr)


# ----------------------------------------------------------------------------- Classifier


def test_predict_array_schema(tiny: Classifier) -> None:
    y = music_like(5.5)
    pred = tiny.predict(y, sr=TINY_SR, top_k=3)
    scores = [g.score for g in pred.genres]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-6)
    assert sorted(g.genre for g in pred.genres) == sorted(TINY_LABELS)
    assert pred.name == "<array>" and pred.duration_s == pytest.approx(5.5)
    assert pred.model.name == "unnamed"
    # segments: 1 s windows at 0..4 s plus one end-aligned window at 4.5 s; they cover the input
    assert [s.start_s for s in pred.segments] == [0.0, 1.0, 2.0, 3.0, 4.0, 4.5]
    assert pred.segments[-1].end_s == pytest.approx(pred.duration_s)
    assert all(b.start_s <= a.end_s for a, b in zip(pred.segments, pred.segments[1:]))
    assert len(pred.tags) == 3 and pred.tags[0].score >= pred.tags[-1].score
    assert all(t.tag == t.tag.lower() for t in pred.tags)
    assert pred.warnings == []
    as_dict = pred.to_dict()
    assert set(as_dict) == {
        "name", "duration_s", "model", "genres", "segments", "tags", "tag_groups", "warnings", "uncertainty",
        "complete", "embedding", "segment_embeddings", "shares",
    }
    for segment in as_dict["segments"]:
        assert segment["runner_up"]["genre"] != segment["genre"] and segment["runner_up"]["score"] <= segment["score"]
    assert as_dict["uncertainty"]["level"] in ("confident", "mixed", "unknown")
    assert as_dict["complete"] is True and as_dict["embedding"] is None


def test_predict_aggregates_window_probabilities(tiny: Classifier) -> None:
    y = music_like(4.0)
    pred = tiny.predict(y, sr=TINY_SR, top_k=0)
    windows = y.reshape(4, TINY_SR)
    expected = TinyModel(TINY_WEIGHT).predict_proba_windows(windows).mean(axis=0)
    got = {g.genre: g.score for g in pred.genres}
    np.testing.assert_allclose([got[label] for label in TINY_LABELS], expected, rtol=1e-5)
    assert pred.tags == [] and tiny.model.n_tag_calls == 0


def test_predict_hop_gives_overlapping_windows(tiny: Classifier) -> None:
    pred = tiny.predict(music_like(4.0), sr=TINY_SR, hop_s=0.5)
    assert [s.start_s for s in pred.segments] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_prepared_songs_give_predict_and_can_run_again(tiny: Classifier) -> None:
    """The batch engine runs a failed batch's songs again one by one: a second run is the same."""
    waves = [music_like(4.5, seed=1), music_like(0.5, seed=2), music_like(7.0, seed=3)]
    songs = [tiny.prepare(y, sr=TINY_SR, top_k=3, hop_s=0.75) for y in waves]
    expected = [tiny.predict(y, sr=TINY_SR, top_k=3, hop_s=0.75).to_dict() for y in waves]
    first = [p.to_dict() for p in tiny.predict_prepared(songs, batch_size=4)]
    again = [tiny.predict_prepared([song])[0].to_dict() for song in songs]
    assert first == again == expected


def test_spread_starts_centres_windows_in_equal_parts() -> None:
    starts = spread_starts(20 * TINY_SR, window_length=TINY_SR, hop_length=TINY_SR, max_windows=4)
    assert starts.tolist() == [2 * TINY_SR, 7 * TINY_SR, 12 * TINY_SR, 17 * TINY_SR]
    odd = spread_starts(1003, window_length=100, hop_length=100, max_windows=3)
    assert odd.tolist() == [117, 451, 785] and odd.dtype == np.int64
    one = spread_starts(1000, window_length=100, hop_length=100, max_windows=1)
    assert one.tolist() == [450]
    # no spreading where the regular windows (10 + the closing one) are not more than asked
    assert spread_starts(1000, window_length=100, hop_length=100, max_windows=10) is None
    assert spread_starts(1050, window_length=100, hop_length=100, max_windows=11) is None
    assert spread_starts(1050, window_length=100, hop_length=100, max_windows=10) is not None
    assert spread_starts(80, window_length=100, hop_length=100, max_windows=1) is None
    with pytest.raises(InvalidParameterError):
        spread_starts(1000, window_length=100, hop_length=100, max_windows=0)


def test_max_windows_spreads_windows_over_the_song(tiny: Classifier, tmp_path: Path) -> None:
    y = music_like(20.0)
    pred = tiny.predict(y, sr=TINY_SR, max_windows=4)
    assert [(s.start_s, s.end_s) for s in pred.segments] == [(2.0, 3.0), (7.0, 8.0), (12.0, 13.0), (17.0, 18.0)]
    assert pred.duration_s == 20.0
    path = tmp_path / "song.wav"
    sf.write(path, y, TINY_SR)
    from_file = tiny.predict(io.BytesIO(path.read_bytes()), max_windows=4)
    assert [(s.start_s, s.end_s, s.genre) for s in from_file.segments] == [(s.start_s, s.end_s, s.genre) for s in pred.segments]
    np.testing.assert_allclose([s.score for s in from_file.segments], [s.score for s in pred.segments], atol=1e-5)
    assert len(tiny.predict(y, sr=TINY_SR, max_windows=1).segments) == 1
    assert len(tiny.predict(y, sr=TINY_SR, max_windows=100).segments) == 20  # never denser than hop_s
    assert len(tiny.predict(y, sr=TINY_SR, max_windows=0).segments) == 20  # 0: every window
    with pytest.raises(InvalidParameterError):
        tiny.predict(y, sr=TINY_SR, max_windows=-1)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_spread_windows_decode_only_the_excerpts(
    tiny: Classifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """A song at another rate than the model's: the excerpts are read by seeking (the full
    decoder is never called) and give the windows a full decode gives."""
    import genrekit.audio
    from tests.audio.signals import ffmpeg_encode

    sr = 22050
    y = music_like(30.0, sr=sr, seed=3).astype(np.float32)
    path = tmp_path / f"song.{fmt}"
    if fmt == "mp3":
        sf.write(tmp_path / "song-src.wav", y, sr, subtype="PCM_16")
        ffmpeg_encode(tmp_path / "song-src.wav", path, ["-c:a", "libmp3lame", "-b:a", "128k"])
    else:
        sf.write(path, y, sr, subtype="PCM_16")
    full_decode, _ = genrekit.audio.load_audio(path, sr=TINY_SR)
    expected = tiny.predict(full_decode, sr=TINY_SR, max_windows=5, top_k=2)

    def no_full_decode(*args, **kwargs):
        raise AssertionError("the full decoder was called")

    monkeypatch.setattr(genrekit.audio, "iter_audio_blocks", no_full_decode)
    got = tiny.predict(path, max_windows=5, top_k=2)
    starts = [s.start_s for s in got.segments]
    assert len(starts) == 5 and starts == sorted(starts) and starts[0] > 0
    assert got.duration_s == pytest.approx(30.0, abs=1e-3)
    for a, b in zip(got.segments, expected.segments):
        assert a.start_s == pytest.approx(b.start_s, abs=1e-3) and a.genre == b.genre
        assert a.score == pytest.approx(b.score, abs=1e-4)
    np.testing.assert_allclose([g.score for g in got.genres], [g.score for g in expected.genres], atol=1e-4)
    assert [t.tag for t in got.tags] == [t.tag for t in expected.tags]


def test_spread_windows_fall_back_to_the_full_decoder_for_a_truncated_file(tiny: Classifier, tmp_path: Path) -> None:
    """A WAV cut short: its header announces more than is there, so the excerpts are not
    trusted; the full decoder keeps what decodes (more than half), the windows planned over
    the announced 20 s are cut where the audio reaches them, and one window closes at the end."""
    path = tmp_path / "song.wav"
    sf.write(path, music_like(20.0), TINY_SR, subtype="PCM_16")
    data = path.read_bytes()
    cut = data[: len(data) * 3 // 4]
    pred = tiny.predict(cut, max_windows=4)
    assert pred.duration_s == pytest.approx(15.0, abs=0.01)
    assert [s.start_s for s in pred.segments[:3]] == [2.0, 7.0, 12.0]
    assert len(pred.segments) == 4 and pred.segments[-1].end_s == pred.duration_s
    assert len(tiny.predict(cut, max_windows=0).segments) == 15


def test_spread_windows_of_a_format_without_seeking(tiny: Classifier, tmp_path: Path) -> None:
    """M4A goes through ffmpeg: decoded in full, but still classified from the spread windows."""
    from tests.audio.signals import ffmpeg_encode

    y = music_like(20.0)
    sf.write(tmp_path / "song.wav", y, TINY_SR, subtype="PCM_16")
    path = ffmpeg_encode(tmp_path / "song.wav", tmp_path / "song.m4a", ["-c:a", "aac", "-b:a", "96k"])
    pred = tiny.predict(path, max_windows=4)
    assert [s.start_s for s in pred.segments] == pytest.approx([2.0, 7.0, 12.0, 17.0], abs=0.05)
    assert pred.duration_s == pytest.approx(20.0, abs=0.1)
    assert len(tiny.predict(path, max_windows=0).segments) == 20


def test_card_sets_the_default_max_windows(tiny_bundle: Path, tmp_path: Path) -> None:
    import json

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for file in tiny_bundle.iterdir():
        (bundle / file.name).write_bytes(file.read_bytes())
    card_path = next(bundle.glob("*.json"))
    card = json.loads(card_path.read_text())
    card["config"] = {**card.get("config", {}), "max_windows": 3}
    card_path.write_text(json.dumps(card))
    y = music_like(20.0)
    clf = Classifier.load(bundle)
    assert clf.max_windows == 3
    assert len(clf.predict(y, sr=TINY_SR).segments) == 3
    assert len(clf.predict(y, sr=TINY_SR, max_windows=0).segments) == 20
    assert Classifier.load(bundle, max_windows=0).max_windows == 0
    assert Classifier.load(tiny_bundle).max_windows == 0


def test_predict_stereo_integer_and_resampled_arrays(tiny: Classifier) -> None:
    y = music_like(3.0)
    mono = tiny.predict(y, sr=TINY_SR)
    stereo = tiny.predict(np.stack([y, y]), sr=TINY_SR)
    pcm = tiny.predict((y * 32767).astype(np.int16), sr=TINY_SR)
    upsampled = tiny.predict(np.repeat(y, 2), sr=2 * TINY_SR)
    assert stereo.genres == mono.genres
    assert pcm.genres[0].score == pytest.approx(mono.genres[0].score, abs=1e-3)
    assert upsampled.duration_s == pytest.approx(3.0, abs=1e-3)


def test_silent_and_short_inputs_are_flagged(tiny: Classifier) -> None:
    silent = tiny.predict(np.zeros(3 * TINY_SR, dtype=np.float32), sr=TINY_SR)
    assert WARNING_SILENT in silent.warnings
    assert sum(g.score for g in silent.genres) == pytest.approx(1.0, abs=1e-6)
    quiet = tiny.predict(music_like(3.0) * 1e-4, sr=TINY_SR)
    assert WARNING_SILENT in quiet.warnings
    short = tiny.predict(music_like(0.4), sr=TINY_SR)
    assert WARNING_SHORT in short.warnings
    assert len(short.segments) == 1 and short.segments[0].end_s == pytest.approx(0.4)


def test_noise_and_tone_are_flagged_not_music(tiny: Classifier) -> None:
    rng = np.random.default_rng(1)
    noise = tiny.predict((0.3 * rng.standard_normal(4 * TINY_SR)).astype(np.float32), sr=TINY_SR)
    tone = tiny.predict(0.5 * np.sin(2 * np.pi * 440 * np.arange(4 * TINY_SR) / TINY_SR), sr=TINY_SR)
    assert WARNING_NOT_MUSIC in noise.warnings and WARNING_NOT_MUSIC in tone.warnings
    assert len(noise.genres) == len(TINY_LABELS)  # still answered


def test_silent_windows_do_not_vote(tiny: Classifier) -> None:
    y = music_like(2.0)
    with_gap = np.concatenate([np.zeros(2 * TINY_SR, dtype=np.float32), y])
    a = tiny.predict(y, sr=TINY_SR).genres
    b = tiny.predict(with_gap, sr=TINY_SR).genres
    assert [g.genre for g in a] == [g.genre for g in b]
    assert a[0].score == pytest.approx(b[0].score, abs=1e-6)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"source": np.zeros(100)}, InvalidParameterError),  # no sr
        ({"source": np.zeros(100), "sr": 0}, InvalidParameterError),
        ({"source": np.zeros((2, 2, 2)), "sr": 8000}, InvalidParameterError),
        ({"source": np.array([0.0, np.nan]), "sr": 8000}, InvalidParameterError),
        ({"source": np.zeros(0), "sr": 8000}, EmptyAudioError),
        ({"source": np.zeros(100), "sr": 8000, "hop_s": 0}, InvalidParameterError),
        ({"source": np.zeros(100), "sr": 8000, "top_k": -1}, InvalidParameterError),
        ({"source": np.zeros(100), "sr": 8000, "batch_size": 0}, InvalidParameterError),
        ({"source": b"RIFF", "sr": 8000}, InvalidParameterError),  # sr only for arrays
        ({"source": np.zeros(3 * TINY_SR), "sr": TINY_SR, "max_duration_s": 2.0}, AudioTooLongError),
    ],
)
def test_predict_rejects_bad_input(tiny: Classifier, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        tiny.predict(**kwargs)


@pytest.mark.slow
def test_long_input_is_streamed_with_bounded_memory(tiny: Classifier, monkeypatch: pytest.MonkeyPatch) -> None:
    """One hour of audio (115 MB as float32) through a fake streaming decoder: batches and
    memory stay bounded, every window is classified."""
    import genrekit.audio

    n_blocks, block_s = 120, 30.0
    block = music_like(block_s)
    requested = {}

    def fake_blocks(source, sr, block_s=30.0, mono=True, **kwargs):
        requested.update(sr=sr, mono=mono)
        for _ in range(n_blocks):
            yield block.copy()

    monkeypatch.setattr(genrekit.audio, "iter_audio_blocks", fake_blocks)
    tracemalloc.start()
    try:
        pred = tiny.predict("long-mix.mp3", batch_size=8, top_k=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert requested == {"sr": TINY_SR, "mono": True}
    assert pred.duration_s == pytest.approx(3600.0)
    assert len(pred.segments) == 3600
    assert max(tiny.model.batch_sizes) <= 8
    assert peak < 40e6  # bytes; the whole input would be 115 MB


def test_sources_path_bytes_file_and_array_agree(tiny: Classifier, tmp_path: Path) -> None:
    y = music_like(3.5)
    path = tmp_path / "clip.wav"
    sf.write(path, y, TINY_SR, subtype="FLOAT")
    data = path.read_bytes()
    preds = [
        tiny.predict(path),
        tiny.predict(str(path)),
        tiny.predict(data),
        tiny.predict(io.BytesIO(data), name="stream"),
        tiny.predict(y, sr=TINY_SR),
    ]
    ref = preds[-1]
    for pred in preds[:-1]:
        assert pred.duration_s == pytest.approx(ref.duration_s, abs=1e-3)
        assert [g.genre for g in pred.genres] == [g.genre for g in ref.genres]
        np.testing.assert_allclose([g.score for g in pred.genres], [g.score for g in ref.genres], atol=1e-5)
        assert len(pred.segments) == len(ref.segments)
    assert preds[0].name == str(path) and preds[2].name == "<bytes>" and preds[3].name == "stream"


def test_silent_file_is_flagged_not_refused(tiny: Classifier, tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(2 * TINY_SR, dtype=np.float32), TINY_SR)
    pred = tiny.predict(path)
    assert pred.warnings == [WARNING_SILENT] and pred.duration_s == pytest.approx(2.0)


def test_predict_many_reports_errors_in_place(tiny: Classifier, tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    sf.write(good, music_like(2.0), TINY_SR)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 4)
    results = tiny.predict_many([good, bad, good], return_errors=True)
    assert [type(r).__name__ for r in results][0] == "Prediction"
    assert isinstance(results[1], GenrekitError)
    assert results[2].top_genre == results[0].top_genre
    with pytest.raises(GenrekitError):
        tiny.predict_many([bad])


def test_load_bundle_card_and_model_info(tiny_bundle: Path) -> None:
    clf = Classifier.load(tiny_bundle)
    assert clf.card is not None and clf.card.labels == TINY_LABELS
    assert clf.model_info.name == "tiny-test" and clf.model_info.version == "0.0.1"
    pred = clf.predict(music_like(2.0), sr=TINY_SR)
    assert pred.model == clf.model_info


# ----------------------------------------------------------------------------- ONNX runtime


@pytest.mark.slow
def test_onnx_runtime_matches_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genrekit import settings
    from genrekit.bundle import ONNX_FILENAME
    from genrekit.models import heads
    from genrekit.models.onnx_runtime import OnnxMusicnnHead

    monkeypatch.setenv(settings.CACHE_DIR_ENV, str(tmp_path / "cache"))
    torch.manual_seed(0)
    config = heads.MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",), tag_backbones=("MTT_musicnn",))
    model = heads.MusicnnHeadClassifier(["a", "b", "c"], config)
    card = heads.musicnn_head_card(model, name="onnx-test")
    bundle = save_bundle(tmp_path / "bundle", card, model.bundle_tensors())
    assert (bundle / ONNX_FILENAME).is_file()  # saving a musicnn head bundle writes its graph
    fast = Classifier.load(bundle, runtime="onnx")
    slow = Classifier.load(bundle, runtime="torch")
    assert isinstance(fast.model, OnnxMusicnnHead)
    assert not (tmp_path / "cache").exists()  # nothing exported on load
    y = music_like(7.0, sr=16000)
    a, b = fast.predict(y, sr=16000, top_k=100), slow.predict(y, sr=16000, top_k=100)
    np.testing.assert_allclose([g.score for g in a.genres], [g.score for g in b.genres], atol=1e-4)
    assert [t.tag for t in a.tags] == [t.tag for t in b.tags]
    assert {"piano", "vocals", "female vocalists"} <= {t.tag for t in a.tags}  # MTT's and MSD's vocabularies
    assert Classifier.load(bundle).model.__class__ is OnnxMusicnnHead  # auto
    with pytest.raises(InvalidParameterError):
        Classifier.load(bundle, runtime="tensorflow")

    legacy = save_bundle(tmp_path / "legacy", card, model.bundle_tensors(), artifacts=False)
    assert not (legacy / ONNX_FILENAME).exists()
    cached = Classifier.load(legacy, runtime="onnx")  # a bundle without a graph: exported once to the cache
    assert isinstance(cached.model, OnnxMusicnnHead) and list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    np.testing.assert_allclose(cached.predict(y, sr=16000).genres[0].score, a.genres[0].score, atol=1e-6)


@pytest.mark.slow
def test_ood_score_is_the_same_in_onnx_runtime_and_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genrekit import settings
    from genrekit.models import heads
    from genrekit.models.onnx_runtime import OnnxMusicnnHead

    monkeypatch.setenv(settings.CACHE_DIR_ENV, str(tmp_path / "cache"))
    torch.manual_seed(0)
    config = heads.MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",), ood=True)
    model = heads.MusicnnHeadClassifier(["a", "b", "c"], config)
    with torch.no_grad():
        model.head.ood_weight.normal_(0.0, 0.2)
        model.head.ood_energy.fill_(-0.5)
        model.head.ood_bias.fill_(0.1)
    card = heads.musicnn_head_card(model, name="ood-test")
    card = dataclasses.replace(card, config={**card.config, "uncertainty": {"ood_threshold": 0.5}})
    bundle = save_bundle(tmp_path / "bundle", card, model.bundle_tensors())
    fast = Classifier.load(bundle, runtime="onnx")
    slow = Classifier.load(bundle, runtime="torch")
    assert isinstance(fast.model, OnnxMusicnnHead) and fast.model.has_ood  # the shipped graph has the ood output
    y = music_like(7.0, sr=16000)
    a, b = fast.predict(y, sr=16000, top_k=0), slow.predict(y, sr=16000, top_k=0)
    assert a.uncertainty.ood_score is not None
    assert a.uncertainty.ood_score == pytest.approx(b.uncertainty.ood_score, abs=1e-3)
    window_ood = slow.model.predict_outputs_windows(np.stack([y[:heads.WINDOW_LENGTH], y[heads.WINDOW_LENGTH:2 * heads.WINDOW_LENGTH]]))[2]
    assert 0.0 < a.uncertainty.ood_score < 1.0 and window_ood is not None
    assert a.uncertainty.level == ("unknown" if a.uncertainty.ood_score >= 0.5 else a.uncertainty.level)


# ----------------------------------------------------------------------------- default bundle


@pytest.mark.slow
def test_default_bundle_classifies_a_real_classical_clip(shared_data: Path) -> None:
    from genrekit.bundle import default_bundle_path

    if not (default_bundle_path() / "card.json").is_file():
        pytest.skip("the default bundle is not built yet")
    clf = Classifier.load()
    clip = sorted((shared_data / "gtzan-dev" / "valid" / "classical").glob("*.flac"))[0]
    pred = clf.predict(clip, top_k=5)
    assert "classical" in [g.genre for g in pred.genres[:2]]
    assert sum(g.score for g in pred.genres) == pytest.approx(1.0, abs=1e-5)
    assert len(pred.tags) == 5
    assert WARNING_NOT_MUSIC not in pred.warnings and WARNING_SILENT not in pred.warnings
