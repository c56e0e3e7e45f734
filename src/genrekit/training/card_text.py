"""What the default model's recipe writes into its bundle card beside the figures: the training
section (recipe, data, windows, temperature, search table, versions), the limitations and
provenance, the uncertainty rules, and the card's rebuild hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from genrekit.bundle import ModelCard
from genrekit.models.heads import MusicnnHeadClassifier, musicnn_head_card
from genrekit.training.corpus import Clip
from genrekit.training.levels import LevelRules, card_levels
from genrekit.training.recipe_config import Candidate, RecipeConfig

LIMITATIONS = (
    "Only GTZAN's 10 genres. Music outside them gets an out-of-taxonomy score; above the card's threshold the "
    "answer is 'unknown' (none of these), but the score was learned from 128 clips of two sources and, on a "
    "source it never saw, catches only a small share of outside music (the card's levels give the figures).",
    "Trained on little data: 161 GTZAN clips and 391 clips from other sources, most of them from two emotion "
    "datasets (Emotify: classical/pop/rock; 4Q AllMusic previews: blues/country/hiphop/jazz/reggae). Disco and "
    "metal have no or almost no non-GTZAN examples.",
    "GTZAN has known faults (Sturm 2013): repeated excerpts, mislabelings, many tracks per artist; the fault-"
    "filtered split is used, its biases (1990s-2000s, US-centric) remain.",
    "A song is judged from 4 windows of 3 s spread over it by default; `genrekit classify --full` uses every window.",
    "The 'may not be music' check is a heuristic (noise, steady tones, speech with pauses).",
)
PROVENANCE = {
    "backbone_paper": "J. Pons and X. Serra, 'musicnn: pre-trained convolutional neural networks for music audio "
    "tagging', ISMIR 2019 late-breaking/demo",
    "backbone_source": "musicnn 0.1.0 wheel (PyPI), TensorFlow checkpoints",
    "backbone_licence": "ISC (see genrekit/pretrained/README.md for the licence text)",
    "converter": "scripts/convert_musicnn.py (genrekit's TensorFlow-checkpoint reader, no TensorFlow)",
    "head": "trained by genrekit: genrekit train --config configs/default.toml (genrekit.training.recipe)",
    "data_licences": "GTZAN (research use); extra-pool and out-of-taxonomy clips carry their own notes in their "
    "manifest.csv",
}


def value_counts(values: Iterable[str]) -> dict[str, int]:
    """How often each value occurs, sorted by value."""
    return dict(sorted(Counter(values).items()))


def training_section(config: RecipeConfig, chosen: Candidate, clips: Sequence[Clip], *, temperature: float,
                     search: Sequence[Mapping[str, Any]], config_file: str | None) -> dict[str, Any]:
    """The card's ``training``: the chosen recipe, how to rebuild it, the data (every part was used
    for training), the windows, the shipped temperature, the search table and the versions."""
    import sklearn
    import torch

    return {
        "recipe": dataclasses.asdict(chosen),
        "built_by": "genrekit train --config " + (config_file or "configs/default.toml"),
        "seed": config.seed,
        "data": {  # every part was used for training (genrekit evaluate warns on them)
            "gtzan-dev/train+valid": value_counts(c.label for c in clips if c.source == "gtzan"),
            "extra-pool": value_counts(c.label for c in clips if c.in_taxonomy and c.source != "gtzan"),
            "out-of-taxonomy": value_counts(c.label for c in clips if not c.in_taxonomy),
        },
        "sources": value_counts(c.source for c in clips if c.in_taxonomy),
        "windows": f"the {config.max_windows} windows predict reads per clip (genrekit.predict.spread_starts; "
        "every window of shorter clips, genrekit.predict.slice_windows) for scoring, and for training unless the "
        "recipe says train_windows='all' (every regular window as well)",
        "temperature": round(temperature, 4),
        "search": list(search),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__},
    }


def recipe_card(classifier: MusicnnHeadClassifier, config: RecipeConfig, *, training: Mapping[str, Any],
                metrics: Mapping[str, Any], rules: LevelRules, levels: Mapping[str, Any],
                ood_method: str | None) -> ModelCard:
    """The shipped bundle's card: the head's card with the recipe's training section, figures,
    limitations and provenance, and the uncertainty rules with what each level is worth."""
    card = musicnn_head_card(classifier, name=config.name, version=config.version, training=dict(training),
                             metrics=dict(metrics), limitations=list(config.extra.get("limitations", LIMITATIONS)))
    uncertainty: dict[str, Any] = {**rules.to_dict(), "levels": card_levels(levels)}
    if ood_method is not None:
        uncertainty["ood_method"] = ood_method
    provenance = {**card.provenance, **PROVENANCE}
    embedding = {"embedding": dict(config.extra["embedding"])} if "embedding" in config.extra else {}
    return dataclasses.replace(card, provenance=provenance, config={
        **card.config, "aggregation": config.aggregation, "max_windows": config.max_windows, "uncertainty": uncertainty,
        **embedding})


def card_hash(card_dict: Mapping[str, Any], tensors: Mapping[str, Any]) -> str:
    """SHA-256 of a card without its creation time and file checksums, and of the tensors'
    values (the weights file also stores its creation time): equal for equal rebuilds."""
    digest = hashlib.sha256()
    stable = {k: v for k, v in card_dict.items() if k not in ("created", "sha256")}
    digest.update(json.dumps(stable, sort_keys=True).encode())
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
