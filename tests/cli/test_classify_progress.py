"""``genrekit classify`` on the batch engine: a progress bar on a terminal (pty), plain lines when
piped, one line per failure with the path once, a closing "N classified, M failed" summary,
decoder chatter silenced unless --verbose, and --quiet."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from genrekit.audio import ffmpeg_exe
from tests.predict.test_classifier import TINY_SR, music_like, save_tiny_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = """
import sys
import tests.predict.test_classifier  # registers the tiny model type
from genrekit.cli.main import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""
XING_WARNING = "Xing stream size off"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    root = tmp_path_factory.mktemp("classify-progress")
    bundle = str(save_tiny_bundle(root / "tiny"))
    music = root / "music"
    music.mkdir()
    for index in range(3):
        sf.write(music / f"song{index}.wav", music_like(2.0, seed=index), TINY_SR)
    (music / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 200)
    # an MP3 whose Xing header announces fewer bytes than the file has: libmpg123 warns on stderr
    mp3 = music / "xing.mp3"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:d=5", "-c:a", "libmp3lame",
                    "-b:a", "64k", str(mp3)], check=True, timeout=60)
    data = mp3.read_bytes()
    mp3.write_bytes(data + data[4000:8000])
    script = root / "cli.py"
    script.write_text(CLI)
    return music, bundle, script


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)]), "COLUMNS": "120"}


def run_piped(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), "classify", *args], capture_output=True, text=True,
                          env=_env(), timeout=180)


def run_on_pty(script: Path, *args: str) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; return the exit code and everything shown."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, str(script), "classify", *args], stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=slave, env=_env(), close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(master)
    return process.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_piped_run_prints_plain_lines_errors_once_and_a_summary(setup) -> None:
    music, bundle, script = setup
    done = run_piped(script, "--model", bundle, "--format", "json", str(music))
    assert done.returncode == 1
    err = done.stderr
    assert "\r" not in err  # no bar when not on a terminal
    assert "classify: 5/5 (100%)" in err and "songs/s" in err  # the plain progress line
    broken = [line for line in err.splitlines() if "broken.flac" in line]
    assert len(broken) == 1 and broken[0].count("broken.flac") == 1
    assert "4 classified, 1 failed" in err
    assert XING_WARNING not in err  # decoder chatter silenced


def test_terminal_run_draws_a_bar_with_eta_and_rate(setup) -> None:
    music, bundle, script = setup
    code, shown = run_on_pty(script, "--model", bundle, str(music))
    assert code == 1
    assert "\r" in shown and "song/s" in shown and "5/5" in shown  # tqdm's bar: count, rate
    assert "<" in shown  # tqdm's "elapsed<remaining" ETA
    assert "4 classified, 1 failed" in shown
    assert shown.count("broken.flac") == 1
    assert XING_WARNING not in shown


def test_verbose_shows_decoder_chatter_and_quiet_only_the_summary(setup) -> None:
    music, bundle, script = setup
    verbose = run_piped(script, "--model", bundle, "--format", "csv", "--verbose", str(music / "xing.mp3"))
    assert XING_WARNING in verbose.stderr
    quiet = run_piped(script, "--model", bundle, "--format", "csv", "--quiet", str(music))
    assert quiet.stderr.strip().splitlines() == ["4 classified, 1 failed (" + quiet.stderr.split("(")[-1].strip()]
