"""Choose the "Similar tracks" floor from data: cosine similarities of same-genre and
different-genre pairs of clips, with the shipped model's track embedding.

Embeds every clip of a folder-per-genre collection (as the service does: ``predict(embed=True)``),
then prints percentiles of the pair similarities for same-genre and different-genre pairs and
the share of each above candidate floors. Run it as::

    python benchmarks/similarity_floor.py ../shared/data/extra-pool --per-genre 15 [--cache e.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from genrekit import Classifier

AUDIO = {".flac", ".wav", ".mp3", ".ogg"}
FLOOR_QUANTILE = 0.95  # the floor: a neighbour must be closer than 95 % of different-genre pairs


def embed_folders(folders: list[Path], per_genre: int | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """Unit track embeddings ``(n, dim)``, genres and sources (folder names) of the clips
    (the first ``per_genre`` of each genre folder, by name, where given)."""
    classifier = Classifier.load()
    vectors, genres, sources = [], [], []
    for folder in folders:
        paths = []
        for genre_dir in sorted(d for d in folder.iterdir() if d.is_dir()):
            found = sorted(p for p in genre_dir.iterdir() if p.suffix.lower() in AUDIO)
            paths.extend(found[:per_genre] if per_genre else found)
        for i, path in enumerate(paths):
            if i % 20 == 0:
                print(f"{folder.name}: {i}/{len(paths)}", flush=True)
            prediction = classifier.predict(path, embed=True)
            if prediction.embedding is None:
                raise SystemExit("the model has no embedding")
            vectors.append(prediction.embedding)
            genres.append(path.parent.name)
            sources.append(folder.name)
    return np.asarray(vectors, dtype=np.float32), genres, sources


def main() -> None:
    """Print the distributions and the chosen floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, help="npz of the embeddings (written once, read after)")
    parser.add_argument("--per-genre", type=int, help="at most this many clips of each genre folder (default all)")
    args = parser.parse_args()
    if args.cache and args.cache.exists():
        data = np.load(args.cache)
        vectors, genres, sources = data["vectors"], list(data["genres"]), list(data["sources"])
    else:
        vectors, genres, sources = embed_folders(args.folders, args.per_genre)
        if args.cache:
            np.savez(args.cache, vectors=vectors, genres=genres, sources=sources)
    sims = vectors @ vectors.T
    upper = np.triu_indices(len(genres), k=1)
    g = np.asarray(genres)
    same = g[upper[0]] == g[upper[1]]
    values = sims[upper]
    print(f"{len(genres)} clips, {len(set(genres))} genres, {same.sum()} same-genre and {(~same).sum()} different-genre pairs")
    for name, part in (("same genre", values[same]), ("different genre", values[~same])):
        q = np.percentile(part, [5, 25, 50, 75, 95, 99])
        print(f"{name:>16}: p5 {q[0]:.3f}  p25 {q[1]:.3f}  median {q[2]:.3f}  p75 {q[3]:.3f}  p95 {q[4]:.3f}  p99 {q[5]:.3f}")
    floor = float(np.quantile(values[~same], FLOOR_QUANTILE))
    print(f"floor (p{FLOOR_QUANTILE * 100:.0f} of different-genre pairs): {floor:.3f}")
    for candidate in sorted({round(floor, 2), 0.3, 0.4, 0.5, 0.6, 0.7}):
        share_same = float((values[same] >= candidate).mean())
        share_diff = float((values[~same] >= candidate).mean())
        print(f"  >= {candidate:.2f}: {share_same:.1%} of same-genre pairs, {share_diff:.1%} of different-genre pairs")
    # nearest neighbour above the floor: how often is it of the same genre?
    np.fill_diagonal(sims, -np.inf)
    nearest = sims.argmax(axis=1)
    above = sims[np.arange(len(g)), nearest] >= floor
    print(f"nearest neighbour >= floor for {above.mean():.1%} of clips; of those, same genre {np.mean(g[nearest][above] == g[above]):.1%} "
          f"(below the floor: {np.mean(g[nearest][~above] == g[~above]) if (~above).any() else float('nan'):.1%})")


if __name__ == "__main__":
    main()
