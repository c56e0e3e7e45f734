"""How long "Why?" takes on the serving path: a 30-s clip explained through ONNX Runtime.

Times, on the same warm model and clip: the classification (``Classifier.predict``), the
explanation with the service's settings (4 windows, occlusion on 0.6 s x 16-band patches,
faithfulness check), and optionally (``--torch``) the PyTorch occlusion with the same
settings, whose maps must match. Run it as::

    python benchmarks/bench_explain.py CLIP [--repeats 3] [--torch]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from genrekit import Classifier
from genrekit.audio import load_audio
from genrekit.explain.song import ExplainSettings, explain_waveform, load_explainable
from genrekit.service.answers.explanations import SERVICE_MAX_WINDOWS, SERVICE_PATCH_BANDS, SERVICE_PATCH_S


def timed(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    """Median wall time (s) of ``repeats`` calls after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    """Print the timings (seconds) and, with ``--torch``, the largest map difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="also time the PyTorch occlusion (genrekit[train])")
    args = parser.parse_args()
    classifier = Classifier.load()
    y, _ = load_audio(args.clip, sr=classifier.sample_rate)
    y = y[: 30 * classifier.sample_rate]
    settings = ExplainSettings(max_windows=SERVICE_MAX_WINDOWS, patch_s=SERVICE_PATCH_S, patch_bands=SERVICE_PATCH_BANDS)
    card, model = load_explainable(None)
    classify_s, _ = timed(lambda: classifier.predict(y, sr=classifier.sample_rate), args.repeats)
    explain_s, onnx = timed(lambda: explain_waveform(y, model, card, settings), args.repeats)
    print(f"clip {len(y) / classifier.sample_rate:.1f} s: classify {classify_s:.2f} s, explain (ONNX Runtime) {explain_s:.2f} s")
    print(f"faithfulness {onnx.data['faithfulness']}")
    if args.torch:
        torch_card, torch_model = load_explainable(None, runtime="torch")
        torch_s, reference = timed(lambda: explain_waveform(y, torch_model, torch_card, settings), 1)
        gap = float(np.abs(onnx.maps["occlusion"] - reference.maps["occlusion"]).max())
        print(f"explain (PyTorch occlusion) {torch_s:.2f} s; largest occlusion difference {gap:.2e}")


if __name__ == "__main__":
    main()
