"""The "may not be music" check raises no false alarm on any shared music clip (GTZAN dev,
extra-pool and out-of-taxonomy music; ../shared/data, skipped where absent), read as
``predict`` reads them (the spread windows at 16 kHz), and a clear genre answer overrules a
speech-like verdict but not noise or a steady tone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrekit.audio import load_audio
from genrekit.predict import is_music, music_evidence
from genrekit.predict.checks import SPEECH_OVERRULED_BY_SCORE, rms_dbfs

SR = 16000
WINDOW = 3 * SR  # samples: musicnn's 3-s window
MAX_WINDOWS = 4


def _music_clips(root: Path) -> list[Path]:
    suffixes = {".flac", ".ogg", ".wav", ".mp3"}
    parts = [root / "gtzan-dev", root / "extra-pool", root / "out-of-taxonomy"]
    return sorted(p for part in parts if part.is_dir() for p in part.rglob("*") if p.suffix.lower() in suffixes)


def _spread_windows(y: np.ndarray) -> np.ndarray:
    from genrekit.audio.windows import slice_windows, spread_starts

    starts = spread_starts(len(y), window_length=WINDOW, hop_length=WINDOW, max_windows=MAX_WINDOWS)
    if starts is None:
        return slice_windows(y, window_length=WINDOW, hop_length=WINDOW)[2]
    return np.stack([y[s : s + WINDOW] for s in starts])


def test_no_shared_music_clip_is_flagged_as_not_music(shared_data: Path) -> None:
    clips = _music_clips(shared_data)
    if len(clips) < 100:
        pytest.skip(f"only {len(clips)} shared music clips found")
    flagged = []
    for path in clips:
        y, _ = load_audio(path, sr=SR)
        windows = _spread_windows(y)
        voting = rms_dbfs(windows) >= -60.0
        evidence = music_evidence(windows, SR)
        if not is_music(evidence[voting] if voting.any() else evidence):
            flagged.append(str(path.relative_to(shared_data)))
    assert flagged == [], f"{len(flagged)} of {len(clips)} music clips flagged as not music: {flagged[:10]}"


def test_a_clear_genre_answer_overrules_only_the_speech_like_verdict() -> None:
    t = np.arange(6 * SR) / SR
    burst = (t % 0.45) < 0.2  # voiced bursts of a gliding 120 Hz pitch between pauses
    speech = burst * sum(np.sin(2 * np.pi * 120 * (1 + 0.2 * np.sin(3 * t)) * k * t) / k for k in range(1, 10))
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    noise = 0.3 * np.random.default_rng(0).standard_normal(len(t))
    evidence = {name: music_evidence(y.reshape(2, -1).astype(np.float32), SR)
                for name, y in (("speech", speech), ("tone", tone), ("noise", noise))}
    for name, rows in evidence.items():
        assert not is_music(rows), name
        assert not is_music(rows, top_score=SPEECH_OVERRULED_BY_SCORE - 0.01), name
    assert is_music(evidence["speech"], top_score=SPEECH_OVERRULED_BY_SCORE)
    assert not is_music(evidence["tone"], top_score=0.99)
    assert not is_music(evidence["noise"], top_score=0.99)
