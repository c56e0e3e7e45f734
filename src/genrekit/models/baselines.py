"""Classical baselines on the 57 table features: k-NN, SVM, logistic regression, random forest.

Each estimator follows scikit-learn's ``fit`` / ``predict`` / ``predict_proba`` with a
sorted ``classes_``, standardises its input (the statistics of a ``StandardScaler``) and
fits with scikit-learn. Prediction, though, is plain NumPy over the fitted arrays, so a
model is saved as tensors (never pickled) and a reloaded model computes exactly what the
original did:

* k-NN: the scaled training matrix and its label indices;
* logistic regression: ``coef`` and ``intercept``;
* SVM (RBF): support vectors, dual coefficients, intercepts and ``gamma`` of a one-vs-one
  ``SVC``, plus a multinomial logistic calibrator fitted on out-of-fold decision values
  (``SVC(probability=True)`` is deprecated in scikit-learn 1.9);
* random forest: every tree's ``children_left/right``, ``feature``, ``threshold`` and leaf
  class frequencies, packed into flat arrays and traversed in NumPy.

:class:`TableWaveformClassifier` wraps any of them (or any object with ``classes_`` and
``predict_proba``) into a :class:`~genrekit.models.base.WaveformClassifier`: it computes
:func:`genrekit.features.table.table_features` on each window. Table models look at whole
clips: their ``window_s`` is 30 s, and a shorter input is used as it is.

Each kind is registered as a model type and declared as a family (trainer ``table``,
:func:`~genrekit.models.families.register_family`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from genrekit.errors import BundleError, InvalidParameterError, NotFittedError
from genrekit.models.families import TABLE, Family, no_spectrogram, register_family
from genrekit.models.loaders import register_model_type
from genrekit.numeric import softmax

TABLE_SAMPLE_RATE = 22050  # Hz, the rate of the GTZAN / Kaggle feature table
TABLE_WINDOW_S = 30.0  # seconds, one GTZAN clip
# Training defaults of the table families: whole 30 s clips at the table's rate.
TABLE_PRESET = {"window_s": TABLE_WINDOW_S, "sample_rate": TABLE_SAMPLE_RATE, "max_track_s": TABLE_WINDOW_S}

BASELINE_KINDS = ("knn", "svm", "logreg", "random_forest")


def _check_matrix(X: Any, *, n_features: int | None = None) -> np.ndarray:
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(f"X must be a numeric matrix: {error}") from error
    if X.ndim != 2 or X.shape[0] == 0:
        raise InvalidParameterError(f"X must have shape (n_samples > 0, n_features), got {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise InvalidParameterError(f"X has {X.shape[1]} features, the model was fitted on {n_features}")
    if not np.all(np.isfinite(X)):
        raise InvalidParameterError("X holds NaN or infinite values")
    return X


class TableBaseline:
    """Common machinery: scaling, classes, checks, tensor export. Subclasses fit and score.

    Subclasses define ``kind``, keyword-only hyper-parameters in ``__init__`` (stored
    unchanged), ``_fit_scaled(Xs, y_idx)``, ``_proba_scaled(Xs)`` and the tensor names of
    their fitted state in ``_state_names``.
    """

    kind: ClassVar[str] = ""
    _state_names: ClassVar[tuple[str, ...]] = ()

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters, as passed to ``__init__``."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def fit(self, X: Any, y: Sequence[Any]) -> TableBaseline:
        """Fit on a feature matrix.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]
            Table features (any scale: they are standardised here).
        y : sequence of str [shape=(n_samples,)]
            Labels.

        Returns
        -------
        self
        """
        X = _check_matrix(X)
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise InvalidParameterError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InvalidParameterError(f"need at least 2 classes to fit, got {len(classes)}")
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
        self.classes_ = classes
        self.n_features_in_ = X.shape[1]
        self.mean_ = mean
        self.scale_ = scale
        self._fit_scaled((X - mean) / scale, y_idx.astype(np.int64))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]

        Returns
        -------
        np.ndarray [shape=(n_samples, n_classes), dtype=float64]
            Columns follow ``classes_``; rows sum to 1.
        """
        self._check_fitted()
        X = _check_matrix(X, n_features=self.n_features_in_)
        return self._proba_scaled((X - self.mean_) / self.scale_)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, shape ``(n_samples,)``."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _fit_scaled(self, Xs: np.ndarray, y_idx: np.ndarray) -> None:
        raise NotImplementedError

    def _proba_scaled(self, Xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """The fitted state as float64/int64 tensors (scaler statistics included)."""
        self._check_fitted()
        names = ("mean_", "scale_", *self._state_names)
        return {
            f"baseline.{name.rstrip('_')}": torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
            for name in names
        }

    @classmethod
    def from_tensors(
        cls, params: Mapping[str, Any], classes: Sequence[str], tensors: Mapping[str, torch.Tensor]
    ) -> TableBaseline:
        """Rebuild a fitted estimator from :meth:`get_params`, ``classes_`` and :meth:`to_tensors`."""
        model = make_baseline(cls.kind, params)
        model.classes_ = np.asarray(list(classes))
        for name in ("mean_", "scale_", *cls._state_names):
            key = f"baseline.{name.rstrip('_')}"
            if key not in tensors:
                raise BundleError(f"{cls.kind} bundle lacks tensor {key!r}")
            setattr(model, name, tensors[key].numpy().copy())
        model.n_features_in_ = int(model.mean_.shape[0])
        model._check_state()
        return model

    def _check_state(self) -> None:
        """Check the shapes of a reloaded state against ``classes_``."""


class KNNBaseline(TableBaseline):
    """k nearest neighbours (Euclidean distance on standardised features).

    Parameters
    ----------
    n_neighbors : int >= 1
        Neighbours that vote (capped at the number of training rows).
    weights : {"uniform", "distance"}
        Equal votes, or votes weighted by inverse distance (an exact match takes all).
    """

    kind = "knn"
    _state_names = ("train_x_", "train_y_")

    def __init__(self, *, n_neighbors: int = 5, weights: str = "distance") -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights

    def _fit_scaled(self, Xs: np.ndarray, y_idx: np.ndarray) -> None:
        if int(self.n_neighbors) < 1:
            raise InvalidParameterError(f"n_neighbors must be >= 1, got {self.n_neighbors}")
        if self.weights not in ("uniform", "distance"):
            raise InvalidParameterError(f"weights must be 'uniform' or 'distance', got {self.weights!r}")
        self.train_x_ = Xs
        self.train_y_ = y_idx

    def _proba_scaled(self, Xs: np.ndarray) -> np.ndarray:
        k = min(int(self.n_neighbors), self.train_x_.shape[0])
        # Direct differences (not the |a|^2 - 2ab + |b|^2 expansion) keep exact matches at 0.
        dist = np.empty((Xs.shape[0], self.train_x_.shape[0]))
        for start in range(0, Xs.shape[0], 64):
            diff = Xs[start : start + 64, None, :] - self.train_x_[None, :, :]
            dist[start : start + 64] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
        nearest_dist = np.take_along_axis(dist, nearest, axis=1)
        if self.weights == "uniform":
            w = np.ones_like(nearest_dist)
        else:
            exact = nearest_dist == 0.0
            with np.errstate(divide="ignore"):
                w = np.where(exact.any(axis=1, keepdims=True), exact.astype(np.float64), 1.0 / nearest_dist)
        n_classes = len(self.classes_)
        proba = np.zeros((Xs.shape[0], n_classes))
        rows = np.repeat(np.arange(Xs.shape[0]), k)
        np.add.at(proba, (rows, self.train_y_[nearest].ravel()), w.ravel())
        return proba / proba.sum(axis=1, keepdims=True)


class LogRegBaseline(TableBaseline):
    """Multinomial logistic regression (L2, lbfgs).

    Parameters
    ----------
    c : float > 0
        Inverse regularisation strength.
    class_weight : {"balanced", None}
        Reweight classes inversely to their frequency.
    max_iter : int
        lbfgs iterations.
    """

    kind = "logreg"
    _state_names = ("coef_", "intercept_")

    def __init__(self, *, c: float = 1.0, class_weight: str | None = "balanced", max_iter: int = 2000) -> None:
        self.c = c
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _fit_scaled(self, Xs: np.ndarray, y_idx: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        if float(self.c) <= 0:
            raise InvalidParameterError(f"c must be > 0, got {self.c}")
        model = LogisticRegression(C=float(self.c), class_weight=self.class_weight, max_iter=int(self.max_iter))
        model.fit(Xs, y_idx)
        self.coef_ = model.coef_.copy()
        self.intercept_ = model.intercept_.copy()

    def _proba_scaled(self, Xs: np.ndarray) -> np.ndarray:
        z = Xs @ self.coef_.T + self.intercept_
        if self.coef_.shape[0] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        return softmax(z)

    def _check_state(self) -> None:
        n_rows = 1 if len(self.classes_) == 2 else len(self.classes_)
        if self.coef_.shape != (n_rows, self.n_features_in_):
            raise BundleError(f"logreg coef has shape {self.coef_.shape}, expected ({n_rows}, {self.n_features_in_})")


class SVMBaseline(TableBaseline):
    """RBF support vector machine (one-vs-one) with calibrated probabilities.

    The probabilities come from a multinomial logistic regression fitted on the
    out-of-fold one-vs-one decision values of a stratified ``n_calibration_folds``-fold
    cross-validation of the same SVM (in-sample values where a class has a single row).

    Parameters
    ----------
    c : float > 0
        SVM regularisation.
    gamma : "scale" or float > 0
        RBF width; ``"scale"`` is ``1 / (n_features * X.var())`` on the standardised data.
    class_weight : {"balanced", None}
    n_calibration_folds : int >= 2
    random_state : int
        Seed of the calibration folds.
    """

    kind = "svm"
    _state_names = (
        "support_vectors_",
        "dual_coef_",
        "intercept_",
        "n_support_",
        "gamma_",
        "calib_coef_",
        "calib_intercept_",
    )

    def __init__(
        self,
        *,
        c: float = 10.0,
        gamma: str | float = "scale",
        class_weight: str | None = "balanced",
        n_calibration_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.c = c
        self.gamma = gamma
        self.class_weight = class_weight
        self.n_calibration_folds = n_calibration_folds
        self.random_state = random_state

    @staticmethod
    def _fit_svc(
        Xs: np.ndarray, y_idx: np.ndarray, c: float, gamma: float, class_weight: str | None
    ) -> dict[str, np.ndarray]:
        from sklearn.svm import SVC

        svc = SVC(C=c, kernel="rbf", gamma=gamma, class_weight=class_weight, decision_function_shape="ovo")
        svc.fit(Xs, y_idx)
        # libsvm's own sign convention (positive favours the first class of each pair), which
        # scikit-learn keeps in the private attributes and flips in the public ones for 2 classes.
        return {
            "support_vectors_": svc.support_vectors_.copy(),
            "dual_coef_": np.asarray(svc._dual_coef_).copy(),
            "intercept_": np.asarray(svc._intercept_).copy(),
            "n_support_": svc.n_support_.astype(np.int64).copy(),
            "classes_present": svc.classes_.astype(np.int64),
        }

    @staticmethod
    def _decision(Xs: np.ndarray, state: Mapping[str, np.ndarray], gamma: float) -> np.ndarray:
        sv = state["support_vectors_"]
        sq = np.sum(Xs**2, axis=1)[:, None] - 2.0 * Xs @ sv.T + np.sum(sv**2, axis=1)[None, :]
        kernel = np.exp(-gamma * np.maximum(sq, 0.0))
        n_support = state["n_support_"]
        starts = np.concatenate([[0], np.cumsum(n_support)])
        coef = state["dual_coef_"]
        n_classes = len(n_support)
        out = np.empty((Xs.shape[0], n_classes * (n_classes - 1) // 2))
        k = 0
        for i in range(n_classes):
            si = slice(starts[i], starts[i + 1])
            for j in range(i + 1, n_classes):
                sj = slice(starts[j], starts[j + 1])
                out[:, k] = kernel[:, si] @ coef[j - 1, si] + kernel[:, sj] @ coef[i, sj] + state["intercept_"][k]
                k += 1
        return out

    def _fit_scaled(self, Xs: np.ndarray, y_idx: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        if float(self.c) <= 0:
            raise InvalidParameterError(f"c must be > 0, got {self.c}")
        if self.gamma == "scale":
            variance = float(Xs.var())
            gamma = 1.0 / (Xs.shape[1] * variance) if variance > 0 else 1.0
        else:
            gamma = float(self.gamma)
            if gamma <= 0:
                raise InvalidParameterError(f"gamma must be 'scale' or > 0, got {self.gamma!r}")
        c = float(self.c)
        state = self._fit_svc(Xs, y_idx, c, gamma, self.class_weight)
        n_classes = len(self.classes_)
        n_pairs = n_classes * (n_classes - 1) // 2
        counts = np.bincount(y_idx, minlength=n_classes)
        n_folds = min(int(self.n_calibration_folds), int(counts.min()))
        if n_folds >= 2:
            decisions = np.zeros((Xs.shape[0], n_pairs))
            folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=int(self.random_state))
            for fit_rows, held_rows in folds.split(Xs, y_idx):
                fold_state = self._fit_svc(Xs[fit_rows], y_idx[fit_rows], c, gamma, self.class_weight)
                decisions[held_rows] = self._decision(Xs[held_rows], fold_state, gamma)
        else:
            decisions = self._decision(Xs, state, gamma)
        calibrator = LogisticRegression(C=1.0, max_iter=2000)
        calibrator.fit(decisions, y_idx)
        del state["classes_present"]
        for name, value in state.items():
            setattr(self, name, value)
        self.gamma_ = np.asarray([gamma])
        self.calib_coef_ = calibrator.coef_.copy()
        self.calib_intercept_ = calibrator.intercept_.copy()

    def decision_function(self, X: Any) -> np.ndarray:
        """One-vs-one decision values, shape ``(n_samples, n_classes * (n_classes - 1) / 2)``.

        Pairs are ordered (0, 1), (0, 2), ..., (1, 2), ...; a positive value favours the
        first class of the pair (libsvm's convention).
        """
        self._check_fitted()
        X = _check_matrix(X, n_features=self.n_features_in_)
        return self._decision((X - self.mean_) / self.scale_, self.__dict__, float(self.gamma_[0]))

    def _proba_scaled(self, Xs: np.ndarray) -> np.ndarray:
        z = self._decision(Xs, self.__dict__, float(self.gamma_[0])) @ self.calib_coef_.T + self.calib_intercept_
        if self.calib_coef_.shape[0] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        return softmax(z)

    def _check_state(self) -> None:
        n_classes = len(self.classes_)
        if self.n_support_.shape != (n_classes,) or self.dual_coef_.shape[0] != n_classes - 1:
            raise BundleError("svm bundle's support arrays do not match its labels")


class RandomForestBaseline(TableBaseline):
    """Random forest of CART trees; probabilities average the trees' leaf class frequencies.

    Parameters
    ----------
    n_estimators : int >= 1
    max_depth : int or None
    min_samples_leaf : int >= 1
    max_features : {"sqrt", "log2"} or float or None
    class_weight : {"balanced", "balanced_subsample", None}
    random_state : int
    """

    kind = "random_forest"
    _state_names = ("children_left_", "children_right_", "feature_", "threshold_", "leaf_proba_", "roots_")

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        max_features: str | float | None = "sqrt",
        class_weight: str | None = "balanced",
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.random_state = random_state

    def _fit_scaled(self, Xs: np.ndarray, y_idx: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        forest = RandomForestClassifier(
            n_estimators=int(self.n_estimators),
            max_depth=self.max_depth,
            min_samples_leaf=int(self.min_samples_leaf),
            max_features=self.max_features,
            class_weight=self.class_weight,
            random_state=int(self.random_state),
            n_jobs=1,
        )
        forest.fit(Xs, y_idx)
        lefts, rights, features, thresholds, probas, roots = [], [], [], [], [], []
        offset = 0
        for tree in forest.estimators_:
            t = tree.tree_
            left = t.children_left.astype(np.int64)
            right = t.children_right.astype(np.int64)
            leaf = left < 0
            lefts.append(np.where(leaf, -1, left + offset))
            rights.append(np.where(leaf, -1, right + offset))
            features.append(np.where(leaf, 0, t.feature).astype(np.int64))
            thresholds.append(t.threshold.astype(np.float64))
            value = t.value[:, 0, :].astype(np.float64)
            total = value.sum(axis=1, keepdims=True)
            probas.append(np.divide(value, total, out=np.zeros_like(value), where=total > 0))
            roots.append(offset)
            offset += t.node_count
        self.children_left_ = np.concatenate(lefts)
        self.children_right_ = np.concatenate(rights)
        self.feature_ = np.concatenate(features)
        self.threshold_ = np.concatenate(thresholds)
        self.leaf_proba_ = np.concatenate(probas)
        self.roots_ = np.asarray(roots, dtype=np.int64)

    def _proba_scaled(self, Xs: np.ndarray) -> np.ndarray:
        # Trees compare float32 features with float64 thresholds, as scikit-learn does.
        X32 = Xs.astype(np.float32).astype(np.float64)
        node = np.broadcast_to(self.roots_, (Xs.shape[0], len(self.roots_))).copy()
        rows = np.arange(Xs.shape[0])[:, None]
        while True:
            left = self.children_left_[node]
            active = left >= 0
            if not active.any():
                break
            go_left = X32[rows, self.feature_[node]] <= self.threshold_[node]
            node = np.where(active, np.where(go_left, left, self.children_right_[node]), node)
        return self.leaf_proba_[node].mean(axis=1)

    def _check_state(self) -> None:
        if self.leaf_proba_.shape[1] != len(self.classes_):
            raise BundleError("random forest leaf probabilities do not match the labels")


_BASELINES: dict[str, type[TableBaseline]] = {
    cls.kind: cls for cls in (KNNBaseline, SVMBaseline, LogRegBaseline, RandomForestBaseline)
}


def make_baseline(kind: str, params: Mapping[str, Any] | None = None) -> TableBaseline:
    """Build an unfitted baseline by name.

    Parameters
    ----------
    kind : {"knn", "svm", "logreg", "random_forest"}
    params : mapping, optional
        Hyper-parameters; an unknown name is an error.

    Raises
    ------
    InvalidParameterError
        Unknown kind or hyper-parameter.
    """
    if kind not in _BASELINES:
        raise InvalidParameterError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINE_KINDS)}")
    cls = _BASELINES[kind]
    params = dict(params or {})
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidParameterError(f"unknown {kind} parameter(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return cls(**params)


MIN_TABLE_SAMPLES = 2048  # samples: one analysis frame of the table features


def trim_trailing_zeros(window: np.ndarray, *, min_samples: int = MIN_TABLE_SAMPLES) -> np.ndarray:
    """Drop the run of exact zeros at the end of a window (the padding of a short input).

    Table features summarise a whole clip, so padding would change them; at least
    ``min_samples`` samples are kept.

    Parameters
    ----------
    window : np.ndarray [shape=(n_samples,)]

    Returns
    -------
    np.ndarray [shape=(n_kept,)]
        A view of ``window``.
    """
    nonzero = np.flatnonzero(window)
    end = int(nonzero[-1]) + 1 if nonzero.size else 0
    return window[: max(end, min(min_samples, window.shape[0]))]


class TableWaveformClassifier:
    """Any table-feature estimator as a :class:`~genrekit.models.base.WaveformClassifier`.

    Parameters
    ----------
    estimator : object
        Has ``classes_`` and ``predict_proba(X)`` with ``X`` of shape ``(n, n_columns)``.
    columns : sequence of str
        Table feature names, in the estimator's column order.
    sample_rate : int
        Rate (Hz) of the windows.
    window_s : float
        Window length (seconds); shorter windows are used as they are.
    feature_fn : callable, optional
        ``feature_fn(y, sr) -> dict[str, float]``; defaults to
        :func:`genrekit.features.table.table_features`.

    Notes
    -----
    Trailing exact zeros (the padding of an input shorter than a window) are dropped
    before the features are computed (:func:`trim_trailing_zeros`).
    """

    def __init__(
        self,
        estimator: Any,
        columns: Sequence[str],
        *,
        sample_rate: int = TABLE_SAMPLE_RATE,
        window_s: float = TABLE_WINDOW_S,
        feature_fn: Callable[[np.ndarray, int], Mapping[str, float]] | None = None,
    ) -> None:
        self.estimator = estimator
        self.columns = list(columns)
        self.labels = [str(c) for c in estimator.classes_]
        self.sample_rate = int(sample_rate)
        self.window_s = float(window_s)
        self._feature_fn = feature_fn

    def features(self, windows: np.ndarray) -> np.ndarray:
        """Table features of each window, shape ``(n_windows, n_columns)``, float64."""
        fn = self._feature_fn
        if fn is None:
            from genrekit.features.table import table_features

            fn = table_features
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2:
            raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {windows.shape}")
        rows = []
        for window in windows:
            values = fn(trim_trailing_zeros(window), self.sample_rate)
            missing = [c for c in self.columns if c not in values]
            if missing:
                raise InvalidParameterError(f"table features lack column(s) {', '.join(missing[:5])}")
            rows.append([float(values[c]) for c in self.columns])
        return np.asarray(rows, dtype=np.float64)

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_windows, n_labels)`` float32 for mono windows ``(n_windows, n_samples)``."""
        proba = np.asarray(self.estimator.predict_proba(self.features(windows)), dtype=np.float64)
        return (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)


def baseline_bundle_parts(
    model: TableBaseline, columns: Sequence[str], *, sample_rate: int = TABLE_SAMPLE_RATE
) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """The card ``features`` and ``config`` sections and the tensors of a fitted baseline."""
    features = {"kind": "table", "columns": list(columns), "sample_rate": int(sample_rate)}
    config = {"estimator": model.kind, "params": model.get_params()}
    return features, config, model.to_tensors()


@register_model_type("knn")
@register_model_type("svm")
@register_model_type("logreg")
@register_model_type("random_forest")
def _load_baseline(card: Any, tensors: Mapping[str, torch.Tensor]) -> TableWaveformClassifier:
    kind = card.config.get("estimator", card.model_type)
    if kind != card.model_type:
        raise BundleError(f"card config estimator {kind!r} does not match model_type {card.model_type!r}")
    model = _BASELINES[kind].from_tensors(card.config.get("params", {}), card.labels, tensors)
    columns = card.features.get("columns")
    if not columns or len(columns) != model.n_features_in_:
        raise BundleError(f"{kind} bundle's feature columns do not match its {model.n_features_in_} inputs")
    return TableWaveformClassifier(model, columns, sample_rate=card.sample_rate, window_s=card.window_s)


def _baseline_schema(kind: str) -> Callable[[Mapping[str, Any]], TableBaseline]:
    def parse(model: Mapping[str, Any]) -> TableBaseline:
        return make_baseline(kind, model)

    return parse


for _kind in BASELINE_KINDS:
    register_family(
        Family(_kind, TABLE, _baseline_schema(_kind), no_spectrogram, f"{_kind}.toml", TABLE_PRESET, reads_table=True)
    )
