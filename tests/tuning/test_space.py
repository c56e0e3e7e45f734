"""Search spaces as data, tuned configs as files ``genrekit train --config`` reads."""

from __future__ import annotations

import tomllib

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.training.config import load_config_file, resolve_config
from genrekit.tuning.space import (
    decode_choice,
    encode_choice,
    nest,
    parse_search_space,
    settings_from_config,
    suggest_settings,
)
from genrekit.tuning.study import format_toml


class FixedTrial:
    """Answers each suggestion with the low end, or the last choice."""

    def suggest_float(self, name, low, high, *, step=None, log=False):
        return low

    def suggest_int(self, name, low, high, *, step=1, log=False):
        return high

    def suggest_categorical(self, name, choices):
        return choices[-1]


def test_kinds_are_inferred_and_lists_survive_as_choices() -> None:
    dims = parse_search_space(
        {
            "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
            "model.n_neighbors": {"low": 1, "high": 30},
            "model.hidden_units": {"choices": [[], [128]]},
        }
    )
    assert [d.kind for d in dims] == ["float", "int", "categorical"]
    drawn = suggest_settings(dims, FixedTrial())
    assert drawn == {"learning_rate": 1e-4, "model.n_neighbors": 30, "model.hidden_units": [128]}
    assert nest(drawn) == {"learning_rate": 1e-4, "model": {"n_neighbors": 30, "hidden_units": [128]}}
    assert decode_choice(encode_choice([1, 2])) == [1, 2]
    assert encode_choice("scale") == "scale"


@pytest.mark.parametrize(
    "table",
    [
        {},
        {"model.c": 3},
        {"model.c": {"low": 1.0}},
        {"model.c": {"low": 2.0, "high": 1.0}},
        {"model.c": {"low": 0.0, "high": 1.0, "log": True}},
        {"model.c": {"choices": []}},
        {"model.c": {"low": 0.0, "high": 1.0, "spread": 2}},
    ],
)
def test_bad_search_tables_are_refused(table) -> None:
    with pytest.raises(InvalidParameterError):
        parse_search_space(table)


def test_hand_set_values_become_the_first_trial() -> None:
    dims = parse_search_space(
        {"model.c": {"low": 1e-3, "high": 10.0, "log": True}, "model.weights": {"choices": ["uniform", "distance"]}}
    )
    assert settings_from_config(dims, {"model": {"c": 1.0, "weights": "distance"}}) == {"model.c": 1.0, "model.weights": "distance"}
    # outside the space: left for the sampler
    assert settings_from_config(dims, {"model": {"c": 50.0}}) == {}


def test_every_shipped_config_declares_a_valid_search_space_and_still_trains(repo_root) -> None:
    for path in sorted((repo_root / "configs").glob("*.toml")):
        data = load_config_file(path)
        if data.get("family") == "ensemble" or data.get("kind") == "default_model":
            continue  # an ensemble of tuned members; the default model's recipe is selected by its own grouped CV
        assert "search" in data, path.name
        parse_search_space(data["search"])
        resolve_config(file_data=data)  # the [search] table is not a training key


def test_tuned_config_round_trips_through_toml_and_train(tmp_path) -> None:
    config = {
        "family": "musicnn_head",
        "learning_rate": 0.0012,
        "weight_decay": 1e-05,
        "model": {"hidden_units": [128], "dropout": 0.25, "backbones": ["MSD_musicnn"]},
        "search": {"model.dropout": {"low": 0.0, "high": 0.6}},
        "tuned": {"study": "x", "trial": 3, "cv_mean": 0.7},
    }
    text = format_toml(config)
    assert tomllib.loads(text) == config
    path = tmp_path / "tuned.toml"
    path.write_text(text)
    resolved = resolve_config(file_data=load_config_file(path))
    assert resolved.learning_rate == 0.0012 and resolved.model["hidden_units"] == [128]
    with pytest.raises(InvalidParameterError):
        format_toml({"model": {"max_depth": None}})
