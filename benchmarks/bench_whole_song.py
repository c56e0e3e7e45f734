"""The first look (spread windows) against the whole song (every window), on held-out sources.

Same protocol as the recipe (:mod:`genrekit.training.recipe`): for each source fold (GTZAN's
valid split, each extra-pool source), the shipped candidate (the bundle card's
``training.recipe``) is trained on every other in-taxonomy clip, and each held-out clip is
scored twice with the same log-mean aggregation (the argmax of the mean window logits):

* ``first look``: the ``max_windows`` spread windows ``Classifier.predict`` reads by default;
* ``whole song``: every regular window (``max_windows=0``: what the service's background
  timeline, ``classify --full`` and ``scan --max-windows 0`` now answer with);
* and, for the choice the issue leaves open (show the window shares, or change the
  aggregation so that headline and timeline agree), ``whole song by window vote``: the genre
  most windows rank first.

Only clips with more windows than ``max_windows`` count (for the others both answers are the
same). Embeddings come from the recipe's feature cache (computed once where missing). Prints
one line per fold and the pooled figures with a paired bootstrap interval of the difference;
asserts nothing.

Usage::

    .venv/bin/python -m benchmarks.bench_whole_song [--data ../shared/data] [--bundle BUNDLE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def main() -> None:
    """Run the comparison and print it."""
    from genrekit.bundle import default_bundle_path
    from genrekit.datasets.cache import FeatureCache, feature_key
    from genrekit.training.candidates import fit_candidate
    from genrekit.training.corpus import (EMBEDDING_FEATURE, EMBEDDING_VERSION, Corpus, _params, corpus_embeddings,
                                          list_corpus)
    from genrekit.training.recipe_config import Candidate

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--bundle", type=Path, default=None, help="bundle whose card names the recipe (default model)")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--cached-only", action="store_true",
                        help="use only the clips whose embeddings are already cached (folds then train on fewer clips)")
    args = parser.parse_args()

    card = json.loads(((args.bundle or default_bundle_path()) / "card.json").read_text())
    training = card["training"]
    recipe = dict(training["recipe"])
    recipe.pop("name", None)
    candidate = Candidate(name="shipped", **{k: tuple(v) if isinstance(v, list) else v for k, v in recipe.items()})
    max_windows = int(card["config"].get("max_windows", 4))
    seed = int(training.get("seed", 0))
    print(f"recipe: {training['recipe'].get('name', candidate.features)}; first look: {max_windows} spread windows")

    clips = list_corpus(args.data, min_source_clips=int(training.get("min_source_clips", 20)))
    cache = FeatureCache(None)
    if args.cached_only:
        params = _params(max_windows)
        keys = [feature_key(cache.content_hash(c.path), params, feature=EMBEDDING_FEATURE, version=EMBEDDING_VERSION)
                for c in clips]
        print(f"cached only: {sum(k in cache for k in keys)} of {len(clips)} clips")
        clips = [c for c, k in zip(clips, keys) if k in cache]
    corpus = Corpus(clips, corpus_embeddings(clips, cache=cache, max_windows=max_windows, log=print))
    quick_right: list[bool] = []
    whole_right: list[bool] = []
    vote_right: list[bool] = []
    for fold, held_out in corpus.folds():
        train = [i for i in corpus.inside if i not in set(held_out)]
        model = fit_candidate(candidate, corpus, train, seed)
        counted = [i for i in held_out if len(corpus.embeddings[i].regular) > max_windows]
        q = [int(model.logits(corpus.embeddings[i].inference).mean(0).argmax()) == corpus.y[i] for i in counted]
        w = [int(model.logits(corpus.embeddings[i].regular).mean(0).argmax()) == corpus.y[i] for i in counted]
        v = [plurality(model.logits(corpus.embeddings[i].regular)) == corpus.y[i] for i in counted]
        quick_right += q
        whole_right += w
        vote_right += v
        windows = [len(corpus.embeddings[i].regular) for i in counted]
        span = f"{min(windows)}-{max(windows)} windows" if windows else "-"
        print(f"{fold:40s} n={len(counted):3d}/{len(held_out):3d} ({span})  first look {np.mean(q):.3f}  "
              f"whole song {np.mean(w):.3f}  whole song by window vote {np.mean(v):.3f}")
    quick = np.array(quick_right, dtype=float)
    whole = np.array(whole_right, dtype=float)
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(quick), size=(args.bootstrap, len(quick)))
    diffs = whole[draws].mean(1) - quick[draws].mean(1)
    low, high = np.percentile(diffs, [2.5, 97.5])
    print(f"pooled n={len(quick)}: first look {quick.mean():.3f}, whole song {whole.mean():.3f}, "
          f"difference {whole.mean() - quick.mean():+.3f} (95% paired bootstrap {low:+.3f} to {high:+.3f}); "
          f"only the whole song right: {int(((whole == 1) & (quick == 0)).sum())}, "
          f"only the first look right: {int(((quick == 1) & (whole == 0)).sum())}")
    print(f"whole song by window vote (the genre most windows name, ties to the higher mean logit): "
          f"{np.mean(vote_right):.3f}")


def plurality(logits: np.ndarray) -> int:
    """The label most windows rank first; a tie goes to the tied label with the higher mean logit."""
    counts = np.bincount(logits.argmax(1), minlength=logits.shape[1])
    tied = np.flatnonzero(counts == counts.max())
    return int(tied[np.argmax(logits.mean(0)[tied])])


if __name__ == "__main__":
    main()
