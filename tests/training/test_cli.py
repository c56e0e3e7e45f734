"""``genrekit train`` on the command line: options, config files, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrekit.cli.main import main
from tests.training.test_trainers import write_tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("cli_songs"), n_per_label=3)


def test_train_writes_a_bundle_and_prints_a_summary(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text("window_s = 1.0\nmax_track_s = 2.0\ncrops_per_track = 2\n[model]\nn_channels = [4, 8]\n")
    out = tmp_path / "bundle"
    code = main(
        [
            "train", "--family", "cnn2d_logmel", "--data", str(tree), "--config", str(config),
            "--set", "features.n_mels=32", "--set", "split.valid_fraction=0.34", "--epochs", "1", "--seed", "7",
            "--device", "cpu", "--genres", "noise,tones", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), "--quiet",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(str(out)) and "valid_accuracy=" in captured.out
    card = json.loads((out / "card.json").read_text())
    assert card["labels"] == ["noise", "tones"]
    assert card["training"]["seed"] == 7
    assert card["training"]["config"]["epochs"] == 1
    assert card["training"]["config"]["features"] == {"n_mels": 32}
    assert card["features"]["n_mels"] == 32 and card["features"]["sr"] == 22050


def test_usage_and_config_errors(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["train", "--family", "cnn2d_logmel"])
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit) as excinfo:
        main(["train", "--family", "transformer", "--data", str(tree)])
    assert excinfo.value.code == 2
    capsys.readouterr()
    code = main(
        ["train", "--family", "knn", "--data", str(tree), "--set", "model.k=3", "--out", str(tmp_path / "x"), "--quiet"]
    )
    assert code == 1
    assert "unknown knn parameter(s) k" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    code = main(["train", "--family", "cnn1d", "--data", str(tree), "--set", "epoch=1", "--quiet"])
    assert code == 1
    assert "unknown TrainConfig key(s): epoch" in capsys.readouterr().err
    code = main(["train", "--data", str(tree), "--quiet"])
    assert code == 1
    assert "no model family" in capsys.readouterr().err


def test_card_records_where_the_config_came_from(tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text((Path(__file__).resolve().parents[2] / "configs" / "ci_tiny.yaml").read_text())
    out = tmp_path / "bundle"
    code = main(
        ["train", "--data", str(tree), "--config", str(config), "--set", "seed=3", "--out", str(out), "--quiet"]
        + ["--cache-dir", str(tmp_path / "cache")]
    )
    assert code == 0
    training = json.loads((out / "card.json").read_text())["training"]
    assert training["config_sources"]["file"] == str(config)
    assert training["config_sources"]["overrides"] == ["seed=3"]
    assert training["seed"] == 3 and training["family"] == "cnn2d_logmel"
