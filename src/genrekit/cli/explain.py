"""``genrekit explain``: why a model chose a genre for one song.

Examples::

    genrekit explain song.mp3                       # default model, JSON and PNG in explain-song/
    genrekit explain song.mp3 --model my-cnn --format png --out why/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from genrekit.errors import InvalidParameterError

FORMATS = ("json", "png")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    parser = subparsers.add_parser(
        "explain",
        help="show why a model chose a genre: per-window shares, saliency on the spectrogram, faithfulness check",
        description="Explain one song: each window's genre probabilities and share of the decision; for "
        "spectrogram models (musicnn heads, CNN, CRNN) occlusion and integrated-gradients saliency on the "
        "spectrogram the model reads; for table models Shapley contributions of the features; and a "
        "faithfulness check (masking the most salient 10%% must hurt more than masking a random 10%%). "
        "Needs PyTorch.",
    )
    parser.add_argument("file", metavar="FILE", help="audio file")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle (default: the shipped model)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default explain-STEM)")
    parser.add_argument("--format", default="json,png", help="json, png or json,png (default both)")
    parser.add_argument("--max-windows", type=int, help="windows explained, spread over the song (default: the card's, else 4)")
    parser.add_argument("--ig-steps", type=int, default=16, help="integrated-gradients steps (default 16)")
    parser.add_argument("--fraction", type=float, default=0.1, help="share masked by the faithfulness check (default 0.1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain the song and write the asked formats; exit 1 if the faithfulness check fails."""
    from genrekit.explain.explain import ExplainSettings, explain_file
    from genrekit.explain.figure import render_png

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InvalidParameterError(f"--format takes json, png or both (json,png), got {args.format!r}")
    settings = ExplainSettings(max_windows=args.max_windows, ig_steps=args.ig_steps, fraction=args.fraction)
    explanation = explain_file(args.file, bundle=args.model, settings=settings)
    out = Path(args.out) if args.out else Path(f"explain-{Path(args.file).stem}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "json" in formats:
        path = out / "explanation.json"
        path.write_text(json.dumps(explanation.data, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    if "png" in formats:
        written.append(render_png(explanation, out / "explanation.png"))
    data = explanation.data
    faith = data["faithfulness"]
    decisive = [w["index"] for w in data["windows"] if w["decisive"]]
    print(
        f"{data['name']}\t{data['predicted']}\t{data['probabilities'][data['predicted']]:.3f}\t"
        f"decisive windows {decisive}\tdeletion drop {faith['deletion_drop']:.3f} vs random {faith['random_drop']:.3f}"
        f" ({'passed' if faith['passed'] else 'FAILED'})"
    )
    for path in written:
        print(path, file=sys.stderr)
    return 0 if faith["passed"] else 1
