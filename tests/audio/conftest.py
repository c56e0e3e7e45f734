"""Fixtures for the audio tests: a known stereo sine, encoded once per session into every
format genrekit decodes (soundfile for what libsndfile writes, the bundled ffmpeg for the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from tests.audio.signals import FFMPEG_ENCODES, SOUNDFILE_WRITES, SR, ffmpeg_encode, stereo_sine


@pytest.fixture(scope="session")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test format, 1 s of :func:`stereo_sine` at 44.1 kHz, by name."""
    root = tmp_path_factory.mktemp("encoded")
    signal = stereo_sine()
    files: dict[str, Path] = {}
    for name, (filename, fmt, subtype) in SOUNDFILE_WRITES.items():
        files[name] = root / filename
        sf.write(files[name], signal, SR, format=fmt, subtype=subtype)
    for name, (filename, codec_args, video) in FFMPEG_ENCODES.items():
        files[name] = ffmpeg_encode(files["wav"], root / filename, codec_args, video)
    return files
