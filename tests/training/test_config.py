"""Training config: layers, overrides, files, unknown keys and wrong types."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.models.families import FAMILIES
from genrekit.training.config import (
    AugmentConfig,
    TrainConfig,
    check_model_section,
    load_config_file,
    parse_overrides,
    parse_value,
    resolve_config,
)


def test_parse_value() -> None:
    assert parse_value("8") == 8
    assert parse_value("1e-3") == pytest.approx(1e-3)
    assert parse_value("true") is True
    assert parse_value("null") is None
    assert parse_value("[8, 16]") == [8, 16]
    assert parse_value("reflect") == "reflect"


def test_parse_overrides_nests_dotted_keys() -> None:
    assert parse_overrides(["a.b=1", "a.c=x", "d=2.5"]) == {"a": {"b": 1, "c": "x"}, "d": 2.5}
    for bad in ("novalue", "=3", "a..b=1"):
        with pytest.raises(InvalidParameterError):
            parse_overrides([bad])
    with pytest.raises(InvalidParameterError):
        parse_overrides(["a=1", "a.b=2"])


def test_layers_resolve_in_order(tmp_path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'family = "cnn2d_logmel"\nepochs = 5\nseed = 3\n[augment]\nmixup_alpha = 0.4\n[model]\nn_channels = [4, 8]\n'
    )
    config = resolve_config(
        None,
        file_data=load_config_file(path),
        overrides=["epochs=7", "augment.gain_db=0", "model.dropout=0.1"],
        options={"seed": 9, "device": None},
    )
    assert config.family == "cnn2d_logmel"
    assert config.epochs == 7  # --set beats the file
    assert config.seed == 9  # explicit options beat --set and the file
    assert config.device == "auto"  # None options are skipped
    assert config.augment.mixup_alpha == 0.4  # file beats the preset (0.2)
    assert config.augment.freq_mask_bins == 8  # preset kept
    assert config.augment.gain_db == 0.0
    assert config.model == {"n_channels": [4, 8], "dropout": 0.1}
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_presets() -> None:
    assert resolve_config("svm").window_s == 30.0
    assert resolve_config("musicnn_head").sample_rate == 16000
    assert resolve_config("cnn2d_logmel").window_s == 3.0
    for family in FAMILIES:
        assert resolve_config(family).family == family


def test_yaml_and_train_table(tmp_path) -> None:
    yaml_path = tmp_path / "run.yaml"
    yaml_path.write_text("family: knn\nmodel:\n  n_neighbors: 3\n")
    assert resolve_config(None, file_data=load_config_file(yaml_path)).model == {"n_neighbors": 3}
    toml_path = tmp_path / "run.toml"
    toml_path.write_text('[train]\nfamily = "svm"\nbatch_size = 4\n')
    assert load_config_file(toml_path) == {"family": "svm", "batch_size": 4}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["epoch=3"], "unknown TrainConfig key"),
        (["augment.mixup=0.2"], "augment.mixup"),
        (["split.method=random"], "split.method"),
        (["epochs=many"], "expected an integer"),
        (["learning_rate=fast"], "expected a number"),
        (["calibrate=1"], "expected true or false"),
        (["monitor=loss"], "not one of"),
        (["epochs=0"], "epochs must be > 0"),
        (["augment.gain_db=-1"], "gain_db"),
        (["genres=rock"], "expected a list"),
    ],
)
def test_bad_keys_and_values_are_errors(overrides: list[str], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        resolve_config("cnn2d_logmel", overrides=overrides)


def test_family_errors(tmp_path) -> None:
    with pytest.raises(InvalidParameterError, match="no model family"):
        resolve_config(None)
    with pytest.raises(InvalidParameterError, match="unknown family"):
        resolve_config("transformer")
    bad = tmp_path / "run.ini"
    bad.write_text("x")
    with pytest.raises(InvalidParameterError, match=".toml"):
        load_config_file(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = = 3")
    with pytest.raises(InvalidParameterError, match="malformed"):
        load_config_file(broken)
    with pytest.raises(InvalidParameterError):
        AugmentConfig(pitch_shift_p=2.0)


CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.*ml")), ids=lambda p: p.name)
def test_example_configs_resolve(path: Path) -> None:
    data = load_config_file(path)
    if data.get("kind") == "default_model":  # a default-model recipe (genrekit.training.recipe), not one family
        from genrekit.training.recipe_config import RecipeConfig

        recipe = RecipeConfig.from_dict(data)
        assert recipe.name == data["name"]
        return
    config = resolve_config(None, file_data=data)
    check_model_section(config)
    assert config.family in FAMILIES
