"""The handcrafted clip features of the public GTZAN table ``features_30_sec.csv`` (Kaggle).

The Kaggle "GTZAN Dataset - Music Genre Classification" table gives, per 30 s clip, the
mean and variance over frames of a few librosa features. It was made with librosa (0.7-0.9
era) on ``librosa.load(path)`` (22050 Hz mono float32) with default parameters, so this
module uses librosa too (the one place in ``features`` that does), with the settings of
those versions made explicit where librosa 0.10+ changed a default:

* ``length``: number of samples;
* ``chroma_stft``: ``librosa.feature.chroma_stft`` (mean and variance over bins and frames);
* ``rms``, ``spectral_centroid``, ``spectral_bandwidth``, ``rolloff`` (85 %),
  ``zero_crossing_rate``: the librosa features with frame 2048, hop 512;
* ``harmony`` / ``perceptr``: mean and variance of the harmonic and percussive *waveforms*
  of ``librosa.effects.hpss`` (median filters of 31 bins/frames), inverted as before 0.10
  (the last partial hop left as zeros);
* ``tempo``: the estimate of ``librosa.beat.beat_track`` (onset envelope with the *median*
  over mel bands, 8 s onset autocorrelation, log-normal prior around 120 BPM, with the
  pre-0.10 weighting ``argmax(tempogram * prior)``; librosa 0.10 changed it to
  ``log1p(1e6 tempogram) + log prior``). ``librosa.beat.tempo``, whose onset envelope takes
  the mean, matches only about 3 clips in 4;
* ``mfcc1`` .. ``mfcc20``: ``librosa.feature.mfcc`` (20 coefficients, 128 mels, top_db 80).

Every STFT pads by reflection (``pad_mode='reflect'``), the librosa default before 0.10.
Variances are population variances (``np.var``). ``scripts/table_feature_match.py``
measures the agreement with the published table column by column.

HPSS dominates the cost (about 1.5 s of the ~2 s per 30 s clip on one CPU core).
"""

from __future__ import annotations

import numpy as np

from genrekit.errors import InvalidParameterError

TABLE_SR = 22050  # Hz: the table's features were computed at librosa.load's default rate
TABLE_N_FFT = 2048  # samples
TABLE_HOP_LENGTH = 512  # samples
TABLE_N_MFCC = 20
TABLE_PAD_MODE = "reflect"  # STFT centre padding of librosa < 0.10
TABLE_MIN_SAMPLES = TABLE_N_FFT  # one full analysis frame

_STAT_FEATURES = (
    "chroma_stft",
    "rms",
    "spectral_centroid",
    "spectral_bandwidth",
    "rolloff",
    "zero_crossing_rate",
    "harmony",
    "perceptr",
)

TABLE_FEATURE_COLUMNS: tuple[str, ...] = (
    "length",
    *(f"{name}_{stat}" for name in _STAT_FEATURES for stat in ("mean", "var")),
    "tempo",
    *(f"mfcc{i}_{stat}" for i in range(1, TABLE_N_MFCC + 1) for stat in ("mean", "var")),
)
"""The 58 feature columns of ``features_30_sec.csv``, in its order (without filename and label)."""


def _tempo_bpm(y: np.ndarray) -> float:
    """Global tempo (BPM) as ``librosa.beat.beat_track(y=y, sr=22050)[0]`` computed it before librosa 0.10."""
    import librosa

    start_bpm = 120.0  # BPM, centre of the log-normal prior
    std_bpm = 1.0  # octaves, width of the prior
    max_tempo = 320.0  # BPM
    ac_size_s = 8.0  # s, autocorrelation window
    onset_envelope = librosa.onset.onset_strength(
        y=y, sr=TABLE_SR, hop_length=TABLE_HOP_LENGTH, aggregate=np.median, pad_mode=TABLE_PAD_MODE
    )
    win_length = int(librosa.time_to_frames(ac_size_s, sr=TABLE_SR, hop_length=TABLE_HOP_LENGTH))
    tempogram = librosa.feature.tempogram(
        onset_envelope=onset_envelope, sr=TABLE_SR, hop_length=TABLE_HOP_LENGTH, win_length=win_length
    )
    strength = tempogram.mean(axis=1)
    bpms = librosa.tempo_frequencies(strength.shape[0], hop_length=TABLE_HOP_LENGTH, sr=TABLE_SR)
    with np.errstate(divide="ignore", invalid="ignore"):
        prior = np.exp(-0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / std_bpm) ** 2)
    prior = np.nan_to_num(prior, nan=0.0)
    prior[: int(np.argmax(bpms < max_tempo))] = 0.0
    best_period = int(np.argmax(strength * prior))
    return start_bpm if best_period == 0 else float(bpms[best_period])


def _hpss_waveforms(stft: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive waveforms as ``librosa.effects.hpss(y)`` returned them before librosa 0.10.

    The old ``effects.hpss`` inverted each STFT without ``length``, which stops at the last
    full hop, and zero-padded the result to ``len(y)``.
    """
    import librosa

    harmonic, percussive = librosa.decompose.hpss(stft)
    return tuple(
        librosa.util.fix_length(
            librosa.istft(part, n_fft=TABLE_N_FFT, hop_length=TABLE_HOP_LENGTH, dtype=np.float32), size=n_samples
        )
        for part in (harmonic, percussive)
    )


def table_features(y: np.ndarray, sr: float) -> dict[str, float]:
    """The ``features_30_sec.csv`` features of one clip.

    Parameters
    ----------
    y : np.ndarray [shape=(samples,), float]
        Mono waveform at 22050 Hz (``genrekit.audio.load_audio(path, sr=22050)``), at least
        2048 samples. The published table used whole 30 s clips.
    sr : number
        Must be 22050 (:data:`TABLE_SR`): the features are in Hz and frames of that rate.

    Returns
    -------
    dict of str to float
        Keys :data:`TABLE_FEATURE_COLUMNS`, in order. ``length`` is in samples, spectral
        features in Hz (variances in Hz^2), ``tempo`` in BPM.

    Raises
    ------
    InvalidParameterError
        Wrong rate, shape or dtype, too short, or non-finite samples.
    """
    import librosa

    if isinstance(sr, bool) or not isinstance(sr, (int, float, np.integer, np.floating)) or sr != TABLE_SR:
        raise InvalidParameterError(f"table features are defined at sr={TABLE_SR} Hz, got sr={sr!r}; resample first")
    y = np.asarray(y)
    if y.ndim != 1:
        raise InvalidParameterError(f"y must be mono with shape (samples,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise InvalidParameterError(f"y must be a float array, got dtype {y.dtype}")
    if y.shape[0] < TABLE_MIN_SAMPLES:
        raise InvalidParameterError(f"y needs at least {TABLE_MIN_SAMPLES} samples, got {y.shape[0]}")
    if not np.all(np.isfinite(y)):
        raise InvalidParameterError("y contains NaN or infinite samples")
    y = np.ascontiguousarray(y, dtype=np.float32)
    sr = TABLE_SR

    # One STFT serves every spectral feature, as each librosa call would recompute it identically.
    stft = librosa.stft(y, n_fft=TABLE_N_FFT, hop_length=TABLE_HOP_LENGTH, pad_mode=TABLE_PAD_MODE)
    magnitude = np.abs(stft)
    power = magnitude**2
    series: dict[str, np.ndarray] = {
        "chroma_stft": librosa.feature.chroma_stft(S=power, sr=sr),
        "rms": librosa.feature.rms(
            y=y, frame_length=TABLE_N_FFT, hop_length=TABLE_HOP_LENGTH, pad_mode=TABLE_PAD_MODE
        ),
        "spectral_centroid": librosa.feature.spectral_centroid(S=magnitude, sr=sr),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(S=magnitude, sr=sr),
        "rolloff": librosa.feature.spectral_rolloff(S=magnitude, sr=sr),
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(
            y, frame_length=TABLE_N_FFT, hop_length=TABLE_HOP_LENGTH
        ),
    }
    series["harmony"], series["perceptr"] = _hpss_waveforms(stft, y.shape[0])
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    mfccs = librosa.feature.mfcc(S=log_mel, n_mfcc=TABLE_N_MFCC)

    values: dict[str, float] = {"length": float(y.shape[0])}
    for name in _STAT_FEATURES:
        values[f"{name}_mean"] = float(np.mean(series[name]))
        values[f"{name}_var"] = float(np.var(series[name]))
    values["tempo"] = _tempo_bpm(y)
    for i in range(TABLE_N_MFCC):
        values[f"mfcc{i + 1}_mean"] = float(np.mean(mfccs[i]))
        values[f"mfcc{i + 1}_var"] = float(np.var(mfccs[i]))
    return {column: values[column] for column in TABLE_FEATURE_COLUMNS}
