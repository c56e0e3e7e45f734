"""Retraining from editors' corrections: champion versus challenger on the same held-out data.

:func:`retrain` does, in order:

1. reads the registry's champion and its labels;
2. splits the base training data (a dataset folder or manifest) by unit, as the workbench
   does (:func:`genrekit.training.splits.make_splits`, scheme ``random``: whole artist groups
   on one side, stratified by label) into train / valid / held-out test, seeded; tracks the
   champion's card lists as seen in its own training are moved out of the held-out side;
3. adds the accepted corrections that kept their audio to the training side (each its own
   group; one whose audio equals a held-out file is left out, so nothing leaks);
4. trains the challenger with the champion's own training config (or the one given), the
   split fixed by a ``split`` column (scheme ``dataset``);
5. classifies every held-out track with both models through :class:`genrekit.predict.Classifier`
   (the serving path) and computes accuracy and macro-F1;
6. registers the challenger and promotes it only when :class:`PromotionRule` says it is not
   worse; either way the decision, the rule and both figures go into the registry history.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrekit.bundle.io import CARD_FILENAME, read_card, sha256_file
from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.lifecycle.versions import ModelRegistry, RegistryError

RULE_METRICS = ("macro_f1", "accuracy")
_SUFFIXES = {"audio/wav": ".wav", "audio/flac": ".flac", "audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/mp4": ".m4a"}


@dataclass(frozen=True)
class PromotionRule:
    """When a challenger may replace the champion.

    Parameters
    ----------
    metric : {"macro_f1", "accuracy"}
        Track-level metric on the held-out data.
    max_drop : float >= 0
        The challenger is promoted when ``challenger >= champion - max_drop``; 0 means "not
        worse at all" (a tie promotes: the challenger has seen the corrections).
    """

    metric: str = "macro_f1"
    max_drop: float = 0.0

    def __post_init__(self) -> None:
        if self.metric not in RULE_METRICS:
            raise InvalidParameterError(f"metric must be one of {', '.join(RULE_METRICS)}, got {self.metric!r}")
        if not 0.0 <= self.max_drop <= 1.0:
            raise InvalidParameterError(f"max_drop must be in [0, 1], got {self.max_drop}")

    def describe(self) -> str:
        """The rule in words, as logged."""
        return f"promote when challenger {self.metric} >= champion {self.metric} - {self.max_drop:g}"

    def decide(self, champion: Mapping[str, float], challenger: Mapping[str, float]) -> tuple[bool, str]:
        """Whether to promote, and why (both figures in the reason)."""
        old, new = float(champion[self.metric]), float(challenger[self.metric])
        promote = new >= old - self.max_drop - 1e-12
        verdict = "not worse" if promote else "worse"
        return promote, f"challenger {self.metric} {new:.4f} vs champion {old:.4f}: {verdict} ({self.describe()})"


def track_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 (over ``labels`` present in ``y_true``) of track-level predictions."""
    if not y_true:
        raise DatasetError("no held-out tracks to evaluate on")
    n = len(y_true)
    accuracy = sum(t == p for t, p in zip(y_true, y_pred)) / n
    f1s = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred))
        n_true = sum(t == label for t in y_true)
        n_pred = sum(p == label for p in y_pred)
        if n_true == 0:
            continue
        f1s.append(0.0 if tp == 0 else 2 * tp / (n_true + n_pred))
    return {"accuracy": round(accuracy, 6), "macro_f1": round(sum(f1s) / len(f1s), 6), "n_tracks": n}


def _predict_labels(bundle: Path, paths: Sequence[Path]) -> list[str]:
    from genrekit.predict import Classifier

    classifier = Classifier.load(bundle)
    return [classifier.predict(str(path)).genres[0].genre for path in paths]


def next_version(registry: ModelRegistry, champion_version: str) -> str:
    """A new version id after ``champion_version``: ``<base>+r<n>``, ``n`` counting up from 1."""
    base = champion_version.split("+", 1)[0]
    taken = {v.id for v in registry.versions()}
    n = 1
    while f"{base}+r{n}" in taken:
        n += 1
    return f"{base}+r{n}"


@dataclass(frozen=True)
class RetrainResult:
    """What one retraining did."""

    challenger: str
    promoted: bool
    reason: str
    evaluation: dict[str, Any]


def retrain(
    *,
    registry: ModelRegistry,
    database_url: str,
    data: str | Path,
    work_dir: str | Path | None = None,
    config: Any = None,
    rule: PromotionRule = PromotionRule(),
    seed: int = 0,
    test_fraction: float = 0.25,
    valid_fraction: float = 0.15,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> RetrainResult:
    """Train a challenger on the base data plus accepted corrections, and promote it if the rule allows.

    Parameters
    ----------
    registry : ModelRegistry
        Holds the champion; receives the challenger and the decision.
    database_url : str
        The service's database (where the corrections are).
    data : path
        Base training data: a dataset folder or manifest (labels outside the champion's are dropped).
    work_dir : path or None
        Where the manifest, the corrections' audio and the challenger are written (a
        temporary folder when ``None``).
    config : TrainConfig or None
        Training config; ``None`` reuses the champion card's ``training.config``.
    rule : PromotionRule
    seed : int
        Seeds the held-out split (the same seed gives the same held-out tracks every run) and training.
    test_fraction, valid_fraction : float in [0, 1)
        Shares of the base data's units held out for the comparison and for validation.
    cache_dir : path or None
        Feature cache of the workbench.
    log : callable
        Receives one line per step.

    Raises
    ------
    RegistryError
        The registry has no champion.
    InvalidParameterError, DatasetError
        No usable config, or data without held-out or training tracks.
    """
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="genrekit-retrain-") as tmp:
            return retrain(
                registry=registry, database_url=database_url, data=data, work_dir=tmp, config=config, rule=rule,
                seed=seed, test_fraction=test_fraction, valid_fraction=valid_fraction, cache_dir=cache_dir, log=log,
            )
    from genrekit.training.config import TrainConfig
    from genrekit.training.data import load_training_data
    from genrekit.training.splits import make_splits
    from genrekit.training.trainers import train
    from genrekit.models.neural import config_from_dict

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    champion = registry.champion()
    if champion is None:
        raise RegistryError(f"the registry {registry.root} has no champion: 'genrekit models register BUNDLE --promote' first")
    card = read_card(champion.path)
    labels = list(card.labels)
    log(f"champion {champion.id} ({card.name}), labels: {', '.join(labels)}")

    if config is None:
        recorded = card.training.get("config")
        if not recorded:
            raise InvalidParameterError(
                f"champion {champion.id} records no training config; pass one (--config/--family)"
            )
        config = config_from_dict(TrainConfig, recorded)
    config = dataclasses.replace(
        config, name=card.name, seed=seed, genres=(), split=dataclasses.replace(config.split, scheme="dataset")
    )

    records = [r for r in load_training_data(data, scheme="random").records if r.label in labels]
    splits = make_splits(records, "random", seed=seed, test_fraction=test_fraction, valid_fraction=valid_fraction)
    seen = {str(t) for side in ("train", "valid") for t in (card.training.get("track_ids") or {}).get(side, [])}
    held_out = [r for r in splits["test"] if str(r.track_id) not in seen]
    n_seen = len(splits["test"]) - len(held_out)
    if n_seen:
        log(f"{n_seen} held-out track(s) were in the champion's own training data and are left out of the comparison")
    if not held_out:
        raise DatasetError("no held-out tracks left to compare the models on; give more base data or a larger test_fraction")
    held_out_hashes = {sha256_file(r.path) for r in held_out}

    corrections = _corrections(database_url, labels)
    rows: list[dict[str, str]] = []
    for side in ("train", "valid"):
        rows += [
            {"path": str(Path(r.path).resolve()), "label": r.label, "group": str(r.group or ""), "split": side,
             "track_id": str(r.track_id)}
            for r in splits[side]
        ]
    correction_dir = work / "corrections"
    correction_dir.mkdir(exist_ok=True)
    used = without_audio = leaking = 0
    for item in corrections:
        if item.audio is None:
            without_audio += 1
            continue
        if item.sha256 in held_out_hashes:
            leaking += 1
            continue
        path = correction_dir / f"{item.id}{_SUFFIXES.get(item.media_type or '', '.audio')}"
        path.write_bytes(item.audio)
        rows.append({"path": str(path), "label": item.genre, "group": f"correction-{item.sha256}", "split": "train",
                     "track_id": f"correction-{item.id}"})
        used += 1
    log(
        f"{len(corrections)} accepted correction(s): {used} used for training, {without_audio} without kept audio "
        f"(GENREKIT_FEEDBACK_KEEP_AUDIO), {leaking} equal to a held-out track"
    )
    manifest = work / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "group", "split", "track_id"])
        writer.writeheader()
        writer.writerows(rows)
    log(f"training the challenger ({config.family}) on {len(rows)} tracks; {len(held_out)} held out")
    out = work / "challenger"
    train(config, manifest, out_dir=out, progress=False, cache_dir=cache_dir, log=log)
    version = next_version(registry, card.version)
    _rename_card(out, name=card.name, version=version, parent=champion.id, n_corrections=used)

    paths = [Path(r.path) for r in held_out]
    truth = [r.label for r in held_out]
    champion_metrics = track_metrics(truth, _predict_labels(champion.path, paths), labels)
    challenger_metrics = track_metrics(truth, _predict_labels(out, paths), labels)
    promote, reason = rule.decide(champion_metrics, challenger_metrics)
    evaluation = {
        "rule": {"metric": rule.metric, "max_drop": rule.max_drop, "text": rule.describe()},
        "held_out": {"n_tracks": len(held_out), "scheme": "random by unit (artist group, else track)", "seed": seed,
                     "test_fraction": test_fraction, "left_out_seen_by_champion": n_seen},
        "champion": {"version": champion.id, **champion_metrics},
        "challenger": {"version": version, **challenger_metrics},
        "corrections": {"accepted": len(corrections), "used": used, "without_audio": without_audio,
                        "equal_to_held_out": leaking},
        "decision": "promote" if promote else "refuse",
    }
    registry.register(out, source="retrain", parent=champion.id, evaluation=evaluation)
    if promote:
        registry.promote(version, reason=reason, evaluation=evaluation)
    else:
        registry.record_refusal(version, reason=reason, evaluation=evaluation)
    log(("promoted " if promote else "refused ") + f"{version}: {reason}")
    return RetrainResult(challenger=version, promoted=promote, reason=reason, evaluation=evaluation)


def _corrections(database_url: str, labels: list[str]) -> list[Any]:
    from genrekit.store.corrections import accepted_corrections
    from genrekit.store.db import create_db_engine, make_session_factory, run_migrations

    engine = create_db_engine(database_url)
    try:
        run_migrations(engine)
        with make_session_factory(engine)() as session:
            return accepted_corrections(session, labels=labels)
    finally:
        engine.dispose()


def _rename_card(bundle: Path, *, name: str, version: str, parent: str, n_corrections: int) -> None:
    """Give the challenger's card the champion's name, its registry version and where it came from."""
    path = bundle / CARD_FILENAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data["name"] = name
    data["version"] = version
    data["training"] = {**data.get("training", {}), "retrained_from": parent, "n_corrections": n_corrections}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
