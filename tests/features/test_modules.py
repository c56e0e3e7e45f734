"""genrekit.features.modules: forward == functional, non-persistent buffers, batches, devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.errors import InvalidParameterError
from genrekit.features import functional as F
from genrekit.features.config import LogMelConfig, MfccConfig, MusicnnInputConfig
from genrekit.features.modules import MFCC, LogMel, MusicnnInput


@pytest.fixture(scope="module")
def waves() -> torch.Tensor:
    """(2, 3, 8000) float32 noise."""
    return torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 8000)).astype(np.float32)) * 0.1


def test_log_mel_forward_equals_functional(waves: torch.Tensor) -> None:
    cfg = LogMelConfig(sr=16000, n_fft=512, hop_length=160, n_mels=64, f_min_hz=20.0, top_db=80.0)
    expected = F.log_mel_spectrogram(
        waves, sr=16000, n_fft=512, hop_length=160, n_mels=64, f_min_hz=20.0, top_db=80.0
    )
    out = LogMel(cfg)(waves)
    assert out.shape == (2, 3, 64, 1 + 8000 // 160)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_mfcc_forward_equals_functional(waves: torch.Tensor) -> None:
    cfg = MfccConfig(n_mfcc=13, mel=LogMelConfig(sr=16000, n_fft=512, hop_length=256, n_mels=40))
    expected = F.mfcc(waves, sr=16000, n_mfcc=13, n_fft=512, hop_length=256, n_mels=40)
    torch.testing.assert_close(MFCC(cfg)(waves), expected, rtol=0, atol=0)


def test_musicnn_forward_and_patches(waves: torch.Tensor) -> None:
    module = MusicnnInput()
    wave = torch.randn(16000 * 7) * 0.1
    torch.testing.assert_close(module(wave), F.musicnn_input(wave), rtol=0, atol=0)
    patches = module.patches(wave)
    assert patches.shape == (2, 187, 96)  # 438 frames -> two full 187-frame patches
    torch.testing.assert_close(patches, F.musicnn_patches(F.musicnn_input(wave)), rtol=0, atol=0)
    overlapping = MusicnnInput(MusicnnInputConfig(hop_frames=61)).patches(wave)
    assert overlapping.shape == (len(range(0, 438 - 187 + 1, 61)), 187, 96)
    assert module(waves).shape == (2, 3, 96, 1 + 8000 // 256)


@pytest.mark.parametrize("module", [LogMel(), MFCC(), MusicnnInput()])
def test_buffers_are_not_persistent(module: torch.nn.Module) -> None:
    assert module.state_dict() == {}
    assert len(list(module.buffers())) >= 2
    assert len(list(module.parameters())) == 0


def test_module_batch_consistency(waves: torch.Tensor) -> None:
    module = MFCC(MfccConfig(mel=LogMelConfig(sr=16000, n_fft=512, hop_length=256, n_mels=40, top_db=60.0)))
    whole = module(waves)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(whole[i, j], module(waves[i, j]), rtol=1e-5, atol=1e-4)


def test_float64_module() -> None:
    module = LogMel(LogMelConfig(sr=8000, n_fft=256, hop_length=64, n_mels=32)).to(torch.float64)
    out = module(torch.randn(4000, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_wrong_config_type() -> None:
    with pytest.raises(InvalidParameterError, match="LogMelConfig"):
        LogMel(MfccConfig())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="MfccConfig"):
        MFCC(LogMelConfig())  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="MusicnnInputConfig"):
        MusicnnInput(LogMelConfig())  # type: ignore[arg-type]


def test_bad_wave_raises() -> None:
    with pytest.raises(InvalidParameterError, match="float32 or float64"):
        LogMel()(torch.zeros(4000, dtype=torch.int16))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_modules_on_cuda(waves: torch.Tensor) -> None:
    for module in (LogMel(), MFCC(), MusicnnInput()):
        cpu = module(waves)
        gpu = module.to("cuda")(waves.cuda())
        assert gpu.device.type == "cuda"
        assert gpu.shape == cpu.shape
        assert (gpu.cpu() - cpu).abs().max().item() < 1e-2
