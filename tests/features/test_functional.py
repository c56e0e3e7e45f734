"""genrekit.features.functional: exact results, librosa parity, batch consistency, bad input.

Stated parity tolerances (float32 input; librosa 0.11 is the reference):

* mel filter bank: bit for bit (``atol=0``);
* power spectrogram: ``rtol=1e-4`` relative to each frame's peak power;
* log-mel dB: ``atol=1e-3`` dB on bins within 80 dB of the peak, ``atol=0.05`` dB everywhere
  (below that, float32 FFT round-off of different FFT libraries dominates);
* MFCC: ``atol=2e-3`` (coefficients of magnitude ~ 100s);
* musicnn input: ``atol=5e-4`` (one float16 rounding step of the mel power can flip;
  without float16 rounding ``atol=5e-5``).
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

from genrekit.errors import InvalidParameterError
from genrekit.features import functional as F

SR = 22050


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    """2 s of a chirp plus a little noise and a decaying tone: float32 (samples,)."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    chirp = 0.4 * np.sin(2 * np.pi * (100 * t + 1500 * t**2))
    tone = 0.3 * np.exp(-t) * np.sin(2 * np.pi * 440 * t)
    return (chirp + tone + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """A (2, 3, samples) float32 batch of noisy tones with different levels."""
    rng = np.random.default_rng(1)
    t = np.arange(SR) / SR
    items = [
        (10.0 ** (-k / 10)) * np.sin(2 * np.pi * (110 * (k + 1)) * t) + 0.05 * rng.standard_normal(t.shape)
        for k in range(6)
    ]
    return np.stack(items).reshape(2, 3, -1).astype(np.float32)


# ----------------------------------------------------------------------------- exact results


def test_spectrogram_of_dc_is_the_window_transform() -> None:
    n_fft, hop = 256, 64
    spec = F.spectrogram(torch.ones(4096, dtype=torch.float64), n_fft=n_fft, hop_length=hop)
    middle = spec[:, 10]
    # Periodic Hann: DFT of a constant is n_fft/2 at bin 0, -n_fft/4 at bin 1, 0 elsewhere.
    assert middle[0].item() == pytest.approx((n_fft / 2) ** 2, rel=1e-12)
    assert middle[1].item() == pytest.approx((n_fft / 4) ** 2, rel=1e-12)
    assert middle[2:].abs().max().item() < 1e-18
    assert spec.shape == (n_fft // 2 + 1, 1 + 4096 // hop)


def test_spectrogram_magnitude_is_sqrt_of_power() -> None:
    x = torch.randn(1000, dtype=torch.float64)
    power = F.spectrogram(x, n_fft=128, hop_length=32, power=2.0)
    magnitude = F.spectrogram(x, n_fft=128, hop_length=32, power=1.0)
    torch.testing.assert_close(magnitude**2, power, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_samples,expected", [(1, 1), (511, 1), (512, 2), (2048, 5), (2049, 5)])
def test_n_stft_frames(n_samples: int, expected: int) -> None:
    assert F.n_stft_frames(n_samples, n_fft=1024, hop_length=512) == expected
    assert F.spectrogram(torch.zeros(n_samples), n_fft=1024, hop_length=512).shape[-1] == expected


def test_n_stft_frames_uncentred() -> None:
    assert F.n_stft_frames(2048, n_fft=1024, hop_length=512, center=False) == 3
    assert F.n_stft_frames(1000, n_fft=1024, hop_length=512, center=False) == 0


def test_mel_scale_anchor_points() -> None:
    assert F.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert F.hz_to_mel(200.0) == pytest.approx(3.0)
    assert F.hz_to_mel(700.0, htk=True) == pytest.approx(2595.0 * math.log10(2.0))
    f = np.array([0.0, 50.0, 999.0, 1000.0, 4000.0, 11025.0])
    np.testing.assert_allclose(F.mel_to_hz(F.hz_to_mel(f)), f, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(F.mel_to_hz(F.hz_to_mel(f, htk=True), htk=True), f, rtol=1e-12, atol=1e-9)


def test_mel_filterbank_triangles() -> None:
    peak = F.mel_filterbank(sr=16000, n_fft=2048, n_mels=40, norm=None, dtype=torch.float64)
    assert peak.shape == (40, 1025)
    assert peak.min().item() >= 0.0
    assert peak.max().item() <= 1.0
    assert (peak.amax(dim=1) > 0.5).all()  # every band covers some bin near its centre
    slaney = F.mel_filterbank(sr=16000, n_fft=2048, n_mels=40, dtype=torch.float64)
    edges = F.mel_to_hz(np.linspace(F.hz_to_mel(0.0), F.hz_to_mel(8000.0), 42))
    scale = torch.from_numpy(2.0 / (edges[2:] - edges[:-2]))
    torch.testing.assert_close(slaney, peak * scale[:, None], rtol=1e-12, atol=0)


def test_sine_energy_lands_in_its_mel_band() -> None:
    sr, f0 = 16000, 1000.0
    t = torch.arange(sr, dtype=torch.float64) / sr
    mel = F.mel_spectrogram(torch.sin(2 * torch.pi * f0 * t), sr=sr, n_fft=1024, hop_length=256, n_mels=64)
    centres = F.mel_to_hz(np.linspace(F.hz_to_mel(0.0), F.hz_to_mel(sr / 2), 66))[1:-1]
    loudest = int(mel[:, 5:-5].mean(dim=1).argmax())
    assert loudest == int(np.argmin(np.abs(centres - f0)))


def test_power_to_db_fixed_reference() -> None:
    spec = torch.tensor([[1.0, 10.0, 100.0, 0.0]], dtype=torch.float64)
    np.testing.assert_allclose(F.power_to_db(spec).numpy(), [[0.0, 10.0, 20.0, -100.0]], atol=1e-12)
    np.testing.assert_allclose(F.power_to_db(spec, ref=10.0).numpy(), [[-10.0, 0.0, 10.0, -110.0]], atol=1e-12)
    np.testing.assert_allclose(F.power_to_db(spec, top_db=15.0).numpy(), [[5.0, 10.0, 20.0, 5.0]], atol=1e-12)


def test_silence_gives_constant_log_mel_and_pure_c0_mfcc() -> None:
    silence = torch.zeros(SR, dtype=torch.float64)
    log_mel = F.log_mel_spectrogram(silence, sr=SR)
    assert torch.all(log_mel == -100.0)  # amin 1e-10 -> -100 dB
    coefficients = F.mfcc(silence, sr=SR, n_mfcc=13)
    np.testing.assert_allclose(coefficients[0].numpy(), -100.0 * math.sqrt(128), rtol=1e-12)
    assert coefficients[1:].abs().max().item() < 1e-9


def test_dct_matrix_is_orthonormal() -> None:
    dct = F.dct_matrix(32, 32, dtype=torch.float64)
    torch.testing.assert_close(dct @ dct.T, torch.eye(32, dtype=torch.float64), atol=1e-12, rtol=0)


def test_musicnn_input_of_silence_is_zero() -> None:
    rep = F.musicnn_input(torch.zeros(16000))
    assert rep.shape == (96, 1 + 16000 // 256)
    assert torch.all(rep == 0.0)


def test_musicnn_input_stays_finite_far_beyond_full_scale() -> None:
    rep = F.musicnn_input(torch.full((4000,), 100.0))
    assert torch.isfinite(rep).all()
    assert rep.max().item() == pytest.approx(math.log10(1 + 10000 * 65504.0))


def test_musicnn_patches_index_exactly() -> None:
    log_mel = torch.arange(2 * 500, dtype=torch.float32).reshape(2, 500)  # (n_mels=2, frames=500)
    patches = F.musicnn_patches(log_mel, n_frames=187)
    assert patches.shape == (2, 187, 2)  # 500 frames: 2 full patches, the partial third dropped
    torch.testing.assert_close(patches[1, :, 0], log_mel[0, 187:374])
    torch.testing.assert_close(patches[0, :, 1], log_mel[1, :187])
    overlapping = F.musicnn_patches(log_mel, n_frames=187, hop_frames=61)
    assert overlapping.shape[0] == len(range(0, 500 - 187 + 1, 61))
    torch.testing.assert_close(overlapping[3, :, 0], log_mel[0, 183:370])


def test_musicnn_patches_pad_short_input() -> None:
    short = torch.ones(96, 100)
    patches = F.musicnn_patches(short)
    assert patches.shape == (1, 187, 96)
    assert torch.all(patches[0, :100] == 1.0) and torch.all(patches[0, 100:] == 0.0)
    with pytest.raises(InvalidParameterError, match="fewer than one patch"):
        F.musicnn_patches(short, pad_short=False)


# ----------------------------------------------------------------------------- librosa parity


@pytest.mark.parametrize(
    "sr,n_fft,n_mels,f_min_hz,f_max_hz,htk,norm",
    [
        (22050, 2048, 128, 0.0, None, False, "slaney"),
        (16000, 512, 96, 0.0, None, False, "slaney"),
        (44100, 1024, 64, 30.0, 8000.0, True, None),
        (8000, 256, 40, 100.0, 3500.0, False, None),
        (22050, 2048, 40, 0.0, 11025.0, True, "slaney"),
    ],
)
def test_mel_filterbank_matches_librosa_exactly(sr, n_fft, n_mels, f_min_hz, f_max_hz, htk, norm) -> None:
    expected = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min_hz, fmax=f_max_hz, htk=htk, norm=norm)
    ours = F.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, f_min_hz=f_min_hz, f_max_hz=f_max_hz, htk=htk, norm=norm)
    np.testing.assert_array_equal(ours.numpy(), expected)
    expected64 = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=htk, norm=norm, dtype=np.float64)
    ours64 = F.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=htk, norm=norm, dtype=torch.float64)
    np.testing.assert_array_equal(ours64.numpy(), expected64)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_spectrogram_matches_librosa(signal: np.ndarray, pad_mode: str) -> None:
    expected = np.abs(librosa.stft(signal, n_fft=1024, hop_length=256, pad_mode=pad_mode)) ** 2
    ours = F.spectrogram(signal, n_fft=1024, hop_length=256, pad_mode=pad_mode).numpy()
    assert ours.shape == expected.shape
    scale = expected.max(axis=0, keepdims=True)
    assert np.max(np.abs(ours - expected) / scale) < 1e-4


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_log_mel_matches_librosa(signal: np.ndarray, pad_mode: str) -> None:
    mel = librosa.feature.melspectrogram(y=signal, sr=SR, pad_mode=pad_mode)
    expected = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    ours = F.log_mel_spectrogram(signal, sr=SR, pad_mode=pad_mode).numpy()
    assert ours.shape == expected.shape == (128, 1 + signal.shape[0] // 512)
    near_peak = expected >= expected.max() - 80.0
    assert np.max(np.abs(ours - expected)[near_peak]) < 1e-3
    assert np.max(np.abs(ours - expected)) < 0.05


def test_log_mel_matches_librosa_with_options(signal: np.ndarray) -> None:
    kwargs = dict(n_fft=1024, hop_length=300, n_mels=40, fmin=50.0, fmax=8000.0, htk=True, norm=None, power=1.0)
    mel = librosa.feature.melspectrogram(y=signal, sr=SR, **kwargs)
    expected = librosa.power_to_db(mel, ref=0.5, amin=1e-5, top_db=60.0)
    ours = F.log_mel_spectrogram(
        signal, sr=SR, n_fft=1024, hop_length=300, n_mels=40, f_min_hz=50.0, f_max_hz=8000.0, htk=True,
        norm=None, power=1.0, ref=0.5, amin=1e-5, top_db=60.0,
    ).numpy()  # fmt: skip
    np.testing.assert_allclose(ours, expected, atol=1e-3, rtol=0)


def test_mfcc_matches_librosa_defaults(signal: np.ndarray) -> None:
    expected = librosa.feature.mfcc(y=signal, sr=SR)  # top_db=80, n_mfcc=20, 128 mels
    ours = F.mfcc(signal, sr=SR, top_db=80.0).numpy()
    np.testing.assert_allclose(ours, expected, atol=2e-3, rtol=0)


def test_mfcc_matches_librosa_without_floor(signal: np.ndarray) -> None:
    mel = librosa.feature.melspectrogram(y=signal, sr=SR, n_mels=64, pad_mode="reflect")
    expected = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13)
    ours = F.mfcc(signal, sr=SR, n_mfcc=13, n_mels=64, pad_mode="reflect").numpy()
    np.testing.assert_allclose(ours, expected, atol=2e-3, rtol=0)


def _musicnn_reference(audio: np.ndarray, pad_mode: str) -> np.ndarray:
    """musicnn 0.1.0 ``extractor.batch_data``'s lines (with pad_mode explicit), transposed to (96, frames)."""
    audio_rep = librosa.feature.melspectrogram(
        y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96, pad_mode=pad_mode
    ).T
    audio_rep = audio_rep.astype(np.float16)
    audio_rep = np.log10(10000 * audio_rep.astype(np.float32) + 1)  # NumPy 1.x promoted to float32
    return audio_rep.T


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_musicnn_input_matches_musicnn_extractor(signal: np.ndarray, pad_mode: str) -> None:
    audio = librosa.resample(signal, orig_sr=SR, target_sr=16000)
    expected = _musicnn_reference(audio, pad_mode)
    ours = F.musicnn_input(audio, pad_mode=pad_mode).numpy()
    assert ours.shape == expected.shape == (96, 1 + audio.shape[0] // 256)
    np.testing.assert_allclose(ours, expected, atol=5e-4, rtol=0)
    exact = F.musicnn_input(audio, pad_mode=pad_mode, float16_rounding=False).numpy()
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96, pad_mode=pad_mode)
    np.testing.assert_allclose(exact, np.log10(10000 * mel + 1), atol=5e-5, rtol=0)


def test_musicnn_patches_match_batch_data() -> None:
    rng = np.random.default_rng(3)
    audio_rep = rng.random((700, 96)).astype(np.float32)  # musicnn's (time, freq)
    for n_frames, overlap in [(187, 187), (187, 61), (100, 37)]:
        last_frame = audio_rep.shape[0] - n_frames + 1
        expected = np.stack([audio_rep[t : t + n_frames] for t in range(0, last_frame, overlap)])
        ours = F.musicnn_patches(audio_rep.T, n_frames=n_frames, hop_frames=overlap).numpy()
        np.testing.assert_array_equal(ours, expected)


def test_musicnn_input_matches_original_musicnn_golden(shared_data) -> None:
    """Patches of musicnn's own librosa recipe (the one its extractor runs) on a shared clip."""
    from genrekit.audio import load_audio
    from tests.models.test_musicnn import reference_patches

    path = shared_data / "gtzan-dev" / "train" / "blues" / "blues.00042.flac"
    audio, _ = load_audio(path, sr=16000)
    expected = reference_patches(path)
    # librosa >= 0.10 (the reference here) pads the STFT with zeros.
    ours = F.musicnn_patches(F.musicnn_input(audio, pad_mode="constant")).numpy()
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-3, rtol=0)
    assert np.quantile(np.abs(ours - expected), 0.99) < 1e-5
    # Reflection (musicnn's original librosa) changes only the first frame.
    reflected = F.musicnn_patches(F.musicnn_input(audio)).numpy()
    np.testing.assert_allclose(reflected[:, 1:], expected[:, 1:], atol=1e-3, rtol=0)
    np.testing.assert_allclose(reflected[1:], expected[1:], atol=1e-3, rtol=0)


# ----------------------------------------------------------------------------- batch consistency


def _transforms() -> dict[str, object]:
    return {
        "spectrogram": lambda x: F.spectrogram(x, n_fft=512, hop_length=128),
        "log_mel": lambda x: F.log_mel_spectrogram(x, sr=SR, n_fft=1024, hop_length=256, n_mels=64),
        "log_mel_top_db": lambda x: F.log_mel_spectrogram(x, sr=SR, n_fft=1024, hop_length=256, top_db=40.0),
        "mfcc": lambda x: F.mfcc(x, sr=SR, n_mfcc=13),
        "musicnn": lambda x: F.musicnn_input(x),
    }


@pytest.mark.parametrize("name", list(_transforms()))
def test_batch_consistency(batch: np.ndarray, name: str) -> None:
    transform = _transforms()[name]
    x = torch.from_numpy(batch)
    whole = transform(x)
    assert whole.shape[:2] == (2, 3)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(whole[i, j], transform(x[i, j]), rtol=1e-5, atol=1e-4)
    flat = transform(x.reshape(6, -1))
    torch.testing.assert_close(flat.reshape(whole.shape), whole, rtol=1e-5, atol=1e-4)


def test_empty_batch_gives_empty_output() -> None:
    out = F.log_mel_spectrogram(torch.zeros(0, 3, 2048), sr=SR, n_fft=512, hop_length=256, n_mels=32)
    assert out.shape == (0, 3, 32, 9)


def test_float64_and_numpy_inputs() -> None:
    x = np.random.default_rng(4).standard_normal(4000)
    out64 = F.log_mel_spectrogram(x, sr=SR, n_fft=512, hop_length=128, n_mels=32)
    assert out64.dtype == torch.float64
    out32 = F.log_mel_spectrogram(x.astype(np.float32), sr=SR, n_fft=512, hop_length=128, n_mels=32)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out64.numpy(), atol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(signal: np.ndarray) -> None:
    cpu = F.log_mel_spectrogram(signal, sr=SR)
    gpu = F.log_mel_spectrogram(torch.from_numpy(signal).cuda(), sr=SR)
    assert gpu.device.type == "cuda"
    near_peak = cpu >= cpu.max() - 80
    assert (gpu.cpu() - cpu).abs()[near_peak].max().item() < 1e-3


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: F.spectrogram(torch.zeros(100, dtype=torch.int64)), "float32 or float64"),
        (lambda: F.spectrogram(torch.zeros(0)), "samples >= 1"),
        (lambda: F.spectrogram(torch.tensor(1.0)), "samples >= 1"),
        (lambda: F.spectrogram([0.0] * 100), "torch.Tensor or numpy"),
        (lambda: F.spectrogram(torch.zeros(100), n_fft=0), "n_fft"),
        (lambda: F.spectrogram(torch.zeros(100), hop_length=1.5), "hop_length"),
        (lambda: F.spectrogram(torch.zeros(100), power=-1.0), "power"),
        (lambda: F.spectrogram(torch.zeros(100), pad_mode="wrap"), "pad_mode"),
        (lambda: F.spectrogram(torch.zeros(100), n_fft=256, pad_mode="reflect"), "reflect"),
        (lambda: F.spectrogram(torch.zeros(100), n_fft=256, center=False), "uncentred"),
        (lambda: F.spectrogram(torch.zeros(1000), n_fft=256, window=torch.ones(255)), "window"),
        (lambda: F.mel_filterbank(sr=0, n_fft=512), "sr"),
        (lambda: F.mel_filterbank(sr=-16000, n_fft=512), "sr"),
        (lambda: F.mel_filterbank(sr=16000, n_fft=512, f_max_hz=9000.0), "sr / 2"),
        (lambda: F.mel_filterbank(sr=16000, n_fft=512, f_min_hz=-1.0), "f_min_hz"),
        (lambda: F.mel_filterbank(sr=16000, n_fft=512, f_min_hz=4000.0, f_max_hz=3000.0), "greater than"),
        (lambda: F.mel_filterbank(sr=16000, n_fft=512, norm="l2"), "norm"),
        (lambda: F.mel_filterbank(sr=16000, n_fft=512, n_mels=0), "n_mels"),
        (lambda: F.log_mel_spectrogram(torch.zeros(1000), sr=0), "sr"),
        (lambda: F.log_mel_spectrogram(torch.zeros(1000), sr=float("nan")), "sr"),
        (lambda: F.log_mel_spectrogram(torch.zeros(1000), sr=8000, f_max_hz=5000.0), "sr / 2"),
        (lambda: F.log_mel_spectrogram(torch.zeros(1000), sr=8000, n_fft=256, mel_basis=torch.ones(128, 10)), "mel_basis"),
        (lambda: F.power_to_db(torch.ones(3)), r"\(\.\.\., freq, time\)"),
        (lambda: F.power_to_db(torch.ones(3, 3), ref=0.0), "ref"),
        (lambda: F.power_to_db(torch.ones(3, 3), amin=0.0), "amin"),
        (lambda: F.power_to_db(torch.ones(3, 3), top_db=-1.0), "top_db"),
        (lambda: F.mfcc(torch.zeros(1000), sr=8000, n_fft=256, n_mels=10, n_mfcc=20), "n_mfcc"),
        (lambda: F.dct_matrix(0, 10), "n_mfcc"),
        (lambda: F.musicnn_input(torch.zeros(200)), "reflect"),
        (lambda: F.musicnn_input(torch.zeros(1000, dtype=torch.float16)), "float32 or float64"),
        (lambda: F.musicnn_patches(torch.zeros(96)), "freq, time"),
        (lambda: F.musicnn_patches(torch.zeros(96, 200), hop_frames=0), "hop_frames"),
    ],
)
def test_bad_input_raises(call, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        call()


def test_invalid_parameter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        F.mel_filterbank(sr=16000, n_fft=512, f_max_hz=9000.0)
