"""``genrekit similar``: neighbours of a stored id or of a file, from a database filled by
the service's storage or by ``genrekit scan`` (which stores each track's embedding)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from genrekit.cli.main import main
from genrekit.store import queries
from genrekit.store.db import create_db_engine, make_session_factory, run_migrations

GENRES = ["rock", "jazz", "rock", "blues"]


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[str, list[np.ndarray]]:
    """A database with four classifications of a fake 3-D embedding space."""
    url = f"sqlite:///{tmp_path / 'lib.sqlite'}"
    engine = create_db_engine(url)
    run_migrations(engine)
    vectors = [np.array(v) / np.linalg.norm(v) for v in ([1, 0, 0], [0.9, 0.1, 0], [0.7, 0.7, 0], [0, 0, 1.0])]
    with make_session_factory(engine)() as session:
        for i, (vector, genre) in enumerate(zip(vectors, GENRES)):
            queries.create_classification(
                session, classification_id=f"t{i}", created_at=dt.datetime.now(dt.timezone.utc), sha256=f"{i:064d}",
                filename=f"/music/t{i}.mp3", visuals=None, embedding_space="fake@1",
                result={"duration_s": 30.0, "model": {"name": "fake", "version": "1"}, "genres": [{"genre": genre, "score": 0.8}],
                        "embedding": list(vector)},
            )
    engine.dispose()
    return url, vectors


def test_similar_of_an_id_prints_json_neighbours_best_first(capsys, stored: tuple[str, list[np.ndarray]]) -> None:
    url, vectors = stored
    assert main(["similar", "t0", "--db", url, "-k", "2", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in out] == ["t1", "t2"]
    assert set(out[0]) == {"id", "path", "score", "genres"} and out[0]["path"] == "/music/t1.mp3"
    assert out[0]["score"] == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-5)
    assert main(["similar", "t0", "--db", url, "--genre", "blues", "--format", "json"]) == 0
    assert [item["id"] for item in json.loads(capsys.readouterr().out)] == ["t3"]
    assert main(["similar", "t0", "--db", url]) == 0
    table = capsys.readouterr().out
    assert "/music/t1.mp3" in table and table.index("t1.mp3") < table.index("t3.mp3")


def test_unknown_id_or_missing_file_fails_with_a_reason(capsys, stored: tuple[str, list[np.ndarray]]) -> None:
    url, _ = stored
    assert main(["similar", "nope.mp3", "--db", url]) == 1
    assert "no such file, nor a stored classification id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["similar", "t0", "--db", url, "-k", "0"])


@pytest.mark.slow
def test_scan_stores_embeddings_and_a_new_file_is_classified_first(capsys, tmp_path: Path) -> None:
    from tests.web.server import make_song

    library = tmp_path / "library"
    library.mkdir()
    for seed in range(3):
        (library / f"song-{seed}.wav").write_bytes(make_song(7.0, seed=seed))
    db = tmp_path / "catalog.sqlite"
    assert main(["scan", str(library), "--db", f"sqlite:///{db}", "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["similar", str(library / "song-0.wav"), "--db", str(db), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(Path(item["path"]).name for item in out) == ["song-1.wav", "song-2.wav"]
    assert all(-1.0 <= item["score"] <= 1.0 and item["genres"] for item in out)
    newcomer = tmp_path / "new.wav"
    newcomer.write_bytes(make_song(7.0, seed=7))
    assert main(["similar", str(newcomer), "--db", str(db), "-k", "5", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["similar", str(newcomer), "--db", str(db), "--format", "json"]) == 0  # now stored: found, not redone
    assert len(json.loads(capsys.readouterr().out)) == 3
