"""Model bundles: one directory with ``model.safetensors`` and ``card.json``.

See :mod:`genrekit.bundle.card` for the card schema and :mod:`genrekit.bundle.io` for
saving, loading and checksums.
"""

from genrekit.bundle.card import CARD_FORMAT_VERSION, ModelCard
from genrekit.bundle.io import (
    CARD_FILENAME,
    WEIGHTS_FILENAME,
    default_bundle_path,
    load_bundle,
    load_model,
    register_model_type,
    save_bundle,
)

__all__ = [
    "CARD_FILENAME",
    "CARD_FORMAT_VERSION",
    "ModelCard",
    "WEIGHTS_FILENAME",
    "default_bundle_path",
    "load_bundle",
    "load_model",
    "register_model_type",
    "save_bundle",
]
