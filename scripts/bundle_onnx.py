"""Write (or rewrite) the ONNX graph of saved musicnn head bundles and record its SHA-256 in their cards.

``genrekit.bundle.save_bundle`` writes the graph by itself for every new ``musicnn_head``
bundle; this script is for bundles saved before (or to regenerate a graph, e.g. after an
ONNX opset change). Needs ``genrekit[train]`` (torch + onnx).

    python scripts/bundle_onnx.py                      # the default bundle in src/genrekit/bundles/default
    python scripts/bundle_onnx.py path/to/bundle ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genrekit.bundle import ONNX_FILENAME, default_bundle_path
from genrekit.models.heads import add_onnx_graph


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="*", type=Path, help="bundle directories (default: the default bundle)")
    args = parser.parse_args(argv)
    for directory in args.bundles or [default_bundle_path()]:
        card = add_onnx_graph(directory)
        size_mb = (directory / ONNX_FILENAME).stat().st_size / 1e6
        print(f"{directory}: {ONNX_FILENAME} {size_mb:.1f} MB, sha256 {card.sha256[ONNX_FILENAME][:12]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
