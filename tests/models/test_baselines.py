"""Classical baselines: sklearn parity, pickle-free round trip, checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from genrekit.bundle import ModelCard, save_bundle
from genrekit.errors import InvalidParameterError, NotFittedError
from genrekit.models.loaders import load_model
from genrekit.models.baselines import (
    BASELINE_KINDS,
    KNNBaseline,
    LogRegBaseline,
    RandomForestBaseline,
    SVMBaseline,
    TableWaveformClassifier,
    baseline_bundle_parts,
    make_baseline,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

FAST_PARAMS = {"random_forest": {"n_estimators": 25}, "svm": {"n_calibration_folds": 3}}


def make_data(n_classes: int, n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_idx = rng.integers(0, n_classes, size=n)
    y_idx[:n_classes] = np.arange(n_classes)
    scales = np.array([1.0, 10.0, 1000.0, 0.01, 1.0])
    X = (rng.normal(size=(n, 5)) + y_idx[:, None] * 0.9) * scales
    X_test = (rng.normal(size=(25, 5)) + rng.integers(0, n_classes, size=25)[:, None] * 0.9) * scales
    labels = np.array(["blues", "classical", "jazz", "rock"])[:n_classes]
    return X, labels[y_idx], X_test


def scaled(model: object, X: np.ndarray) -> np.ndarray:
    return (X - model.mean_) / model.scale_  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", BASELINE_KINDS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_predict_proba_contract(kind: str, n_classes: int) -> None:
    X, y, X_test = make_data(n_classes)
    model = make_baseline(kind, FAST_PARAMS.get(kind)).fit(X, y)
    proba = model.predict_proba(X_test)
    assert list(model.classes_) == sorted(set(y))
    assert proba.shape == (len(X_test), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[np.argmax(proba, axis=1)])
    train_accuracy = np.mean(model.predict(X) == y)
    assert train_accuracy > 0.6


@pytest.mark.parametrize("n_classes", [2, 4])
def test_knn_matches_sklearn(n_classes: int) -> None:
    X, y, X_test = make_data(n_classes)
    for weights in ("uniform", "distance"):
        model = KNNBaseline(n_neighbors=5, weights=weights).fit(X, y)
        reference = KNeighborsClassifier(n_neighbors=5, weights=weights).fit(scaled(model, X), y)
        np.testing.assert_allclose(
            model.predict_proba(X_test), reference.predict_proba(scaled(model, X_test)), atol=1e-12
        )


def test_knn_exact_match_takes_all_the_weight() -> None:
    X, y, _ = make_data(3)
    model = KNNBaseline(n_neighbors=5, weights="distance").fit(X, y)
    proba = model.predict_proba(X[:4])
    expected = (model.classes_[None, :] == y[:4, None]).astype(float)
    np.testing.assert_allclose(proba, expected)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_logreg_matches_sklearn(n_classes: int) -> None:
    X, y, X_test = make_data(n_classes)
    model = LogRegBaseline(c=0.5).fit(X, y)
    reference = LogisticRegression(C=0.5, class_weight="balanced", max_iter=2000).fit(scaled(model, X), y)
    np.testing.assert_allclose(model.predict_proba(X_test), reference.predict_proba(scaled(model, X_test)), atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_svm_decision_values_match_sklearn(n_classes: int) -> None:
    X, y, X_test = make_data(n_classes)
    model = SVMBaseline(c=3.0, n_calibration_folds=3).fit(X, y)
    gamma = float(model.gamma_[0])
    Xs = scaled(model, X)
    assert gamma == pytest.approx(1.0 / (Xs.shape[1] * Xs.var()))
    reference = SVC(C=3.0, gamma=gamma, class_weight="balanced", decision_function_shape="ovo").fit(Xs, y)
    expected = reference.decision_function(scaled(model, X_test))
    if n_classes == 2:
        expected = -expected[:, None]  # scikit-learn flips libsvm's sign for two classes
    np.testing.assert_allclose(model.decision_function(X_test), expected, atol=1e-9)


def test_random_forest_matches_sklearn() -> None:
    X, y, X_test = make_data(3)
    model = RandomForestBaseline(n_estimators=20, random_state=3).fit(X, y)
    reference = RandomForestClassifier(n_estimators=20, class_weight="balanced", random_state=3, n_jobs=1)
    reference.fit(scaled(model, X), y)
    np.testing.assert_allclose(model.predict_proba(X_test), reference.predict_proba(scaled(model, X_test)), atol=1e-12)


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_bundle_round_trip_is_exact(kind: str, tmp_path) -> None:
    X, y, X_test = make_data(3)
    model = make_baseline(kind, FAST_PARAMS.get(kind)).fit(X, y)
    columns = [f"f{i}" for i in range(X.shape[1])]
    features, config, tensors = baseline_bundle_parts(model, columns)
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    card = ModelCard(
        name="t", version="1", model_type=kind, labels=list(model.classes_), sample_rate=22050,
        window_s=30.0, features=features, config=config,
    )  # fmt: skip
    save_bundle(tmp_path, card, tensors)
    _, loaded = load_model(tmp_path)
    assert isinstance(loaded, TableWaveformClassifier)
    assert loaded.labels == list(model.classes_)
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X_test), model.predict_proba(X_test))


def test_table_waveform_classifier_orders_columns_and_normalises() -> None:
    X, y, _ = make_data(3)
    columns = [f"f{i}" for i in range(X.shape[1])]
    model = LogRegBaseline().fit(X, y)
    row = X[7]

    def feature_fn(window: np.ndarray, sr: int) -> dict[str, float]:
        assert sr == 22050
        return {name: float(v) for name, v in reversed(list(zip(columns, row, strict=True)))} | {"extra": 1.0}

    classifier = TableWaveformClassifier(model, columns, feature_fn=feature_fn)
    proba = classifier.predict_proba_windows(np.zeros((2, 1000), dtype=np.float32))
    assert proba.dtype == np.float32 and proba.shape == (2, 3)
    np.testing.assert_allclose(proba[0], model.predict_proba(row[None, :])[0], rtol=1e-6)
    assert classifier.window_s == 30.0 and classifier.sample_rate == 22050


def test_errors() -> None:
    X, y, _ = make_data(3)
    with pytest.raises(NotFittedError):
        LogRegBaseline().predict_proba(X)
    with pytest.raises(InvalidParameterError, match="unknown knn parameter"):
        make_baseline("knn", {"k": 3})
    with pytest.raises(InvalidParameterError, match="unknown baseline"):
        make_baseline("boosting")
    model = KNNBaseline().fit(X, y)
    with pytest.raises(InvalidParameterError, match="features"):
        model.predict_proba(X[:, :3])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidParameterError, match="NaN"):
        KNNBaseline().fit(bad, y)
    with pytest.raises(InvalidParameterError, match="2 classes"):
        KNNBaseline().fit(X, np.full(len(X), "rock"))
    with pytest.raises(InvalidParameterError):
        SVMBaseline(gamma=-1.0).fit(X, y)


def test_trailing_padding_is_ignored() -> None:
    from genrekit.models.baselines import trim_trailing_zeros

    y = np.concatenate([np.ones(5000), np.zeros(3000)])
    assert trim_trailing_zeros(y).shape == (5000,)
    assert trim_trailing_zeros(np.zeros(3000)).shape == (2048,)
    assert trim_trailing_zeros(np.zeros(100)).shape == (100,)
    seen = []
    X, y_labels, _ = make_data(2)
    columns = [f"f{i}" for i in range(X.shape[1])]

    def feature_fn(window: np.ndarray, sr: int) -> dict[str, float]:
        seen.append(window.shape[0])
        return dict(zip(columns, X[0], strict=True))

    classifier = TableWaveformClassifier(LogRegBaseline().fit(X, y_labels), columns, feature_fn=feature_fn)
    padded = np.zeros((1, 10000), dtype=np.float32)
    padded[0, :4000] = 0.5
    classifier.predict_proba_windows(padded)
    assert seen == [4000]
