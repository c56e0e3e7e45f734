"""genrekit.features.config: defaults, JSON round trips, rejection of unknown keys and bad values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.features.config import LogMelConfig, MfccConfig, MusicnnInputConfig


def test_log_mel_defaults() -> None:
    cfg = LogMelConfig()
    assert (cfg.sr, cfg.n_fft, cfg.hop_length, cfg.n_mels) == (22050, 2048, 512, 128)
    assert (cfg.f_min_hz, cfg.f_max_hz, cfg.power, cfg.top_db, cfg.ref, cfg.amin) == (0.0, None, 2.0, None, 1.0, 1e-10)
    assert cfg.n_freqs == 1025


@pytest.mark.parametrize(
    "cfg",
    [
        LogMelConfig(),
        LogMelConfig(
            sr=16000, n_fft=512, hop_length=160, n_mels=64, f_min_hz=20.0, f_max_hz=7600.0, top_db=80.0,
            htk=True, norm=None, pad_mode="reflect",
        ),  # fmt: skip
        MfccConfig(),
        MfccConfig.librosa_defaults(),
        MfccConfig(n_mfcc=13, mel=LogMelConfig(n_mels=40)),
        MusicnnInputConfig(),
        MusicnnInputConfig(hop_frames=61, pad_mode="constant", float16_rounding=False),
    ],
)
def test_json_round_trip(cfg) -> None:
    data = json.loads(json.dumps(cfg.to_dict(), sort_keys=True))
    assert type(cfg).from_dict(data) == cfg


def test_to_dict_writes_every_field() -> None:
    assert set(LogMelConfig().to_dict()) == {f.name for f in dataclasses.fields(LogMelConfig)}
    assert MfccConfig().to_dict()["mel"] == LogMelConfig().to_dict()
    assert MusicnnInputConfig().to_dict() == {
        "sr": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 96, "n_frames": 187, "hop_frames": 187,
        "pad_mode": "reflect", "float16_rounding": True,
    }  # fmt: skip


def test_librosa_mfcc_defaults_have_top_db_80() -> None:
    assert MfccConfig.librosa_defaults().mel.top_db == 80.0
    assert MfccConfig().mel.top_db is None


def test_configs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LogMelConfig().sr = 16000  # type: ignore[misc]


@pytest.mark.parametrize("cls", [LogMelConfig, MfccConfig, MusicnnInputConfig])
def test_unknown_key_is_an_error(cls) -> None:
    data = cls().to_dict()
    data["n_bins"] = 3
    with pytest.raises(InvalidParameterError, match="unknown"):
        cls.from_dict(data)


def test_unknown_nested_key_is_an_error() -> None:
    data = MfccConfig().to_dict()
    data["mel"]["fmax"] = 8000
    with pytest.raises(InvalidParameterError, match="fmax"):
        MfccConfig.from_dict(data)


def test_from_dict_needs_a_dict() -> None:
    with pytest.raises(InvalidParameterError, match="dict"):
        LogMelConfig.from_dict([("sr", 16000)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"sr": 0}, "sr"),
        ({"sr": 22050.5}, "sr"),
        ({"n_fft": -1}, "n_fft"),
        ({"hop_length": True}, "hop_length"),
        ({"n_mels": 0}, "n_mels"),
        ({"f_min_hz": -10.0}, "f_min_hz"),
        ({"f_max_hz": 20000.0}, "sr / 2"),
        ({"f_min_hz": 12000.0}, "f_min_hz"),
        ({"f_min_hz": 5000.0, "f_max_hz": 4000.0}, "f_min_hz"),
        ({"power": 0.0}, "power"),
        ({"top_db": -5.0}, "top_db"),
        ({"ref": 0.0}, "ref"),
        ({"amin": -1e-10}, "amin"),
        ({"pad_mode": "edge"}, "pad_mode"),
        ({"htk": "yes"}, "htk"),
        ({"norm": "l1"}, "norm"),
    ],
)
def test_log_mel_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        LogMelConfig(**kwargs)


def test_mfcc_bad_values() -> None:
    with pytest.raises(InvalidParameterError, match="n_mfcc"):
        MfccConfig(n_mfcc=0)
    with pytest.raises(InvalidParameterError, match="n_mels"):
        MfccConfig(n_mfcc=50, mel=LogMelConfig(n_mels=40))
    with pytest.raises(InvalidParameterError, match="LogMelConfig"):
        MfccConfig(mel={"sr": 22050})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"sr": 22050}, "sr=16000"),
        ({"n_fft": 1024}, "n_fft=512"),
        ({"hop_length": 160}, "hop_length=256"),
        ({"n_mels": 128}, "n_mels=96"),
        ({"n_frames": 0}, "n_frames"),
        ({"hop_frames": -1}, "hop_frames"),
        ({"pad_mode": "zeros"}, "pad_mode"),
        ({"float16_rounding": 1}, "float16_rounding"),
    ],
)
def test_musicnn_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        MusicnnInputConfig(**kwargs)


def test_musicnn_patch_hop_in_samples() -> None:
    assert MusicnnInputConfig().patch_hop_length == 187 * 256
