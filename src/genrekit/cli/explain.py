"""``genrekit explain``: why a model chose a genre for one song.

Examples::

    genrekit explain song.mp3                       # default model, JSON (and PNG with matplotlib) in explain-song/
    genrekit explain song.mp3 --model my-cnn --format png --out why/
    genrekit explain song.mp3 --integrated-gradients  # also integrated gradients (needs PyTorch)
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
        "spectrogram models (musicnn heads, CNN, CRNN) occlusion saliency on the spectrogram the model reads "
        "(and integrated gradients on request); for table models Shapley contributions of the features; and a "
        "faithfulness check (masking the most salient 10 % must hurt more than masking a random 10 %). "
        "A bundle that ships its ONNX graph (the shipped model does) is explained with ONNX Runtime, without "
        "PyTorch; integrated gradients, other models and the PNG need genrekit[train].",
    )
    parser.add_argument("file", metavar="FILE", help="audio file")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle (default: the shipped model)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default explain-STEM)")
    parser.add_argument("--format", help="json, png or json,png (default both where matplotlib is installed, else json)")
    parser.add_argument("--max-windows", type=int, help="windows explained, spread over the song (default: the card's, else 4)")
    parser.add_argument("--integrated-gradients", action="store_true", help="also compute integrated gradients (needs PyTorch)")
    parser.add_argument("--ig-steps", type=int, default=16, help="integrated-gradients steps (default 16)")
    parser.add_argument("--patch-s", type=float, default=0.25, help="occlusion patch length in seconds (default 0.25)")
    parser.add_argument("--patch-bands", type=int, default=12, help="occlusion patches per column of bands (default 12)")
    parser.add_argument(
        "--runtime", choices=("auto", "onnx", "torch"), default="auto",
        help="auto (default): ONNX Runtime where the bundle ships a graph and no integrated gradients are asked, else PyTorch",
    )  # fmt: skip
    parser.add_argument("--fraction", type=float, default=0.1, help="share masked by the faithfulness check (default 0.1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain the song and write the asked formats; exit 1 if the faithfulness check fails."""
    import importlib.util

    from genrekit.explain.song import ExplainSettings, explain_file

    text = args.format if args.format is not None else ("json,png" if importlib.util.find_spec("matplotlib") else "json")
    formats = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InvalidParameterError(f"--format takes json, png or both (json,png), got {args.format!r}")
    if "png" in formats and importlib.util.find_spec("matplotlib") is None:
        raise InvalidParameterError("--format png needs matplotlib: pip install 'genrekit[train]' (or ask for --format json)")
    settings = ExplainSettings(
        max_windows=args.max_windows,
        ig_steps=args.ig_steps,
        fraction=args.fraction,
        integrated_gradients=args.integrated_gradients,
        patch_s=args.patch_s,
        patch_bands=args.patch_bands,
    )
    explanation = explain_file(args.file, bundle=args.model, settings=settings, runtime=args.runtime)
    out = Path(args.out) if args.out else Path(f"explain-{Path(args.file).stem}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if "json" in formats:
        path = out / "explanation.json"
        path.write_text(json.dumps(explanation.data, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    if "png" in formats:
        from genrekit.explain.figure import render_png

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
