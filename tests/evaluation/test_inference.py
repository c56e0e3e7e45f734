"""Label matching, prediction-to-vector conversion and training-data detection."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.evaluation.inference import (
    label_key,
    match_labels,
    prediction_to_proba,
    training_data_names,
    training_track_ids,
)
from genrekit.predict import GenreScore, ModelInfo, Prediction


def test_match_labels_exact_then_by_key_and_none_when_unknown_or_ambiguous():
    model = ["blues", "hiphop", "rnb", "r-n-b", "rock"]
    mapping = match_labels(["blues", "Hip-Hop", "Rock", "polka", "RnB"], model)
    assert mapping == {"blues": "blues", "Hip-Hop": "hiphop", "Rock": "rock", "polka": None, "RnB": None}
    assert label_key("Hip-Hop / Rap") == "hiphoprap"


def test_prediction_to_proba_follows_the_label_order():
    pred = Prediction(
        name="x", duration_s=1.0, model=ModelInfo("m", "1"),
        genres=[GenreScore("jazz", 0.6), GenreScore("blues", 0.3), GenreScore("rock", 0.1)], segments=[],
    )  # fmt: skip
    assert np.allclose(prediction_to_proba(pred, ["blues", "jazz", "rock"]), [0.3, 0.6, 0.1])
    with pytest.raises(InvalidParameterError, match="differ"):
        prediction_to_proba(pred, ["blues", "jazz"])


def test_training_track_ids_and_data_names_from_cards():
    assert training_track_ids({"track_ids": {"train": ["a", "b"]}}) == {"train": {"a", "b"}}
    assert training_track_ids({"splits": {"valid": {"track_ids": ["c"]}}}) == {"valid": {"c"}}
    assert training_track_ids({}) == {}
    trainer_card = {"data": {"name": "gtzan-dev", "spec": "/data/gtzan-dev/", "n_tracks": {"train": 3}}}
    assert training_data_names(trainer_card) == {"gtzan-dev"}
    script_card = {
        "data": {"gtzan-dev/train": {"n_tracks": 116}, "extra-pool": {"used_for_training": False}},
        "selection_data": {"gtzan-dev/valid": {"n_tracks": 45}},
    }
    assert training_data_names(script_card) == {"gtzan-dev"}
