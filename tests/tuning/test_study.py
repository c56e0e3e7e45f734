"""Studies live in a database: a killed run resumes with its trials, two processes share one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from genrekit.cli.main import main
from tests.tuning.helpers import write_noisy_table, write_search_config

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def tune_args(table: Path, config: Path, db: Path, out: Path, n_trials: int) -> list[str]:
    return [
        "tune", "--family", "logreg", "--data", str(table), "--config", str(config),
        "--storage", f"sqlite:///{db}", "--study", "s", "--trials", str(n_trials), "--folds", "2",
        "--out", str(out), "--heartbeat", "1", "--n-bootstrap", "50", "--quiet",
    ]  # fmt: skip


def spawn(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    code = "import sys; from genrekit.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def trials(db: Path) -> list:
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    return optuna.load_study(study_name="s", storage=storage).get_trials(deepcopy=False)


def finished(db: Path) -> list:
    if not db.exists():
        return []
    try:
        return [t for t in trials(db) if t.state in FINISHED]
    except Exception:  # the study may not exist yet
        return []


@pytest.mark.slow
def test_killed_study_resumes_with_its_earlier_trials(tmp_path: Path) -> None:
    table = write_noisy_table(tmp_path / "features.csv")
    config = write_search_config(tmp_path / "logreg.toml")
    db, out = tmp_path / "study.db", tmp_path / "tuned.toml"
    process = spawn(tune_args(table, config, db, out, 5))
    deadline = time.monotonic() + 240
    while len(finished(db)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.stderr.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {t.number: (t.params, t.value, t.state) for t in finished(db)}
    assert 2 <= len(before) < 5
    assert not out.exists()  # killed before it could write anything

    assert main(tune_args(table, config, db, out, 5)) == 0

    after = trials(db)
    done = [t for t in after if t.state in FINISHED]
    assert len(done) == 5
    for t in done:  # the earlier trials are kept as they were, never re-run
        if t.number in before:
            assert (t.params, t.value, t.state) == before[t.number]
    assert {t.number for t in done} >= set(before)
    assert after[0].user_attrs["baseline"] is True  # hand-set config, enqueued once
    assert sum(1 for t in after if t.user_attrs.get("baseline")) == 1
    tuned = tomllib.loads(out.read_text())
    assert tuned["tuned"]["n_finished_trials"] == 5
    report = json.loads((out.parent / "tuned-report" / "report.json").read_text())
    assert len(report["trials"]) == len(after)
    assert (out.parent / "tuned-report" / "history.png").stat().st_size > 1000
    assert report["cv_figures"]["best"]["macro_f1"]["low"] <= report["cv_figures"]["best"]["macro_f1"]["value"]


@pytest.mark.slow
def test_two_processes_share_one_study(tmp_path: Path) -> None:
    table = write_noisy_table(tmp_path / "features.csv")
    config = write_search_config(tmp_path / "logreg.toml")
    db = tmp_path / "study.db"
    n_trials = 8
    processes = [spawn(tune_args(table, config, db, tmp_path / f"tuned{i}.toml", n_trials)) for i in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    every = trials(db)
    done = [t for t in every if t.state in FINISHED]
    assert n_trials <= len(done) <= n_trials + 1  # the target is the study's, not each process's
    assert len({t.number for t in every}) == len(every)
    workers = {t.user_attrs.get("worker") for t in done}
    assert len(workers) == 2, workers  # both processes ran trials of the one study
    tried = {t.params["model.c"] for t in done if t.state == TrialState.COMPLETE}
    for i in range(2):  # each writes the study's best at the time it stopped
        assert tomllib.loads((tmp_path / f"tuned{i}.toml").read_text())["model"]["c"] in tried
