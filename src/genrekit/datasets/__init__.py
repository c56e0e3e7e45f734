"""Datasets: find the tracks of a dataset on disk, check them, and cache their features.

* :func:`load_dataset` recognises a layout and returns a :class:`Dataset`; the loaders
  behind it (:func:`load_gtzan`, :func:`load_fma`, :func:`load_folder`,
  :func:`load_manifest`) return sorted lists of :class:`TrackRecord`.
* :func:`gtzan_filtered_splits` gives GTZAN's fault-filtered split lists (package data).
* :func:`check_dataset` finds corrupt, short, non-audio and duplicate files.
* :class:`FeatureCache` and :func:`compute_cached` compute features once per file content
  and parameters, in parallel, resuming after an interruption.

This package is an I/O edge: it reads folders, CSV files and audio files.
"""

from __future__ import annotations

from genrekit.datasets.cache import (
    CachedFeatures,
    FailedFile,
    FeatureCache,
    canonical_params,
    compute_cached,
    default_cache_dir,
    feature_key,
    file_sha256,
)
from genrekit.datasets.check import (
    DEFAULT_MIN_DURATION_S,
    PROBLEM_KINDS,
    CheckReport,
    FileProblem,
    check_dataset,
    inspect_file,
    pcm_fingerprint,
)
from genrekit.datasets.detect import LAYOUTS, SPLIT_SCHEMES, detect_layout, load_dataset
from genrekit.datasets.files import AUDIO_EXTENSIONS, iter_audio_files
from genrekit.datasets.fma import FMA_SUBSETS, fma_audio_path, load_fma
from genrekit.datasets.folder import load_folder
from genrekit.datasets.gtzan import (
    GTZAN_GENRES,
    find_gtzan_layout,
    gtzan_filtered_split_of,
    gtzan_filtered_splits,
    load_gtzan,
)
from genrekit.datasets.manifest import load_manifest
from genrekit.datasets.records import (
    SPLIT_NAMES,
    Dataset,
    TrackRecord,
    dataset_fingerprint,
    normalize_split,
    sort_records,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "DEFAULT_MIN_DURATION_S",
    "FMA_SUBSETS",
    "GTZAN_GENRES",
    "LAYOUTS",
    "PROBLEM_KINDS",
    "SPLIT_NAMES",
    "SPLIT_SCHEMES",
    "CachedFeatures",
    "CheckReport",
    "Dataset",
    "FailedFile",
    "FeatureCache",
    "FileProblem",
    "TrackRecord",
    "canonical_params",
    "check_dataset",
    "compute_cached",
    "dataset_fingerprint",
    "default_cache_dir",
    "detect_layout",
    "feature_key",
    "file_sha256",
    "find_gtzan_layout",
    "fma_audio_path",
    "gtzan_filtered_split_of",
    "gtzan_filtered_splits",
    "inspect_file",
    "iter_audio_files",
    "load_dataset",
    "load_fma",
    "load_folder",
    "load_gtzan",
    "load_manifest",
    "normalize_split",
    "pcm_fingerprint",
    "sort_records",
]
