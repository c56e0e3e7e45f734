"""``genrekit similar``: the stored tracks that sound most like a file or a stored classification."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from genrekit.errors import GenrekitError

DEFAULT_K = 10
MAX_K = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``similar`` subcommand."""
    parser = subparsers.add_parser(
        "similar",
        help="find the stored tracks that sound most like a file or a stored classification",
        description="Nearest neighbours (cosine similarity of the model's track embeddings) in a genrekit "
        "database (the service's, or one filled by 'genrekit scan'). FILE_OR_ID is an audio file or the id of "
        "a stored classification; a file not yet in the database is classified, embedded and stored first.",
    )
    parser.add_argument("target", metavar="FILE_OR_ID", help="an audio file, or a stored classification's id")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="database URL (sqlite:///path.sqlite, postgresql+psycopg://...) or a SQLite file path "
                        "(default: GENREKIT_DATABASE_URL or the service's SQLite file; see 'genrekit info')")
    parser.add_argument("-k", type=_k_value, default=DEFAULT_K, help=f"number of neighbours (default {DEFAULT_K})")
    parser.add_argument("--genre", default=None, help="only neighbours whose top genre is this label")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    parser.add_argument("--model", metavar="BUNDLE", default=None,
                        help="model bundle used to classify a new file (default: the bundled model)")
    parser.set_defaults(func=run)


def _k_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= value <= MAX_K:
        raise argparse.ArgumentTypeError(f"k must be in 1..{MAX_K}, got {value}")
    return value


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL from ``--db``: URLs pass through, a file path becomes ``sqlite:///<abs path>``,
    ``None`` is the default every command shares (``GENREKIT_DATABASE_URL``, else the service's SQLite file)."""
    if value is None:
        from genrekit.service.config import Settings

        return Settings().resolved_database_url
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def run(args: argparse.Namespace) -> int:
    """Find and print the neighbours; return the exit code."""
    from genrekit.store import queries
    from genrekit.store.db import create_db_engine, make_session_factory, run_migrations
    from genrekit.store.vectors import from_blob, get_embedding, prepare_vector_search, search_similar

    engine = create_db_engine(database_url(args.db))
    try:
        run_migrations(engine)
        prepare_vector_search(engine)
        with make_session_factory(engine)() as session:
            if os.path.isfile(args.target):
                row = _stored_or_classified(session, Path(args.target), args.model)
            else:
                row = queries.get_classification(session, classification_id=args.target)
                if row is None:
                    print(f"genrekit similar: {args.target}: no such file, nor a stored classification id", file=sys.stderr)
                    return 1
            stored = get_embedding(session, classification_id=row.id)
            if stored is None:
                print(f"genrekit similar: {args.target}: the stored classification {row.id} has no embedding "
                      "(classified before embeddings, or by a model without one)", file=sys.stderr)
                return 1
            hits = search_similar(session, space=stored.space, query=from_blob(stored.vector), k=args.k,
                                  genre=args.genre, exclude_id=row.id, exclude_sha256=row.sha256)
            results = []
            for hit in hits:
                neighbour = queries.get_classification(session, classification_id=hit.classification_id)
                if neighbour is not None:
                    results.append({"id": neighbour.id, "path": neighbour.filename, "score": hit.score,
                                    "genres": neighbour.result.get("genres", [])})
    finally:
        engine.dispose()
    if args.format == "json":
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(row.id, row.filename, results)
    return 0


def _stored_or_classified(session: Any, path: Path, bundle: str | None) -> Any:
    """The stored classification of this file's bytes by the model, classifying and storing it if new."""
    from genrekit.predict import Classifier
    from genrekit.store import queries

    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    classifier = Classifier.load(bundle)
    if classifier.embedding is None:
        raise GenrekitError(f"model {classifier.model_info.name!r} has no embedding: similarity search needs one")
    info = classifier.model_info
    existing = queries.find_by_content(session, sha256=sha256, model_name=info.name, model_version=info.version)
    if existing is not None:
        return existing
    prediction = classifier.predict(path, embed=True)
    return queries.create_classification(
        session, classification_id=uuid.uuid4().hex, created_at=dt.datetime.now(dt.timezone.utc), sha256=sha256,
        filename=str(path), result=prediction.to_dict(), visuals=None, embedding_space=classifier.embedding.space,
    )


def _print_table(query_id: str, query_name: str | None, results: list[dict[str, Any]]) -> None:
    print(f"tracks like {query_name or query_id} ({query_id}):")
    if not results:
        print("  (no stored track of the same embedding space matches)")
        return
    print(f"  {'#':>3}  {'score':>6}  {'genre':<12} {'id':<32}  path")
    for rank, item in enumerate(results, start=1):
        top = item["genres"][0] if item["genres"] else {"genre": "?", "score": 0.0}
        genre = f"{top['genre']} {top['score']:.2f}"
        print(f"  {rank:>3}  {item['score']:>6.3f}  {genre:<12} {item['id']:<32}  {item['path'] or ''}")
