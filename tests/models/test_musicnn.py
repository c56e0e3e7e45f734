"""The PyTorch musicnn port: tags, configs, loading, and parity with the original TensorFlow models.

Golden fixtures (``tests/golden/musicnn/*.npz``) were computed once with the original
musicnn 0.1.0 on TensorFlow 2.15.1 (see that folder's README). They hold only the original's
outputs and the clips' names and SHA-256, never the input: the backbone-only parity tests
recompute musicnn's exact input patches from the shared clips with the same librosa calls as
``musicnn.extractor.batch_data`` (:func:`reference_patches`), so they skip without the
shared data. With librosa 0.11 (the golden run used 0.10.2.post1) those patches were measured
bit-identical to the golden run's; a failure message says whether they still are
(``input_sha256``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.musicnn import (
    MSD_TAGS,
    MTT_TAGS,
    N_FRAMES,
    PATCH_DURATION_S,
    PRETRAINED_CONFIGS,
    Musicnn,
    MusicnnConfig,
    convert_tf_variables,
    load_pretrained,
    musicnn_embeddings,
    pretrained_path,
)

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "musicnn"
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.npz"))
MODEL_NAMES = list(PRETRAINED_CONFIGS)

TAGGRAM_ATOL = 1e-3  # the criterion, with identical top-5 tags; measured max |torch - tensorflow|: 4.5e-6
EMBEDDING_ATOL = 1e-4  # penultimate, mean_pool, pool5; measured max: 1.3e-5
MAX_POOL_ATOL = 1e-3  # max_pool reaches 105 (residual mid-end sums); measured max abs error 4.1e-4


@pytest.fixture(scope="module")
def models() -> dict[str, Musicnn]:
    return {name: load_pretrained(name) for name in MODEL_NAMES}


def reference_patches(path: Path, n_frames: int = N_FRAMES) -> np.ndarray:
    """musicnn 0.1.0's exact input patches for an audio file, as ``musicnn.extractor.batch_data`` computes them.

    The same librosa calls (load at 16 kHz with librosa's default soxr HQ resampling, mel power
    with n_fft 512, hop 256, 96 bands, time first), the float16 rounding of the mel power, then
    ``log10(10000 * mel + 1)`` in float32 (NumPy 1.x promoted ``10000 * float16`` to float32;
    NumPy 2 would stay in float16), and non-overlapping patches of ``n_frames`` frames.

    Returns
    -------
    np.ndarray
        ``(n_windows, n_frames, 96)`` float32.
    """
    import librosa

    audio, sr = librosa.load(str(path), sr=16000)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    with np.errstate(over="ignore"):  # musicnn let a power above float16's maximum become inf
        mel = mel.astype(np.float16).astype(np.float32)
    log_mel = np.log10(np.float32(10000) * mel + np.float32(1))
    starts = range(0, log_mel.shape[0] - n_frames + 1, n_frames)
    return np.stack([log_mel[start : start + n_frames] for start in starts]).astype(np.float32)


def load_golden(shared_data: Path) -> dict[str, dict[str, np.ndarray]]:
    """The golden outputs by clip stem, each with the recomputed ``patches`` added.

    Fails where a shared clip is not byte-identical to the one the goldens were made from.
    """
    assert len(GOLDEN_FILES) == 3, "golden fixtures are missing"
    out = {}
    for path in GOLDEN_FILES:
        ref = dict(np.load(path))
        assert "patches" not in ref, "golden fixtures must not hold the input patches"
        clip = shared_data / str(ref["source"])
        assert hashlib.sha256(clip.read_bytes()).hexdigest() == str(ref["source_sha256"]), f"{clip} changed"
        ref["patches"] = reference_patches(clip)
        out[path.stem] = ref
    return out


def input_note(ref: dict[str, np.ndarray]) -> str:
    """Whether the recomputed input is bit-identical to the golden run's (for failure messages)."""
    same = hashlib.sha256(ref["patches"].astype("<f4").tobytes()).hexdigest() == str(ref["input_sha256"])
    return f"{ref['source']}: input patches {'identical to' if same else 'DIFFER from'} the golden run's"


@pytest.fixture(scope="module")
def golden(shared_data: Path) -> dict[str, dict[str, np.ndarray]]:
    return load_golden(shared_data)


def test_golden_fixtures_hold_outputs_only() -> None:
    """No input or audio derivative in the repository: outputs, names and checksums only."""
    for path in GOLDEN_FILES:
        ref = np.load(path)
        identity = {"source", "source_sha256", "input_sha256", "versions"}
        assert set(ref.files) - identity == {f"{m}__taggram" for m in MODEL_NAMES} | {
            f"{m}__{key}" for m in ("MSD_musicnn", "MTT_musicnn") for key in ("penultimate", "mean_pool", "max_pool")
        } | {"MSD_vgg__pool5", "MTT_vgg__pool5"}
        assert all(ref[key].ndim == 0 for key in identity)
        assert len(str(ref["source_sha256"])) == 64


def test_tags_match_musicnn_configuration() -> None:
    assert len(MSD_TAGS) == len(set(MSD_TAGS)) == 50
    assert len(MTT_TAGS) == len(set(MTT_TAGS)) == 50
    assert MSD_TAGS[:3] == ["rock", "pop", "alternative"] and MSD_TAGS[-1] == "happy"
    assert MSD_TAGS[MSD_TAGS.index("Hip-Hop") + 1] == "70s"
    assert MTT_TAGS[:3] == ["guitar", "classical", "slow"] and MTT_TAGS[-1] == "choral"
    assert MTT_TAGS.index("no vocals") == 21


def test_patch_geometry() -> None:
    assert N_FRAMES == 187
    assert PATCH_DURATION_S == pytest.approx(187 * 256 / 16000)


def test_config_round_trip_and_validation() -> None:
    config = PRETRAINED_CONFIGS["MTT_vgg"]
    data = config.to_dict()
    assert data["tags"] == MTT_TAGS
    assert MusicnnConfig.from_dict(data) == config
    with pytest.raises(InvalidParameterError, match="unknown"):
        MusicnnConfig.from_dict({**data, "depth": 3})
    with pytest.raises(InvalidParameterError, match="arch"):
        MusicnnConfig(arch="resnet")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_pretrained_files_carry_provenance(name: str, models: dict[str, Musicnn]) -> None:
    with safe_open(str(pretrained_path(name)), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["license"] == "ISC"
    assert "Pons" in metadata["authors"]
    assert len(metadata["source_wheel_sha256"]) == 64
    assert MusicnnConfig.from_dict(__import__("json").loads(metadata["config"])) == PRETRAINED_CONFIGS[name]
    model = models[name]
    assert not model.training
    assert model.tags == (MSD_TAGS if name.startswith("MSD") else MTT_TAGS)


def test_unknown_pretrained_name() -> None:
    with pytest.raises(InvalidParameterError, match="MSD_musicnn"):
        load_pretrained("MSD_resnet")


@pytest.mark.shared_data
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_backbone_parity_with_tensorflow(name: str, models: dict[str, Musicnn], golden: dict) -> None:
    """musicnn's own input -> the original's taggram (1e-3, same top-5 tags) and embeddings."""
    model = models[name]
    for ref in golden.values():
        note = input_note(ref)
        out = musicnn_embeddings(model, ref["patches"])
        expected = ref[f"{name}__taggram"]
        assert out["taggram"].shape == expected.shape, note
        np.testing.assert_allclose(out["taggram"].numpy(), expected, rtol=0, atol=TAGGRAM_ATOL, err_msg=note)
        top5 = np.argsort(-out["taggram"].numpy(), axis=1)[:, :5]
        np.testing.assert_array_equal(top5, np.argsort(-expected, axis=1)[:, :5], err_msg=note)
        keys = ("pool5",) if name.endswith("vgg") else ("penultimate", "mean_pool", "max_pool")
        for key in keys:
            atol = MAX_POOL_ATOL if key == "max_pool" else EMBEDDING_ATOL
            np.testing.assert_allclose(out[key].numpy(), ref[f"{name}__{key}"], rtol=0, atol=atol, err_msg=f"{key} {note}")


def test_batch_consistency(models: dict[str, Musicnn]) -> None:
    mel = np.random.default_rng(0).gamma(0.5, 0.01, size=(3, N_FRAMES, 96)).astype(np.float32)
    patches = torch.from_numpy(np.log10(1 + 10000 * mel))  # the range of real musicnn input
    for name in ("MSD_musicnn", "MTT_vgg"):
        with torch.inference_mode():
            whole = models[name](patches)
            one_by_one = torch.cat([models[name](patches[i : i + 1]) for i in range(3)])
        torch.testing.assert_close(whole, one_by_one, rtol=0, atol=1e-5)


def test_embedding_shapes_and_any_length(models: dict[str, Musicnn]) -> None:
    x = torch.randn(2, 100, 96)
    with torch.inference_mode():
        feats = models["MSD_musicnn"].features(x)
    assert feats["timbral"].shape == (2, 100, 408) and feats["temporal"].shape == (2, 100, 153)
    assert feats["cnn3"].shape == (2, 100, 64) and feats["logits"].shape == (2, 50)
    emb = musicnn_embeddings(models["MSD_musicnn"], x, batch_size=1)
    assert {k: tuple(v.shape) for k, v in emb.items()} == {
        "penultimate": (2, 200), "mean_pool": (2, 753), "max_pool": (2, 753), "taggram": (2, 50)
    }  # fmt: skip
    assert models["MSD_musicnn"].embedding_dims() == {k: v.shape[1] for k, v in emb.items()}
    vgg = musicnn_embeddings(models["MSD_vgg"], torch.randn(3, N_FRAMES, 96), batch_size=2)
    assert vgg["pool5"].shape == (3, 256) and vgg["taggram"].shape == (3, 50)
    assert ((vgg["taggram"] > 0) & (vgg["taggram"] < 1)).all()


def test_embeddings_of_no_patches(models: dict[str, Musicnn]) -> None:
    out = musicnn_embeddings(models["MTT_musicnn"], np.zeros((0, N_FRAMES, 96), np.float32))
    assert out["penultimate"].shape == (0, 200) and out["taggram"].shape == (0, 50)


def test_bad_inputs(models: dict[str, Musicnn]) -> None:
    with pytest.raises(InvalidParameterError, match="n_frames, 96"):
        models["MSD_musicnn"](torch.zeros(1, N_FRAMES, 128))
    with pytest.raises(InvalidParameterError, match="shape"):
        models["MSD_musicnn"](torch.zeros(N_FRAMES, 96))
    with pytest.raises(InvalidParameterError, match="187"):
        models["MSD_vgg"](torch.zeros(1, 100, 96))
    with pytest.raises(InvalidParameterError, match="batch_size"):
        musicnn_embeddings(models["MSD_musicnn"], np.zeros((1, N_FRAMES, 96)), batch_size=0)


def test_training_mode_restored(models: dict[str, Musicnn]) -> None:
    model = Musicnn(PRETRAINED_CONFIGS["MSD_musicnn"]).load_weights(models["MSD_musicnn"].weights())
    model.train()
    musicnn_embeddings(model, torch.zeros(2, 50, 96))
    assert model.training


def test_load_weights_checks_names_and_shapes(models: dict[str, Musicnn]) -> None:
    weights = models["MSD_musicnn"].weights()
    assert not any(k.endswith("num_batches_tracked") for k in weights)
    model = Musicnn(PRETRAINED_CONFIGS["MSD_musicnn"])
    with pytest.raises(BundleError, match="missing"):
        model.load_weights({k: v for k, v in weights.items() if k != "dense.bias"})
    with pytest.raises(BundleError, match="shape"):
        model.load_weights({**weights, "dense.bias": torch.zeros(3)})


def test_convert_tf_variables_layouts() -> None:
    """TF HWIO conv kernels -> OIHW, mid-end kernels -> (out, in, time), dense (in, out) -> (out, in)."""
    config = PRETRAINED_CONFIGS["MTT_musicnn"]
    reference = Musicnn(config).weights()
    rng = np.random.default_rng(0)
    tf_vars: dict[str, np.ndarray] = {}
    shapes = {
        "conv2d": (7, 38, 1, 204), "conv2d_1": (7, 67, 1, 204), "conv2d_2": (128, 1, 1, 51), "conv2d_3": (64, 1, 1, 51),
        "conv2d_4": (32, 1, 1, 51), "conv2d_5": (7, 561, 1, 64), "conv2d_6": (7, 64, 1, 64), "conv2d_7": (7, 64, 1, 64),
        "dense": (1506, 200), "dense_1": (200, 50),
    }  # fmt: skip
    for name, shape in shapes.items():
        tf_vars[f"{name}/kernel"] = rng.standard_normal(shape).astype(np.float32)
        tf_vars[f"{name}/bias"] = rng.standard_normal(shape[-1]).astype(np.float32)
    for i, n in enumerate([1, 204, 204, 51, 51, 51, 64, 64, 64, 1506, 200]):
        for part in ("gamma", "beta", "moving_mean", "moving_variance"):
            tf_vars[f"batch_normalization{'' if i == 0 else f'_{i}'}/{part}"] = rng.random(n).astype(np.float32)
    out = convert_tf_variables(tf_vars, config)
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: tuple(v.shape) for k, v in reference.items()}
    assert out["timbral.1.conv.weight"][5, 0, 2, 60] == tf_vars["conv2d_1/kernel"][2, 60, 0, 5]
    assert out["midend.0.conv.weight"][9, 300, 4] == tf_vars["conv2d_5/kernel"][4, 300, 0, 9]
    assert out["dense.weight"][17, 1000] == tf_vars["dense/kernel"][1000, 17]
    assert out["backend_bn.running_var"][3] == tf_vars["batch_normalization_9/moving_variance"][3]
    with pytest.raises(BundleError, match="dense_1/kernel"):
        convert_tf_variables({k: v for k, v in tf_vars.items() if k != "dense_1/kernel"}, config)


def test_fused_frequency_max_equals_plain_path(models: dict[str, Musicnn]) -> None:
    """Eval-mode max over frequency via min/max of the conv output equals ReLU -> BN -> max."""
    x = torch.randn(2, 1, 140, 96)
    for block in [*models["MSD_musicnn"].timbral, *models["MTT_musicnn"].temporal]:
        assert (block.bn.weight < 0).any() and (block.bn.weight > 0).any()
        with torch.inference_mode():
            torch.testing.assert_close(block.forward_max_last(x), block(x).amax(dim=-1), rtol=0, atol=1e-6)
    model = Musicnn(PRETRAINED_CONFIGS["MSD_musicnn"]).load_weights(models["MSD_musicnn"].weights())
    model.train()
    feats = model.features(torch.randn(4, 30, 96))  # training mode: batch statistics, plain path
    assert feats["logits"].shape == (4, 50) and feats["logits"].requires_grad


def test_load_pretrained_checks_the_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import genrekit.models.musicnn as musicnn_module

    data = bytearray(pretrained_path("MTT_vgg").read_bytes())
    data[-1] ^= 0x01  # flip one bit of the last weight
    (tmp_path / "MTT_vgg.safetensors").write_bytes(bytes(data))
    monkeypatch.setattr(musicnn_module, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(BundleError, match="SHA-256"):
        load_pretrained("MTT_vgg")
    assert load_pretrained("MTT_vgg", verify=False).output.bias.shape == (50,)
    with pytest.raises(BundleError, match="convert_musicnn"):
        load_pretrained("MSD_vgg")
    assert musicnn_module.pretrained_metadata("MTT_vgg")["model"] == "MTT_vgg"
