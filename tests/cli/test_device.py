"""``--device`` / ``GENREKIT_DEVICE``: a clear message naming the GPU extra where ONNX Runtime has
no CUDA provider; on a machine that has one, the CUDA run matches the CPU run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf

from genrekit.cli.main import main
from genrekit.errors import InvalidParameterError
from genrekit.predict import Classifier
from genrekit.settings import DEVICE_ENV, device

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
GPU_HINT = "pip install 'genrekit[gpu]'"


@pytest.fixture()
def song(tmp_path: Path) -> Path:
    t = np.arange(4 * 16000) / 16000
    path = tmp_path / "tone.wav"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    return path


def test_device_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert device() == "cpu"
    monkeypatch.setenv(DEVICE_ENV, " CUDA ")
    assert device() == "cuda"
    monkeypatch.setenv(DEVICE_ENV, "gpu")
    with pytest.raises(InvalidParameterError, match=DEVICE_ENV):
        device()


@pytest.mark.skipif(HAS_CUDA, reason="this ONNX Runtime has the CUDA provider: the message is not shown")
@pytest.mark.parametrize("command", ["classify", "scan"])
def test_cuda_without_the_provider_fails_with_the_install_line(
    command: str, song: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = [str(song)] if command == "classify" else [str(song.parent), "--db", f"sqlite:///{tmp_path / 'c.db'}"]
    code = main([command, "--device", "cuda", *target])
    err = capsys.readouterr().err
    assert code == 1
    assert GPU_HINT in err and "CUDAExecutionProvider" in err
    assert "Traceback" not in err


@pytest.mark.skipif(HAS_CUDA, reason="this ONNX Runtime has the CUDA provider")
def test_cuda_setting_without_the_provider_fails_on_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(InvalidParameterError, match=r"genrekit\[gpu\]"):
        Classifier.load()


@pytest.mark.skipif(not HAS_CUDA, reason="needs onnxruntime-gpu (genrekit[gpu]) and an NVIDIA GPU")
def test_cuda_run_matches_the_cpu_run(song: Path) -> None:
    cpu = Classifier.load(device="cpu").predict(str(song)).to_dict()
    gpu = Classifier.load(device="cuda").predict(str(song)).to_dict()
    assert cpu["genres"][0]["genre"] == gpu["genres"][0]["genre"]
    np.testing.assert_allclose([g["score"] for g in gpu["genres"]], [g["score"] for g in cpu["genres"]], atol=1e-3)
