"""Golden outputs of the ORIGINAL musicnn (TensorFlow) for genrekit's parity tests.

Run once, in a throwaway environment that has TensorFlow and musicnn (never in genrekit's
own environment); see ``tests/golden/musicnn/README.md`` for the exact setup::

    /tmp/tfenv/bin/python scripts/make_musicnn_golden.py

(defaults: ``--data ../shared/data`` beside the checkout, ``--out tests/golden/musicnn``).

For each clip it runs ``musicnn.extractor.extractor(file, model, input_length=3,
input_overlap=False)`` for every model and saves, in one ``<clip-stem>.npz``, only the
original model's OUTPUTS and the clip's identity -- never audio or the input mel patches
(nothing derived closely from the shared data may be committed):

* ``source``: the clip's path relative to the shared data root;
* ``source_sha256``: SHA-256 of that file, so a test can check it reads the same clip;
* ``input_sha256``: SHA-256 of the float32 input patches ``(n_windows, 187, 96)`` that musicnn
  fed its models (``musicnn.extractor.batch_data``), for diagnostics only: a test that
  recomputes the input can tell whether it is bit-identical to the golden run's;
* ``versions``: package versions of the run;
* ``<model>__taggram``: per-window sigmoid tag probabilities ``(n_windows, 50)`` as returned
  by ``extractor``;
* musicnn models: ``<model>__penultimate`` (n, 200), ``<model>__mean_pool`` (n, 753),
  ``<model>__max_pool`` (n, 753); VGG models: ``<model>__pool5`` (n, 256) flattened in
  TensorFlow's (time, freq, channel) order.

The embeddings are NOT taken from ``extractor``: musicnn 0.1.0's extractor repeats the first
window's ``penultimate`` and ``cnn1``-``cnn3`` for every later window (stale variables in its
batching loop). They are computed by running the original graph
(``musicnn.models.define_model``, ``is_training=False``, the wheel's checkpoint) on the
patches of ``batch_data``; the script checks that this graph's sigmoid outputs equal
``extractor``'s taggram, so both come from the same input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIPS = (
    "gtzan-dev/train/blues/blues.00042.flac",  # 30 s, 22.05 kHz mono
    "gtzan-dev/train/classical/classical.00030.flac",  # 15 s, 44.1 kHz stereo
    "extra-pool/blues/Famelgas-MULT_TP2__4q_MT0000044741_Little_Walter.flac",  # 20 s, 22.05 kHz mono
)
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
N_FRAMES = 187
VERSIONED = ("tensorflow-cpu", "numpy", "librosa", "soundfile", "soxr", "scipy", "musicnn")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data", help="shared data root")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "golden" / "musicnn", help="output directory")
    args = parser.parse_args()

    import musicnn
    import tensorflow as tf
    from musicnn import models
    from musicnn.extractor import batch_data, extractor

    versions = json.dumps({name: metadata.version(name) for name in VERSIONED}, sort_keys=True)

    def run_graph(model: str, patches: np.ndarray) -> list[np.ndarray]:
        tf.compat.v1.reset_default_graph()
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outputs = models.define_model(x, is_training, model, 50)
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, str(Path(musicnn.__file__).parent / model) + "/")
            return sess.run([tf.nn.sigmoid(outputs[0]), *outputs[1:]], feed_dict={x: patches, is_training: False})

    args.out.mkdir(parents=True, exist_ok=True)
    for rel in CLIPS:
        path = args.data / rel
        patches, _ = batch_data(str(path), N_FRAMES, N_FRAMES)
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        arrays: dict[str, np.ndarray] = {
            "source": np.array(rel),
            "source_sha256": np.array(hashlib.sha256(path.read_bytes()).hexdigest()),
            "input_sha256": np.array(hashlib.sha256(patches.astype("<f4").tobytes()).hexdigest()),
            "versions": np.array(versions),
        }
        for model in MODELS:
            taggram, _ = extractor(str(path), model=model, input_length=3, input_overlap=False, extract_features=False)
            n = taggram.shape[0]
            outputs = run_graph(model, patches)
            gap = float(np.abs(outputs[0] - taggram).max())
            if n != patches.shape[0] or gap > 1e-5:
                raise RuntimeError(f"{rel} {model}: graph on batch_data patches differs from extractor by {gap}")
            arrays[f"{model}__taggram"] = taggram.astype(np.float32)
            if "vgg" in model:
                arrays[f"{model}__pool5"] = outputs[5].reshape(n, -1).astype(np.float32)
            else:
                named = dict(zip(("mean_pool", "max_pool", "penultimate"), outputs[6:9], strict=True))
                for key in ("penultimate", "mean_pool", "max_pool"):
                    arrays[f"{model}__{key}"] = named[key].reshape(n, -1).astype(np.float32)
        out_path = args.out / f"{Path(rel).stem}.npz"
        np.savez_compressed(out_path, **arrays)
        print(f"{out_path}: {patches.shape[0]} windows, {out_path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
