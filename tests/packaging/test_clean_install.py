"""The base install (``pip install .``, no extras) serves without torch.

Builds a fresh virtual environment from the base Python, installs the checkout without
extras (from the package index, or pip's cache and the configured local wheels), and checks
there: torch is not importable; ``genrekit classify`` classifies real MP3, FLAC and M4A files
as the full install does; ``genrekit serve`` reaches ``/readyz`` and answers an upload; a
training command names the install line of the ``train`` extra. Needs the package index
(as ``make test``'s own setup does); about 1-2 minutes with a warm pip cache.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import ffmpeg_exe
from genrekit.predict import Classifier
from tests.conftest import REPO_ROOT, SHARED_DATA

pytestmark = pytest.mark.slow

INSTALL_TIMEOUT_S = 900  # first install without a pip cache downloads ~150 MB of wheels
READY_TIMEOUT_S = 60.0  # generous: the figure that matters is printed by benchmarks/bench_service.py


def _source_clip(directory: Path) -> Path:
    """A real song from the shared data when present, else a synthetic music-like clip (FLAC)."""
    clips = sorted((SHARED_DATA / "gtzan-dev" / "valid" / "rock").glob("*.flac"))
    if clips:
        return clips[0]
    sr = 22050
    t = np.arange(20 * sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(t))) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    path = directory / "synthetic.flac"
    sf.write(path, y.astype(np.float32), sr)
    return path


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("audio")
    flac = directory / "song.flac"
    flac.write_bytes(_source_clip(directory).read_bytes())
    out = [flac]
    for suffix, codec in ((".mp3", ["-codec:a", "libmp3lame", "-b:a", "192k"]), (".m4a", ["-codec:a", "aac", "-b:a", "128k"])):
        target = directory / f"song{suffix}"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(flac), *codec, str(target)], check=True)
        out.append(target)
    return out


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("base-install") / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check", str(REPO_ROOT)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    assert install.returncode == 0, f"pip install . failed:\n{install.stderr[-3000:]}"
    return venv


def _run(venv: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENREKIT_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the installed package, not the checkout
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout, env=env)


def test_no_torch_and_no_training_stack(base_venv: Path) -> None:
    probe = _run(base_venv, "python", "-c", "import importlib.util as u; print([m for m in ('torch', 'sklearn', 'librosa') if u.find_spec(m)])")
    assert probe.returncode == 0 and probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    train = _run(base_venv, "genrekit", "train", "--data", "nowhere")
    assert train.returncode == 1
    assert "pip install 'genrekit[train]'" in train.stderr


def test_classify_real_mp3_flac_m4a_as_the_full_install(base_venv: Path, audio_files: list[Path]) -> None:
    result = _run(base_venv, "genrekit", "classify", "--format", "json", "--top", "5", *map(str, audio_files))
    assert result.returncode == 0, result.stderr
    predictions = json.loads(result.stdout)
    reference = Classifier.load()  # this environment's install (torch present; the same ONNX path)
    assert [p["name"] for p in predictions] == [str(f) for f in audio_files]
    for prediction, path in zip(predictions, audio_files):
        expected = reference.predict(path, top_k=5).to_dict()
        assert [g["genre"] for g in prediction["genres"]] == [g["genre"] for g in expected["genres"]]
        np.testing.assert_allclose(
            [g["score"] for g in prediction["genres"]], [g["score"] for g in expected["genres"]], atol=1e-4
        )
        assert len(prediction["tags"]) == 5 and prediction["duration_s"] > 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_is_ready_and_classifies_an_upload(base_venv: Path, audio_files: list[Path], tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "GENREKIT_THREADS": "1", "GENREKIT_DATA_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    start = time.perf_counter()
    server = subprocess.Popen(
        [str(base_venv / "bin" / "genrekit"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        ready = False
        while time.perf_counter() - start < READY_TIMEOUT_S and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            time.sleep(0.1)
        assert ready, f"not ready after {time.perf_counter() - start:.1f} s: {server.stderr.read().decode() if server.poll() is not None else ''}"
        mp3 = audio_files[1]
        response = httpx.post(f"{base}/api/v1/classify", files={"file": (mp3.name, mp3.read_bytes(), "audio/mpeg")}, timeout=120)
        assert response.status_code == 200, response.text
        body = response.json()
        assert abs(sum(g["score"] for g in body["genres"]) - 1.0) < 1e-3
        visuals = httpx.get(f"{base}/api/v1/classifications/{body['id']}/visuals", timeout=120)
        assert visuals.status_code == 200 and len(visuals.json()["peaks"]) > 100
    finally:
        server.terminate()
        server.wait(timeout=30)
