"""``genrekit scan --engine ray`` on a tiny local Ray instance (1 CPU): the same rows as the
local engine in the database, and a Parquet dataset with the export's columns. Skipped with
the reason where Ray is not installed or cannot start here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from genrekit.batch.records import RECORD_COLUMNS
from genrekit.cli.main import main
from genrekit.store.tables import LibraryTrack

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'genrekit[ray]')")
pa_parquet = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def ray_local() -> None:
    try:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    except Exception as error:  # noqa: BLE001 - any failure to start is a reason to skip
        pytest.skip(f"a local Ray instance cannot start here: {error}")
    yield
    ray.shutdown()


@pytest.fixture()
def small_library(tmp_path: Path, library: Path) -> Path:
    """Two good songs and one broken file: enough to see the path work, cheap on 2 cores."""
    target = tmp_path / "small"
    (target / "sub").mkdir(parents=True)
    (target / "a.wav").write_bytes((library / "a.wav").read_bytes())
    (target / "sub" / "b.flac").write_bytes((library / "Artist/Album/b.flac").read_bytes())
    (target / "sub" / "broken.mp3").write_bytes((library / "Various/broken.mp3").read_bytes())
    return target


def rows(db_url: str) -> dict[str, tuple]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        out = {Path(t.path).name: (t.status, t.top_genre, t.sha256, t.model_version) for t in session.scalars(select(LibraryTrack))}
    engine.dispose()
    return out


def test_ray_engine_stores_like_the_local_engine_and_writes_parquet(
    ray_local, capsys, small_library: Path, tmp_path: Path, tiny_bundle: str
) -> None:
    ray_db = f"sqlite:///{tmp_path / 'ray.sqlite'}"
    local_db = f"sqlite:///{tmp_path / 'local.sqlite'}"
    common = ["--model", tiny_bundle, "--workers", "1"]
    assert main(["scan", str(small_library), "--db", ray_db, "--engine", "ray", *common]) == 1  # the broken file
    assert main(["scan", str(small_library), "--db", local_db, *common]) == 1
    out = capsys.readouterr().out
    assert "2 classified" in out and "1 failed" in out
    assert rows(ray_db) == rows(local_db)
    assert rows(ray_db)["broken.mp3"][0] == "error"

    out_dir = tmp_path / "results.parquet"
    assert main(["scan", str(small_library), "--engine", "ray", "--parquet", str(out_dir), *common]) == 1
    table = pa_parquet.read_table(out_dir)
    assert tuple(table.column_names) == RECORD_COLUMNS
    records = {Path(r["path"]).name: r for r in table.to_pylist()}
    assert set(records) == {"a.wav", "b.flac", "broken.mp3"}
    assert records["broken.mp3"]["status"] == "error" and "decode" in records["broken.mp3"]["error"]
    result = json.loads(records["a.wav"]["result"])
    assert result["model"] == {"name": "tiny-test", "version": "0.0.1"}
    assert records["a.wav"]["top_genre"] == result["genres"][0]["genre"]
    assert "3 files: 2 classified, 1 failed" in capsys.readouterr().out
