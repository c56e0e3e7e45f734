"""``genrekit evaluate``: track-level metrics of a model bundle on a labelled dataset.

Each file is classified whole, exactly as ``genrekit classify`` does it
(:class:`genrekit.predict.Classifier`), and the track-level scores are compared with the
dataset's labels.

Labels the model does not know (after matching names case- and punctuation-insensitively,
``Hip-Hop`` = ``hiphop``) are reported and their tracks EXCLUDED: a model cannot name a
genre it was never taught, and counting those tracks as wrong would mix coverage into
accuracy. The report states how many tracks were excluded and why. Files that fail to
decode are reported on stderr and skipped; the exit code is then 1 (the report is still
written).

If the model card lists the track ids it was trained or tuned on, evaluated tracks among
them are flagged in the summary: metrics on them are not honest. Without track ids, a
warning is printed when the card names the evaluated dataset among its training or
selection data and the evaluated split is not ``test``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from genrekit.cli.extras import require_train_extra
from genrekit.errors import DatasetError, InvalidParameterError

SPLIT_CHOICES = ("auto", "train", "valid", "test", "all")
DEFAULT_REPORT_ROOT = Path("reports")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a model on a labelled dataset (metrics with confidence intervals, report)",
        description="Classify every track of a labelled dataset with a model bundle and report "
        "accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, ROC-AUC and "
        "calibration error, each with a bootstrap confidence interval over tracks.",
        epilog="Data labels unknown to the model are excluded and reported; undecodable files "
        "are skipped and reported (exit code 1).",
    )
    parser.add_argument(
        "bundle", nargs="?", default=None, metavar="BUNDLE", help="model bundle directory (default: the bundled model)"
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="DIR_OR_CSV",
        help="dataset: GTZAN (any layout), FMA root, folder per genre, or CSV manifest",
    )
    parser.add_argument(
        "--split",
        choices=SPLIT_CHOICES,
        default="auto",
        help="tracks to evaluate: one split, or all; auto = test if the dataset has one, else all (default)",
    )
    parser.add_argument("--out", metavar="DIR", help="report directory (default: reports/<model>-<data>-<split>)")
    parser.add_argument(
        "--genres", metavar="G1,G2,...", help="evaluate only the tracks of these genres (comma-separated)"
    )
    parser.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--hop-s", type=float, default=None, help="seconds between analysis windows")
    parser.add_argument("--quiet", action="store_true", help="print only the headline metrics")
    parser.set_defaults(func=run)


def select_split(records: list[Any], split: str) -> tuple[list[Any], str]:
    """The records of the requested split and the split actually used (``auto`` resolved)."""
    if split == "auto":
        split = "test" if any(r.split == "test" for r in records) else "all"
    if split == "all":
        return list(records), split
    chosen = [r for r in records if r.split == split]
    if not chosen:
        present = sorted({r.split for r in records if r.split})
        raise DatasetError(
            f"the dataset has no {split!r} tracks (splits present: {', '.join(present) or 'none'}); use --split all"
        )
    return chosen, split


def run(args: argparse.Namespace) -> int:
    """Evaluate the bundle on the data; print the summary; write the report."""
    require_train_extra("evaluate")
    from genrekit.datasets import load_dataset
    from genrekit.evaluation import TrackPrediction, evaluate_predictions, format_summary, write_report
    from genrekit.evaluation.inference import match_labels, predict_tracks, training_data_names, training_track_ids
    from genrekit.evaluation.report import format_ci
    from genrekit.predict import Classifier

    if args.n_bootstrap < 0:
        raise InvalidParameterError(f"--n-bootstrap must be >= 0, got {args.n_bootstrap}")
    dataset = load_dataset(args.data)
    records, split = select_split(list(dataset.records), args.split)
    classifier = Classifier.load(args.bundle)
    card = classifier.card
    model_labels = list(classifier.labels)

    mapping = match_labels({r.label for r in records}, model_labels)
    unknown = Counter(r.label for r in records if mapping[r.label] is None)
    for label, n in sorted(unknown.items()):
        print(f"genrekit evaluate: label {label!r} is unknown to the model; excluding its {n} tracks", file=sys.stderr)
    records = [r for r in records if mapping[r.label] is not None]
    renamed = {d: m for d, m in mapping.items() if m is not None and d != m}
    if args.genres:
        wanted = [g.strip() for g in args.genres.split(",") if g.strip()]
        bad = [g for g in wanted if g not in model_labels]
        if bad:
            raise InvalidParameterError(f"--genres names labels the model lacks: {', '.join(bad)} (model: {', '.join(model_labels)})")
        records = [r for r in records if mapping[r.label] in wanted]
    if not records:
        raise DatasetError("no track left to evaluate (check --split, --genres and the labels)")

    def report_failure(path: str, message: str) -> None:
        print(f"genrekit evaluate: {path}: {message}; skipped", file=sys.stderr)

    scores = predict_tracks(classifier, records, hop_s=args.hop_s, on_failure=report_failure, progress=True)
    if not scores.records:
        raise DatasetError(f"none of the {len(records)} tracks could be classified")
    y_true = [mapping[r.label] for r in scores.records]
    result = evaluate_predictions(y_true, scores.proba, model_labels, n_bootstrap=args.n_bootstrap, seed=args.seed)

    training = card.training if card is not None else {}
    seen = training_track_ids(training)
    overlap = {side: sum(r.track_id in ids for r in scores.records) for side, ids in seen.items()}
    overlap = {side: n for side, n in overlap.items() if n}
    same_data = not seen and split != "test" and dataset.name in training_data_names(training)
    model_name = f"{card.name} {card.version}" if card is not None else "unnamed"
    info: dict[str, Any] = {
        "model": model_name,
        "model type": card.model_type if card is not None else "",
        "bundle": str(args.bundle) if args.bundle else "default bundle",
        "data": f"{args.data} ({dataset.layout}, {len(dataset)} tracks)",
        "split": split,
        "labels renamed to the model's": [f"{d} -> {m}" for d, m in sorted(renamed.items())],
        "excluded (label unknown to the model)": [f"{lab}: {n}" for lab, n in sorted(unknown.items())],
        "failed to decode (skipped)": len(scores.failures),
        "tracks with warnings": len(scores.warnings),
    }
    if overlap:
        info["WARNING"] = (
            "the model card says these evaluated tracks were used to fit or tune the model ("
            + ", ".join(f"{side}: {n}" for side, n in sorted(overlap.items()))
            + "); these metrics are optimistic, not a fair test"
        )
        print(f"genrekit evaluate: warning: {info['WARNING']}", file=sys.stderr)
    elif same_data:
        info["WARNING"] = (
            f"the model card says data named {dataset.name!r} was used to fit or tune the model; unless "
            f"the {split!r} tracks were held out from it, these metrics are optimistic, not a fair test"
        )
        print(f"genrekit evaluate: warning: {info['WARNING']}", file=sys.stderr)
    out = Path(args.out) if args.out else DEFAULT_REPORT_ROOT / _slug(f"{model_name}-{dataset.name}-{split}")
    predictions = [
        TrackPrediction(
            path=str(r.path),
            true_label=t,
            predicted=model_labels[int(row.argmax())],
            score=float(row.max()),
        )
        for r, t, row in zip(scores.records, y_true, scores.proba)
    ]
    info_json = {**info, "failures": [{"path": p, "error": m} for p, m in scores.failures]}
    write_report(out, result, predictions, info=info_json)
    if args.quiet:
        for name, metric in result.headline().items():
            print(f"{name}: {format_ci(metric)}")
    else:
        print(format_summary(result, info))
    print(f"report written to {out}", file=sys.stderr)
    return 1 if scores.failures else 0


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("_") or "report"
