"""Convert musicnn's pretrained TensorFlow checkpoints to genrekit safetensors files.

Reads the TF1 checkpoints inside the ``musicnn`` 0.1.0 wheel (ISC licence, Pons & Serra)
with genrekit's own checkpoint reader (no TensorFlow needed) and writes
``src/genrekit/pretrained/<name>.safetensors`` for MSD_musicnn, MTT_musicnn, MSD_vgg and
MTT_vgg, with provenance metadata (wheel SHA-256, checkpoint SHA-256s, licence, authors,
converter version, architecture config).

Usage::

    .venv/bin/python -m pip download --no-deps musicnn==0.1.0 -d .cache/musicnn-wheel
    .venv/bin/python scripts/convert_musicnn.py .cache/musicnn-wheel/musicnn-0.1.0-py3-none-any.whl

The output is byte-reproducible; ``tests/models/test_tf_checkpoint.py`` checks that this
conversion gives exactly the committed files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

from safetensors.torch import save_file

from genrekit.models.musicnn import PRETRAINED_CONFIGS, PRETRAINED_DIR, Musicnn, convert_tf_variables
from genrekit.models.tf_checkpoint import read_checkpoint

CONVERTER_VERSION = "1"
SOURCE = "musicnn 0.1.0 wheel (https://pypi.org/project/musicnn/0.1.0/, https://github.com/jordipons/musicnn)"
AUTHORS = "Jordi Pons, Xavier Serra (Music Technology Group, Universitat Pompeu Fabra)"
LICENSE = "ISC"


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def canonicalize_safetensors(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys, so that the same weights give the same bytes.

    (The safetensors writer orders the metadata through a hash map, which varies between runs.)
    """
    data = path.read_bytes()
    (n_header,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n_header])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n_header :])


def convert(package_dir: Path, name: str, wheel_sha256: str, out_dir: Path) -> Path:
    """Convert one model directory ``<package_dir>/<name>/`` and write ``<out_dir>/<name>.safetensors``."""
    ckpt_dir = package_dir / name
    prefix = str(ckpt_dir) + "/"  # files are named ".index" and ".data-00000-of-00001"
    tf_vars = read_checkpoint(prefix, verify_crc=True)
    config = PRETRAINED_CONFIGS[name]
    tensors = convert_tf_variables(tf_vars, config)
    Musicnn(config).load_weights(tensors)  # shape check against the architecture
    used = sorted(k for k in tf_vars if "/Adam" not in k and not k.startswith("beta"))
    metadata = {
        "format": "pt",
        "model": name,
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "source": SOURCE,
        "source_wheel_sha256": wheel_sha256,
        "source_index_sha256": sha256_bytes((ckpt_dir / ".index").read_bytes()),
        "source_data_sha256": sha256_bytes((ckpt_dir / ".data-00000-of-00001").read_bytes()),
        "source_n_variables": str(len(used)),
        "license": LICENSE,
        "authors": AUTHORS,
        "citation": "Pons, J. & Serra, X. (2019). musicnn: pre-trained convolutional neural networks "
        "for music audio tagging. Late-breaking/demo session, ISMIR 2019.",
        "converter": "genrekit scripts/convert_musicnn.py",
        "converter_version": CONVERTER_VERSION,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, str(out_path), metadata=metadata)
    canonicalize_safetensors(out_path)
    out_path.chmod(0o644)
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to musicnn-0.1.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=PRETRAINED_DIR, help="output directory (default: %(default)s)")
    parser.add_argument("--models", nargs="+", default=list(PRETRAINED_CONFIGS), choices=list(PRETRAINED_CONFIGS))
    args = parser.parse_args(argv)
    wheel_bytes = args.wheel.read_bytes()
    wheel_sha256 = sha256_bytes(wheel_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith("musicnn/")]
            archive.extractall(tmp, members=members)
        for name in args.models:
            path = convert(Path(tmp) / "musicnn", name, wheel_sha256, args.out)
            print(f"{name}: {path} ({path.stat().st_size} bytes)")
    print(f"source wheel sha256 {wheel_sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
