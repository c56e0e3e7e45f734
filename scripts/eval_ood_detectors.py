"""Which in/out detector tells music outside the 10 genres on a source it never saw?

The default recipe's folds (``genrekit.training.ood.ood_folds``) hold out one source on both
sides: its in-taxonomy clips and its out-of-taxonomy clips (the 4Q AllMusic previews are both;
the commercial-song excerpts are out-of-taxonomy only). For each detector variant (which head
inputs it reads, its L2 strength) a fold's detector is trained on every other clip, and its raw
mean window logit scores the fold's clips. Printed per variant: the AUROC of each held-out
out-of-taxonomy source against every held-out in-taxonomy track, the AUROC within the 4Q source,
and the nested trade-off at a 10 % in-taxonomy quantile (each source judged by a threshold taken
from the other sources).

Usage::

    .venv/bin/python scripts/eval_ood_detectors.py [--data ../shared/data] [--config configs/default.toml]
"""

from __future__ import annotations

import argparse
import tomllib

import numpy as np
import torch

from genrekit.datasets.cache import FeatureCache
from genrekit.evaluation.metrics import auroc
from genrekit.training.candidates import fit_candidate_cached
from genrekit.training.corpus import BACKBONES, Corpus, corpus_embeddings, feature_columns, list_corpus
from genrekit.training.levels import nested_unknown
from genrekit.training.ood import fit_detector, ood_folds
from genrekit.training.recipe_config import RecipeConfig

FOUR_Q = "Famelgas/MULT_TP2"
VARIANTS = {  # name -> (embeddings of both musicnn backbones, L2 strength C)
    "pen+tags C=1e-3 (2.0.0)": (("penultimate", "taggram"), 1e-3),
    "pen C=1e-4": (("penultimate",), 1e-4),
    "tags C=1e-3": (("taggram",), 1e-3),
    "tags C=1e-2": (("taggram",), 1e-2),
    "tags C=1e-1": (("taggram",), 1e-1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--config", default="configs/default.toml")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with open(args.config, "rb") as handle:
        config = RecipeConfig.from_dict(tomllib.load(handle))
    clips = list_corpus(args.data, min_source_clips=config.min_source_clips)
    corpus = Corpus(clips, corpus_embeddings(clips, cache=FeatureCache(None), max_windows=config.max_windows))
    chosen = next(c for c in config.candidates if c.name == "logreg MSD+MTT:pen+tags")
    plan = ood_folds(corpus)
    for name, (embeddings, c) in VARIANTS.items():
        cols = feature_columns(BACKBONES, embeddings)
        s_in, s_out, fold_in, fold_out = [], [], [], []
        for fold, held_in, held_out in plan:
            train = [i for i in corpus.inside if i not in set(held_in)]
            fit_candidate_cached(chosen, corpus, train, config.seed, config.candidates)
            detector = fit_detector(corpus, train, [i for i in corpus.outside if i not in set(held_out)], cols, c=c,
                                    seed=config.seed)
            for indices, scores, folds in ((held_in, s_in, fold_in), (held_out, s_out, fold_out)):
                for i in indices:
                    logits = detector.logits(corpus.embeddings[i].inference)
                    scores.append(float(np.mean(logits[:, 1] - logits[:, 0])))
                    folds.append(fold)
        s_in_a, s_out_a = np.array(s_in), np.array(s_out)
        fold_in_a, fold_out_a = np.array(fold_in, dtype=object), np.array(fold_out, dtype=object)
        by_source = {f: round(auroc(s_in_a, s_out_a[fold_out_a == f]), 3) for f in dict.fromkeys(fold_out)}
        within = auroc(s_in_a[fold_in_a == FOUR_Q], s_out_a[fold_out_a == FOUR_Q])
        false_alarm, caught = nested_unknown(s_in_a, fold_in_a, s_out_a, fold_out_a, 0.1)
        per_source = {f: round(float(false_alarm[fold_in_a == f].mean()), 2) for f in dict.fromkeys(fold_in)}
        print(f"{name:26s} pooled AUROC {auroc(s_in_a, s_out_a):.3f}  by held-out source {by_source}  "
              f"within 4Q {within:.3f}  nested @10%: in-taxonomy unknown {false_alarm.mean():.3f} "
              f"{per_source}, caught {caught.mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
