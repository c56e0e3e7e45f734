"""Similarity search at catalog scale: latency, recall@10 against exact search, and memory.

Synthetic catalogs of N unit vectors (``--dim``, default 200: the default model's
embedding width), drawn around 50 random centres so that neighbourhoods look like a music
catalog's rather than uniform noise, are stored through the service's own schema
(``classifications`` + ``track_embeddings``) and searched through
:func:`genrekit.store.vectors.search_similar`, the code the API and ``genrekit similar``
run:

* SQLite + sqlite-vec (exact: ``vec_distance_cosine`` over the blobs, in SQL);
* PostgreSQL + pgvector (pgserver), exact (sequential scan), and with an HNSW index
  (``m=16, ef_construction=64``; ``hnsw.ef_search`` 40 and 100) built for the comparison;
* NumPy brute force on an in-memory matrix (the lower bound of an exact scan).

For each: median and p95 query latency (top 10, queries are stored tracks, their own row
excluded), recall@10 against NumPy's exact answer, and memory (database file or relation +
index size; the matrix for NumPy). Prints figures, asserts nothing. The machine is shared:
compare ratios within one run.

Usage::

    .venv/bin/python benchmarks/bench_similar.py [--sizes 10000 100000 1000000] [--queries 20]
        [--no-postgres] [--hnsw-max 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from genrekit.store.db import create_db_engine, make_session_factory, run_migrations
from genrekit.store.vectors import PGV_TABLE, prepare_vector_search, search_similar, to_blob

SPACE = "bench@1"
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
K = 10
CHUNK = 20000  # rows per insert batch


def synthetic_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors around 50 random centres (float32)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    x = centres[rng.integers(0, 50, n)] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def fill(engine: Any, vectors: np.ndarray, *, pgvector: bool) -> float:
    """Insert the catalog through the service schema; returns seconds."""
    start = time.perf_counter()
    created = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        for first in range(0, len(vectors), CHUNK):
            block = vectors[first : first + CHUNK]
            ids = [f"{first + i:032d}" for i in range(len(block))]
            conn.execute(
                text(
                    "INSERT INTO classifications (id, created_at, sha256, filename, duration_s, model_name, "
                    "model_version, top_genre, top_score, result, visuals) VALUES (:id, :created_at, :sha, :fn, 30.0, "
                    "'bench', '1', :genre, 0.9, '{}', NULL)"
                ),
                [
                    {"id": i, "created_at": created, "sha": i + i, "fn": f"track{i}.mp3", "genre": GENRES[int(i) % 10]}
                    for i in ids
                ],
            )
            conn.execute(
                text("INSERT INTO track_embeddings (classification_id, space, dim, vector) VALUES (:id, :space, :dim, :v)"),
                [{"id": i, "space": SPACE, "dim": block.shape[1], "v": to_blob(v)} for i, v in zip(ids, block)],
            )
            if pgvector:
                conn.execute(
                    text(f"INSERT INTO {PGV_TABLE} (classification_id, space, embedding) VALUES (:id, :space, :v)"),
                    [{"id": i, "space": SPACE, "v": "[" + ",".join(f"{x:.6f}" for x in v) + "]"} for i, v in zip(ids, block)],
                )
    return time.perf_counter() - start


def timed_queries(engine: Any, vectors: np.ndarray, queries: np.ndarray, truth: list[list[int]]) -> dict[str, float]:
    sessions = make_session_factory(engine)
    latencies, recalls = [], []
    with sessions() as session:
        search_similar(session, space=SPACE, query=vectors[queries[0]], k=K)  # warm the cache
        for q, expected in zip(queries, truth):
            start = time.perf_counter()
            hits = search_similar(session, space=SPACE, query=vectors[q], k=K, exclude_id=f"{q:032d}")
            latencies.append(time.perf_counter() - start)
            found = {int(h.classification_id) for h in hits}
            recalls.append(len(found & set(expected)) / K)
    return {
        "median_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "recall@10": float(np.mean(recalls)),
    }


def exact_truth(vectors: np.ndarray, queries: np.ndarray) -> tuple[list[list[int]], float]:
    """NumPy's exact top-10 (own row excluded) and its median latency (s)."""
    truth, latencies = [], []
    for q in queries:
        start = time.perf_counter()
        scores = vectors @ vectors[q]
        scores[q] = -np.inf
        top = np.argpartition(-scores, K)[:K]
        latencies.append(time.perf_counter() - start)
        truth.append([int(i) for i in top])
    return truth, statistics.median(latencies)


def bench_sqlite(vectors: np.ndarray, queries: np.ndarray, truth: list[list[int]], workdir: Path) -> dict[str, Any]:
    path = workdir / f"bench-{len(vectors)}.sqlite"
    engine = create_db_engine(f"sqlite:///{path}")
    run_migrations(engine)
    method = prepare_vector_search(engine)
    load_s = fill(engine, vectors, pgvector=False)
    out = {"method": method, "load_s": load_s, **timed_queries(engine, vectors, queries, truth)}
    with engine.begin() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    out["db_mb"] = path.stat().st_size / 2**20
    engine.dispose()
    path.unlink()
    return out


def bench_postgres(
    url: str, vectors: np.ndarray, queries: np.ndarray, truth: list[list[int]], *, hnsw: bool
) -> dict[str, Any]:
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            f"DROP TABLE IF EXISTS {PGV_TABLE}, track_embeddings, api_keys, library_tracks, classification_audio, "
            "classifications, alembic_version CASCADE"
        ))
    run_migrations(engine)
    method = prepare_vector_search(engine)
    load_s = fill(engine, vectors, pgvector=method == "pgvector")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    out: dict[str, Any] = {"method": method, "load_s": load_s, "exact": timed_queries(engine, vectors, queries, truth)}
    with engine.connect() as conn:
        out["table_mb"] = conn.execute(text(f"SELECT pg_total_relation_size('{PGV_TABLE}')")).scalar() / 2**20
    if hnsw and method == "pgvector":
        dim = vectors.shape[1]
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
            conn.execute(
                text(
                    f"CREATE INDEX bench_hnsw ON {PGV_TABLE} USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
                    "WITH (m = 16, ef_construction = 64)"
                )
            )
        out["hnsw_build_s"] = time.perf_counter() - start
        with engine.connect() as conn:
            out["hnsw_index_mb"] = conn.execute(text("SELECT pg_relation_size('bench_hnsw')")).scalar() / 2**20
        for ef in (40, 100):
            out[f"hnsw_ef{ef}"] = _hnsw_queries(engine, vectors, queries, truth, dim, ef)
    engine.dispose()
    return out


def _hnsw_queries(engine: Any, vectors: np.ndarray, queries: np.ndarray, truth: list[list[int]], dim: int, ef: int) -> dict[str, float]:
    latencies, recalls = [], []
    statement = text(
        f"SELECT classification_id FROM {PGV_TABLE} WHERE space = :space AND classification_id <> :own "
        f"ORDER BY embedding::vector({dim}) <=> CAST(:q AS vector({dim})) LIMIT {K}"
    )
    with engine.connect() as conn:
        conn.execute(text(f"SET hnsw.ef_search = {ef}"))
        for q, expected in zip(queries, truth):
            literal = "[" + ",".join(f"{x:.6f}" for x in vectors[q]) + "]"
            start = time.perf_counter()
            rows = conn.execute(statement, {"space": SPACE, "own": f"{q:032d}", "q": literal}).all()
            latencies.append(time.perf_counter() - start)
            recalls.append(len({int(r[0]) for r in rows} & set(expected)) / K)
    return {
        "median_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "recall@10": float(np.mean(recalls)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--hnsw-max", type=int, default=100_000, help="build HNSW indexes up to this size")
    args = parser.parse_args(argv)
    server = None
    if not args.no_postgres:
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="bench-pg-"), cleanup_mode="delete")
        pg_url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    print(f"cpu cores: {os.cpu_count()} (shared machine: compare ratios within this run)")
    try:
        for n in args.sizes:
            vectors = synthetic_vectors(n, args.dim)
            queries = np.random.default_rng(1).choice(n, size=args.queries, replace=False)
            truth, numpy_s = exact_truth(vectors, queries)
            print(f"\nN={n:,} dim={args.dim}: numpy exact {1000 * numpy_s:.1f} ms/query, matrix {vectors.nbytes / 2**20:.0f} MB", flush=True)
            with tempfile.TemporaryDirectory() as workdir:
                print(f"  sqlite: {bench_sqlite(vectors, queries, truth, Path(workdir))}", flush=True)
            if server is not None:
                print(f"  postgres: {bench_postgres(pg_url, vectors, queries, truth, hnsw=n <= args.hnsw_max)}", flush=True)
    finally:
        if server is not None:
            server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
