"""Fine-tune the MSD_musicnn backbone end to end under the default recipe's leave-one-source-out
folds, against the frozen-backbone linear head (see genrekit.training.finetune).

Writes one JSON (both models' held-out track accuracy and macro-recall per fold) and prints
the markdown table; nothing goes into src/genrekit/bundles/. ``--cost`` only measures a
training step here and projects the cost of the whole cross-validation.

Usage::

    .venv/bin/python scripts/finetune_backbone.py --device cuda --epochs 3 --json finetune.json
    .venv/bin/python scripts/finetune_backbone.py --folds "gtzan (valid split)" --max-clips-per-fold 20 --epochs 1
    .venv/bin/python scripts/finetune_backbone.py --cost --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding gtzan-dev/ and extra-pool/")
    parser.add_argument("--folds", nargs="+", metavar="NAME", help="held-out folds to run (default: every fold)")
    parser.add_argument("--max-clips-per-fold", type=int, default=None, help="cap per fold, round-robin over genres")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16, help="windows per optimiser step")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--lr-backbone", type=float, default=1e-5)
    parser.add_argument("--lr-head", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW weight decay of the head")
    parser.add_argument("--init", choices=("logreg", "random"), default="logreg", help="head initialisation")
    parser.add_argument("--train-windows", choices=("all", "inference"), default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="write the result table here")
    parser.add_argument("--cost", action="store_true", help="measure a training step and project the full CV's cost")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cross-validation (or the cost measurement) and print its table."""
    from genrekit.errors import GenrekitError
    from genrekit.training import finetune

    args = parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        if args.cost:
            step = finetune.measure_step(args.batch_size, args.device)
            counts = finetune.corpus_window_counts(args.data)
            result = {"step": step, "device": args.device, "counts": counts,
                      "projection": finetune.project_cost(counts, step, epochs=args.epochs,
                                                          train_windows=args.train_windows)}
            text = json.dumps(result, indent=1)
        else:
            config = finetune.FinetuneConfig(
                epochs=args.epochs, batch_size=args.batch_size, device=args.device, lr_backbone=args.lr_backbone,
                lr_head=args.lr_head, weight_decay=args.weight_decay, init=args.init,
                train_windows=args.train_windows, max_clips_per_fold=args.max_clips_per_fold,
                folds=tuple(args.folds) if args.folds else None, seed=args.seed)
            result = finetune.run_finetune(args.data, config, log)
            text = finetune.markdown_table(result)
    except GenrekitError as error:
        print(f"finetune_backbone: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
