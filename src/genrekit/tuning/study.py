"""The Optuna study behind ``genrekit tune``: storage, resume, sharing, report and tuned config.

* The study lives in a database: SQLite by default (``sqlite:///genrekit-tune.sqlite3``),
  PostgreSQL by URL (``postgresql+psycopg://user@host/db``). Several processes, on one
  machine or several, that name the same storage and study draw trials from it together;
  Optuna's storage is the only coordinator.
* A killed process leaves its trial RUNNING; its heartbeat stops, and after the grace
  period the next process to start a trial marks it FAILED and queues its settings again
  (Optuna's ``RetryHeartbeatStaleTrialCallback``). Finished trials are never repeated.
* ``n_trials`` is the study's total: a process stops once the study holds that many
  finished (complete or pruned) trials, counting every process's.
* The hand-set config is the study's first trial (enqueued once), so the study always
  holds the baseline measured under the same folds.
* Sampler: TPE. Pruner: median, fed after every fold (mean held-out score so far) and
  every epoch of a torch family (validation score of that fold).

This module is an edge: it opens databases and writes files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrekit.errors import GenrekitError, InvalidParameterError
from genrekit.tuning.objective import CVOutcome, CVSettings, cross_validate
from genrekit.tuning.space import (
    SEARCH_KEY,
    Dimension,
    nest,
    parse_search_space,
    settings_from_config,
    suggest_settings,
)

DEFAULT_STORAGE = "sqlite:///genrekit-tune.sqlite3"
EPOCH_STRIDE = 10_000  # pruner steps per fold: fold k's epochs are k*STRIDE+e, its end (k+1)*STRIDE
BASELINE_ATTR = "baseline"
OUTCOME_ATTR = "cv"
WORKER_ATTR = "worker"
SQLITE_TIMEOUT_S = 60  # seconds a process waits for another's write lock


@dataclass(frozen=True)
class TuneSettings:
    """What ``genrekit tune`` runs.

    Attributes
    ----------
    family : str
    base_config : dict
        The family's config file content (holds the ``[search]`` table).
    data : str
        Dataset folder, manifest or feature table.
    n_trials : int >= 1
        Finished trials the study should hold (all processes together).
    timeout_s : float or None
        Stop this process after that many seconds (the running trial finishes).
    storage : str
        SQLAlchemy URL of the study database.
    study_name : str
    cv : CVSettings
    sampler_seed : int or None
        Seed of the TPE sampler (``None``: fresh randomness, right when processes share a study).
    prune : bool
        Use the median pruner.
    heartbeat_s, grace_s : int
        Heartbeat interval of a running trial, and how long a silent trial may stay
        RUNNING before another process fails and re-queues it (seconds).
    """

    family: str
    base_config: Mapping[str, Any]
    data: str
    n_trials: int = 20
    timeout_s: float | None = None
    storage: str = DEFAULT_STORAGE
    study_name: str = ""
    cv: CVSettings = field(default_factory=CVSettings)
    sampler_seed: int | None = None
    prune: bool = True
    heartbeat_s: int = 30
    grace_s: int = 90

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise InvalidParameterError(f"n_trials must be >= 1, got {self.n_trials}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise InvalidParameterError(f"timeout must be > 0 seconds, got {self.timeout_s}")
        if not 0 < self.heartbeat_s < self.grace_s:
            raise InvalidParameterError("the heartbeat interval must be > 0 and shorter than the grace period")

    @property
    def dimensions(self) -> list[Dimension]:
        """The declared search space."""
        if SEARCH_KEY not in self.base_config:
            raise InvalidParameterError(
                f"the {self.family} config has no [{SEARCH_KEY}] table: declare the settings to search there"
            )
        return parse_search_space(self.base_config[SEARCH_KEY])


STORAGE_OPEN_ATTEMPTS = 3  # tries to open a storage (concurrent first opens race on its schema)


def open_storage(url: str, *, heartbeat_s: int, grace_s: int) -> Any:
    """An Optuna RDB storage with heartbeats, re-queueing the trials of killed processes."""
    import warnings

    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    else:
        engine_kwargs["pool_pre_ping"] = True
    for attempt in range(STORAGE_OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_s,
                    grace_period=grace_s,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
                )
        except Exception as error:  # noqa: BLE001 - SQLAlchemy/driver errors of many kinds
            # Processes started together race to create a new storage's schema; the loser
            # finds it created on the next attempt.
            if attempt + 1 == STORAGE_OPEN_ATTEMPTS:
                raise InvalidParameterError(f"cannot open the study storage {redact_url(url)}: {error}") from error
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def worker_name() -> str:
    """``host:pid`` of this process (which process ran a trial of a shared study)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def redact_url(url: str) -> str:
    """A storage URL with any password replaced by ``***`` (safe to print and store)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def load_study(settings: TuneSettings) -> Any:
    """Create or open the study (maximising the CV score)."""
    import optuna

    storage = open_storage(settings.storage, heartbeat_s=settings.heartbeat_s, grace_s=settings.grace_s)
    n_startup = max(3, min(10, settings.n_trials // 3))
    sampler = optuna.samplers.TPESampler(seed=settings.sampler_seed, n_startup_trials=n_startup)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3) if settings.prune else optuna.pruners.NopPruner()
    return optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )


def finished_trials(study: Any) -> list[Any]:
    """Complete and pruned trials."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def trial_config(settings: TuneSettings, params: Mapping[str, Any]) -> dict[str, Any]:
    """The base config with a trial's (decoded) settings applied."""
    from genrekit.models.neural import deep_merge

    return deep_merge(settings.base_config, nest(params))


def make_objective(settings: TuneSettings, *, log: Callable[[str], None]) -> Callable[[Any], float]:
    """The Optuna objective: one grouped cross-validation per trial, reporting to the pruner."""
    import optuna

    dimensions = settings.dimensions

    def objective(trial: Any) -> float:
        params = suggest_settings(dimensions, trial)
        trial.set_user_attr(WORKER_ATTR, worker_name())
        config = trial_config(settings, params)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        log(f"trial {trial.number}: {shown}")

        def on_fold(fold: int, score: float, mean: float) -> None:
            trial.report(mean, step=(fold + 1) * EPOCH_STRIDE)
            trial.set_user_attr(f"fold{fold}", score)
            if fold + 1 < settings.cv.n_folds and trial.should_prune():
                log(f"trial {trial.number}: pruned after fold {fold + 1} (mean {mean:.3f})")
                raise optuna.TrialPruned()

        def on_epoch(fold: int, entry: Mapping[str, float]) -> None:
            value = entry.get(f"valid_{settings.cv.metric}")
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), step=fold * EPOCH_STRIDE + int(entry["epoch"]))
            if trial.should_prune():
                log(f"trial {trial.number}: pruned at fold {fold + 1}, epoch {int(entry['epoch'])}")
                raise optuna.TrialPruned()

        started = time.perf_counter()
        outcome = cross_validate(
            settings.family, config, settings.data, settings.cv, on_fold=on_fold, on_epoch=on_epoch, log=log
        )
        trial.set_user_attr(OUTCOME_ATTR, outcome.to_dict())
        log(f"trial {trial.number}: {settings.cv.metric} {outcome.mean:.4f} ({time.perf_counter() - started:.0f} s)")
        return outcome.mean

    return objective


def run_tuning(settings: TuneSettings, *, log: Callable[[str], None] | None = None) -> Any:
    """Run (or resume, or join) the study until it holds ``n_trials`` finished trials.

    Returns
    -------
    optuna.Study
    """
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    from genrekit.training.config import resolve_config

    log = log or (lambda message: None)
    dimensions = settings.dimensions
    resolve_config(settings.family, file_data=settings.base_config)  # fail early on a bad base config
    study = load_study(settings)
    if not study.trials:
        baseline = settings_from_config(dimensions, resolve_config(settings.family, file_data=settings.base_config).to_dict())
        study.enqueue_trial(baseline, user_attrs={BASELINE_ATTR: True}, skip_if_exists=True)
    done = len(finished_trials(study))
    if done:
        log(f"study {settings.study_name}: {done} finished trial(s) already stored; continuing")
    remaining = settings.n_trials - done
    if remaining <= 0:
        log(f"study {settings.study_name} already holds {done} finished trials (asked {settings.n_trials})")
        return study
    study.optimize(
        make_objective(settings, log=log),
        n_trials=remaining,
        timeout=settings.timeout_s,
        catch=(GenrekitError,),
        callbacks=[MaxTrialsCallback(settings.n_trials, states=(TrialState.COMPLETE, TrialState.PRUNED))],
        gc_after_trial=True,
    )
    del optuna
    return study


# ----------------------------------------------------------------------------- results


def best_trial(study: Any) -> Any:
    """The best complete trial.

    Raises
    ------
    InvalidParameterError
        No trial completed yet.
    """
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise InvalidParameterError("the study has no complete trial yet")
    return max(complete, key=lambda t: (t.value, -t.number))


def baseline_trial(study: Any) -> Any | None:
    """The complete trial of the hand-set config, if it ran."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if trial.user_attrs.get(BASELINE_ATTR):
            return trial
    return None


def tuned_config(settings: TuneSettings, study: Any) -> dict[str, Any]:
    """The base config with the best trial's settings, and a ``[tuned]`` table saying where from."""
    from genrekit.tuning.space import decode_choice

    best = best_trial(study)
    params = {k: decode_choice(v) for k, v in best.params.items()}
    config = trial_config(settings, params)
    config["family"] = settings.family
    config["tuned"] = {
        "study": settings.study_name,
        "storage": redact_url(settings.storage),
        "trial": best.number,
        "metric": settings.cv.metric,
        "cv_mean": round(float(best.value), 6),
        "n_folds": settings.cv.n_folds,
        "fold_scheme": settings.cv.scheme,
        "fold_seed": settings.cv.seed,
        "data": str(settings.data),
        "n_finished_trials": len(finished_trials(study)),
        "note": "settings chosen on these folds: the cv_mean is optimistic; measure on other data",
    }
    return config


def cv_figures(outcome: CVOutcome, *, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """Pooled out-of-fold accuracy and macro-F1 with percentile bootstrap intervals, and the fold spread."""
    import numpy as np

    from genrekit.evaluation.metrics import evaluate_predictions

    result = evaluate_predictions(outcome.y_true, outcome.proba, outcome.labels, n_bootstrap=n_bootstrap, seed=seed)
    scores = np.asarray(outcome.fold_scores)
    return {
        "n_tracks": len(outcome.track_ids),
        "fold_scores": [round(float(s), 4) for s in scores],
        "fold_mean": float(scores.mean()),
        "fold_sd": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
        "accuracy": result.accuracy.to_dict(),
        "macro_f1": result.macro_f1.to_dict(),
    }


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's fANOVA importances of the searched settings (empty when too few trials vary)."""
    import optuna

    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()}
    except (RuntimeError, ValueError):
        return {}


def trials_rows(study: Any) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, duration, settings, baseline flag."""
    from genrekit.tuning.space import decode_choice

    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "duration_s": round(duration, 1) if duration is not None else None,
                "baseline": bool(t.user_attrs.get(BASELINE_ATTR)),
                "params": {k: decode_choice(v) for k, v in t.params.items()},
            }
        )
    return rows


def plot_history(study: Any, path: Path, *, metric: str) -> Path:
    """Optimisation-history PNG: each finished trial's value and the best so far (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    pruned = [t for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if complete:
        xs = [t.number for t in complete]
        ys = [t.value for t in complete]
        ax.scatter(xs, ys, s=18, label="complete trial", color="#1f77b4", zorder=3)
        best, best_line = -math.inf, []
        for y in ys:
            best = max(best, y)
            best_line.append(best)
        ax.step(xs, best_line, where="post", color="#d62728", label="best so far")
        base = [t for t in complete if t.user_attrs.get(BASELINE_ATTR)]
        if base:
            ax.axhline(base[0].value, color="grey", linestyle="--", linewidth=1, label="hand-set config")
    if pruned:
        ys = [t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else math.nan for t in pruned]
        ax.scatter([t.number for t in pruned], ys, s=14, marker="x", color="#7f7f7f", label="pruned (last report)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"CV {metric} (mean over folds)")
    ax.set_title(f"optimisation history: {study.study_name}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(settings: TuneSettings, study: Any, out_dir: Path, *, n_bootstrap: int = 1000) -> dict[str, Any]:
    """Write ``report.md``, ``report.json``, ``trials.csv`` and ``history.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = trials_rows(study)
    importances = param_importances(study)
    best = best_trial(study)
    figures: dict[str, Any] = {}
    for name, trial in (("best", best), ("hand-set", baseline_trial(study))):
        if trial is not None and OUTCOME_ATTR in trial.user_attrs:
            outcome = CVOutcome.from_dict(trial.user_attrs[OUTCOME_ATTR])
            figures[name] = {"trial": trial.number, **cv_figures(outcome, n_bootstrap=n_bootstrap, seed=settings.cv.seed)}
    plot_history(study, out_dir / "history.png", metric=settings.cv.metric)
    report = {
        "study": settings.study_name,
        "storage": redact_url(settings.storage),
        "family": settings.family,
        "data": str(settings.data),
        "protocol": {
            "folds": settings.cv.n_folds,
            "scheme": settings.cv.scheme,
            "seed": settings.cv.seed,
            "valid_fraction": settings.cv.valid_fraction,
            "metric": settings.cv.metric,
            "n_bootstrap": n_bootstrap,
        },
        "search_space": [d.to_dict() for d in settings.dimensions],
        "best": {"trial": best.number, "value": best.value, "params": next(r["params"] for r in rows if r["number"] == best.number)},
        "cv_figures": figures,
        "importances": importances,
        "trials": rows,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    (out_dir / "trials.csv").write_text(format_trials_csv(rows), encoding="utf-8")
    (out_dir / "report.md").write_text(format_report_markdown(report), encoding="utf-8")
    return report


def format_trials_csv(rows: list[dict[str, Any]]) -> str:
    """The trials table as CSV, one column per searched setting."""
    keys = sorted({k for r in rows for k in r["params"]})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["number", "state", "value", "duration_s", "baseline", *keys])
    for r in rows:
        writer.writerow([r["number"], r["state"], r["value"], r["duration_s"], r["baseline"], *[json.dumps(r["params"].get(k)) for k in keys]])
    return buffer.getvalue()


def _ci(metric: Mapping[str, Any]) -> str:
    low, high = metric.get("low"), metric.get("high")
    if low is None or high is None:
        return f"{metric['value']:.3f}"
    return f"{metric['value']:.3f} [{low:.3f}, {high:.3f}]"


def format_report_markdown(report: Mapping[str, Any]) -> str:
    """The tuning report as Markdown."""
    p = report["protocol"]
    lines = [
        f"# Tuning report: {report['family']} ({report['study']})",
        "",
        f"- data: {report['data']}",
        f"- objective: mean {p['metric']} over {p['folds']} {p['scheme']} folds (seed {p['seed']}; "
        f"tracks and known groups never cross folds; {p['valid_fraction']:.0%} of each fold's training tracks validate)",
        f"- storage: {report['storage']}",
        f"- best trial: {report['best']['trial']} ({report['best']['value']:.4f}): "
        + ", ".join(f"{k} = {json.dumps(v)}" for k, v in report["best"]["params"].items()),
        "",
        "## Cross-validation figures",
        "",
        f"Pooled out-of-fold predictions, {p['n_bootstrap']} bootstrap resamples over tracks (95% percentile "
        "intervals). The best trial was chosen on these folds, so its figures are optimistic.",
        "",
        "| config | trial | folds: mean ± sd | pooled accuracy [95% CI] | pooled macro-F1 [95% CI] | tracks |",
        "|---|---:|---|---|---|---:|",
    ]
    for name, fig in report["cv_figures"].items():
        lines.append(
            f"| {name} | {fig['trial']} | {fig['fold_mean']:.3f} ± {fig['fold_sd']:.3f} | {_ci(fig['accuracy'])} | "
            f"{_ci(fig['macro_f1'])} | {fig['n_tracks']} |"
        )
    lines += ["", "## Parameter importances (fANOVA)", ""]
    if report["importances"]:
        lines += ["| setting | importance |", "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in report["importances"].items()]
    else:
        lines.append("Not enough varied complete trials to estimate them.")
    lines += ["", "## Trials", "", "![optimisation history](history.png)", ""]
    keys = sorted({k for r in report["trials"] for k in r["params"]})
    lines += ["| trial | state | value | s | " + " | ".join(keys) + " |", "|---:|---|---:|---:|" + "---|" * len(keys)]
    for r in report["trials"]:
        value = f"{r['value']:.4f}" if isinstance(r["value"], float) else ""
        name = f"{r['number']}{' (hand-set)' if r['baseline'] else ''}"
        cells = " | ".join(json.dumps(r["params"].get(k)) if k in r["params"] else "" for k in keys)
        lines.append(f"| {name} | {r['state']} | {value} | {r['duration_s'] if r['duration_s'] is not None else ''} | {cells} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- config files


def format_toml(data: Mapping[str, Any]) -> str:
    """A config dict as TOML: scalars and lists at the top, then one ``[table]`` per mapping
    (mappings inside tables become inline tables). ``tomllib`` reads it back unchanged.

    Raises
    ------
    InvalidParameterError
        A value TOML cannot hold (``None``).
    """
    top = [(k, v) for k, v in data.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in top]
    for key, table in tables:
        lines += ["", f"[{_toml_key(key)}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if value is None:
        raise InvalidParameterError("TOML has no null: write the tuned config as .yaml instead")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise InvalidParameterError(f"cannot write {type(value).__name__} into a config file")


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Write a training config as TOML (``.toml``) or YAML (``.yaml``/``.yml``)."""
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        text = format_toml(config)
    elif suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(json.loads(json.dumps(config)), sort_keys=False)
    else:
        raise InvalidParameterError(f"the tuned config must end in .toml, .yaml or .yml, got {path.name}")
    path.write_text(text, encoding="utf-8")
    return path
