"""Helpers of the browser tests: a demo model bundle, a test song, and a real
``genrekit serve`` process on a free port."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

GTZAN_GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
READY_TIMEOUT_S = 120.0  # seconds allowed for the server to load its model


def build_demo_bundle(directory: Path, *, seed: int = 0) -> Path:
    """Save a ``musicnn_head`` bundle with the real pretrained MSD backbone and an untrained head.

    The head is a seeded random linear layer (weights scaled up so that windows disagree),
    so its genres are arbitrary: the bundle exercises the real loading, decoding, windowing,
    tagging and storage path without a trained model. Never use it for anything but tests.
    """
    import torch

    from genrekit.bundle import save_bundle
    from genrekit.models.heads import MusicnnHead, MusicnnHeadClassifier, MusicnnHeadConfig, musicnn_head_card

    config = MusicnnHeadConfig(backbones=("MSD_musicnn",), embeddings=("penultimate",))
    generator = torch.Generator().manual_seed(seed)
    model = MusicnnHeadClassifier(GTZAN_GENRES, config)
    head: MusicnnHead = model.head
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.4)
    card = musicnn_head_card(
        model,
        name="e2e-untrained-head",
        version="0",
        limitations=["untrained head with random weights: its genres are arbitrary (browser tests only)"],
    )
    return save_bundle(directory, card, model.bundle_tensors())


def make_song(duration_s: float = 12.0, *, sr: int = 22050, seed: int = 0) -> bytes:
    """A WAV "song" with three 4 s sections (sustained chords; drums and bass; a fast arpeggio).

    Returns
    -------
    bytes
        16-bit PCM WAV, mono, ``sr`` Hz.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    y = np.zeros(n)
    third = n // 3
    chord = sum(np.sin(2 * np.pi * f * t[:third]) for f in (220.0, 277.18, 329.63, 440.0))
    y[:third] = 0.18 * chord * (1.0 - 0.3 * np.cos(2 * np.pi * 0.5 * t[:third]))
    section = t[third : 2 * third] - t[third]
    beat = (section * 2.0) % 1.0  # 120 bpm
    kick = np.sin(2 * np.pi * 55.0 * section) * np.exp(-beat * 18.0)
    hats = rng.standard_normal(section.size) * np.exp(-((section * 4.0) % 1.0) * 40.0)
    bass = np.sign(np.sin(2 * np.pi * 82.41 * section)) * 0.5
    y[third : 2 * third] = 0.5 * kick + 0.12 * hats + 0.15 * bass
    rest = t[2 * third :] - t[2 * third]
    notes = np.array([523.25, 659.25, 783.99, 1046.5])
    index = (rest * 8.0).astype(int) % notes.size
    y[2 * third :] = 0.3 * np.sin(2 * np.pi * notes[index] * rest) * np.exp(-((rest * 8.0) % 1.0) * 3.0)
    buffer = io.BytesIO()
    sf.write(buffer, (0.9 * y / np.max(np.abs(y))).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("genrekit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "genrekit"]


@contextlib.contextmanager
def running_server(
    state_dir: Path, *, model: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``genrekit serve`` on a free port with a fresh SQLite database; yield its base URL.

    ``env`` adds or overrides ``GENREKIT_*`` settings (e.g. ``{"GENREKIT_KEEP_AUDIO": "true"}``).

    Raises
    ------
    RuntimeError
        The server exited or did not become ready within ``READY_TIMEOUT_S`` (with its log).
    """
    port = free_port()
    command = [*_serve_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if model is not None:
        command += ["--model", str(model)]
    server_env = dict(os.environ)
    server_env.update(
        {
            "GENREKIT_DATABASE_URL": f"sqlite:///{state_dir / 'genrekit.sqlite'}",
            "GENREKIT_DATA_DIR": str(state_dir),
            "GENREKIT_MAX_CONCURRENT_JOBS": "1",
            "GENREKIT_THREADS": "1",
            **(env or {}),
        }
    )
    log_path = state_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=server_env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"genrekit serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"genrekit serve not ready after {READY_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
