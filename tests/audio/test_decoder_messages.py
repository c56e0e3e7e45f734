"""libmpg123's own stderr messages about damaged MP3 frames go to logging (debug), not to stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.audio.messages import ENV, is_decoder_line


def test_decoder_lines_are_told_from_other_lines() -> None:
    assert is_decoder_line(b"[src/libmpg123/layer3.c:INT123_do_layer3():1774] error: part2_3_length (128) too large")
    assert is_decoder_line(b"Note: Trying to resync...")
    assert not is_decoder_line(b"genrekit classify: error: x.mp3: not audio")
    assert not is_decoder_line(b"Traceback (most recent call last):")


@pytest.fixture(scope="module")
def damaged_mp3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-s MP3 with bytes overwritten in 40 places (libmpg123 complains while decoding it)."""
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write MP3")
    folder = tmp_path_factory.mktemp("mp3")
    sr = 22050
    t = np.arange(4 * sr) / sr
    sf.write(folder / "clean.mp3", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format="MP3")
    data = bytearray((folder / "clean.mp3").read_bytes())
    rng = np.random.default_rng(0)
    for i in rng.integers(2000, len(data) - 100, 40):
        data[i : i + 8] = bytes(rng.integers(0, 256, 8).tolist())
    (folder / "damaged.mp3").write_bytes(bytes(data))
    return folder / "damaged.mp3"


DECODE = """
import logging, sys
logging.basicConfig(level=logging.DEBUG if sys.argv[2] == "debug" else logging.WARNING, stream=sys.stdout,
                    format="LOG %(name)s %(message)s")
from genrekit.audio import load_audio
y, _ = load_audio(sys.argv[1], sr=16000)
print("after decoding", y.size > 0, file=sys.stderr)
"""


def _env(**extra: str) -> dict[str, str]:
    """This checkout's genrekit first on the path (the subprocess may run elsewhere)."""
    import genrekit

    source = str(Path(genrekit.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]), **extra}


def _decode(path: Path, level: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", DECODE, str(path), level], capture_output=True, text=True, timeout=120, env=_env(**env)
    )


def test_the_python_api_keeps_decoder_messages_off_stderr(damaged_mp3: Path) -> None:
    shown = _decode(damaged_mp3, "debug", **{ENV: "stderr"})  # the control: the file does make libmpg123 talk
    assert "libmpg123" in shown.stderr
    routed = _decode(damaged_mp3, "debug")
    assert routed.returncode == 0, routed.stderr
    assert "libmpg123" not in routed.stderr and "Trying to resync" not in routed.stderr
    assert "after decoding True" in routed.stderr  # other stderr output still passes
    assert "LOG genrekit.audio.decoder [src/libmpg123/" in routed.stdout


def test_the_cli_prints_no_decoder_messages(damaged_mp3: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "genrekit", "classify", str(damaged_mp3), "--format", "json"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "libmpg123" not in result.stderr and "resync" not in result.stderr
    assert '"genres"' in result.stdout
