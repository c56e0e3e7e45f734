"""Model bundles: one directory with ``card.json``, ``model.safetensors`` and derived files
(``model.onnx`` for musicnn heads).

See :mod:`genrekit.bundle.card` for the card schema and :mod:`genrekit.bundle.io` for
saving, loading and checksums. Building a model from a bundle is
:func:`genrekit.models.loaders.load_model`; this package never imports the models.
"""

from genrekit.bundle.card import CARD_FORMAT_VERSION, ModelCard
from genrekit.bundle.io import (
    CARD_FILENAME,
    ONNX_FILENAME,
    WEIGHTS_FILENAME,
    add_bundle_file,
    checked_file,
    default_bundle_path,
    load_bundle,
    read_card,
    register_artifact_writer,
    save_bundle,
    sha256_file,
)

__all__ = [
    "CARD_FILENAME",
    "CARD_FORMAT_VERSION",
    "ONNX_FILENAME",
    "ModelCard",
    "WEIGHTS_FILENAME",
    "add_bundle_file",
    "checked_file",
    "default_bundle_path",
    "load_bundle",
    "read_card",
    "register_artifact_writer",
    "save_bundle",
    "sha256_file",
]


def __getattr__(name: str) -> object:
    from genrekit.bundle import io

    return getattr(io, name)
