"""The default model's corpus: labelled clips with their source and artist, and their cached
musicnn window embeddings.

Three parts of ``../shared/data`` (each optional):

* ``gtzan-dev/<split>/<genre>/*``: GTZAN clips of the fault-filtered split (source ``gtzan``);
* ``extra-pool/manifest.csv``: non-GTZAN clips of the 10 genres; ``source_repo`` names the
  source, ``original_label`` carries the artist where known (``artist=...``, or the 4Q file
  name's artist part);
* ``out-of-taxonomy/manifest.csv``: music outside the 10 genres (for the "none of these" score).

Sources with fewer than ``min_source_clips`` clips are pooled into one group
(:data:`SMALL_SOURCES`), so that leave-one-source-out folds hold enough clips to score.

Every clip is cut into windows with :func:`genrekit.audio.windows.slice_windows` (every regular
window: training) and :func:`genrekit.audio.windows.spread_starts` (the windows ``predict`` reads
by default: evaluation), and both backbones' every embedding is cached once per clip
(:class:`genrekit.datasets.FeatureCache`), so every recipe reuses one extraction.
:class:`Corpus` holds the clips with their embeddings and cuts the leave-one-source-out folds.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genrekit.datasets.cache import FeatureCache, feature_key
from genrekit.errors import DatasetError

if TYPE_CHECKING:
    from genrekit.training.heads_fit import FittedHead

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
BACKBONES = ("MSD_musicnn", "MTT_musicnn")
EMBEDDINGS = ("penultimate", "mean_pool", "max_pool", "taggram")
SMALL_SOURCES = "small sources"
GTZAN_VALID = "gtzan (valid split)"  # the source fold holding out GTZAN's valid split
EMBEDDING_FEATURE = "genrekit.training.corpus.window_embeddings"
EMBEDDING_VERSION = "1"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".au")


@dataclass(frozen=True)
class Clip:
    """One labelled clip.

    Attributes
    ----------
    path : Path
    label : str
        Its genre: one of :data:`GENRES`, or the outside genre of an out-of-taxonomy clip.
    in_taxonomy : bool
    source : str
        Source group for leave-one-source-out folds.
    split : str
        ``"train"`` / ``"valid"`` for GTZAN clips (the fault-filtered split), else ``""``.
    group : str
        Artist group (``source:artist`` where the artist is known, else the clip itself).
    """

    path: Path
    label: str
    in_taxonomy: bool
    source: str
    split: str
    group: str


def _artist(row: dict[str, str]) -> str | None:
    """The artist of a manifest row, where the manifest tells it."""
    match = re.search(r"artist=([^;]+)", row.get("original_label", ""))
    if match:
        return match.group(1).strip().lower()
    stem = Path(row["file"]).stem
    if "__4q_MT" in stem:
        parts = stem.split("_", 4)
        if len(parts) == 5 and parts[-1]:
            return parts[-1].replace("_", " ").lower()
    return None


def _manifest_clips(root: Path, *, in_taxonomy: bool) -> list[tuple[Clip, str]]:
    path = root / "manifest.csv"
    clips = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            file = root / row["file"]
            if not file.is_file():
                raise DatasetError(f"{path}: listed file {file} is missing")
            artist = _artist(row)
            source = row["source_repo"]
            group = f"{source}:{artist}" if artist else f"{source}:{row['file']}"
            clips.append((Clip(file, row["genre"], in_taxonomy, source, "", group), source))
    return clips


def list_corpus(
    data_root: str | os.PathLike[str],
    *,
    gtzan: str = "gtzan-dev",
    extra: str = "extra-pool",
    out_of_taxonomy: str = "out-of-taxonomy",
    min_source_clips: int = 20,
) -> list[Clip]:
    """Every clip of the parts found under ``data_root``, in a stable order.

    Parameters
    ----------
    data_root : path
        Folder holding the parts (``../shared/data``).
    gtzan, extra, out_of_taxonomy : str
        Sub-folder names; a part that is absent is skipped.
    min_source_clips : int
        In-taxonomy sources with fewer clips are pooled into :data:`SMALL_SOURCES`.

    Raises
    ------
    DatasetError
        ``data_root`` holds none of the parts, or a manifest lists a missing file.
    """
    root = Path(data_root)
    clips: list[Clip] = []
    gtzan_root = root / gtzan
    if gtzan_root.is_dir():
        for split in ("train", "valid", "test"):
            for path in sorted((gtzan_root / split).glob("*/*")):
                if path.suffix.lower() in AUDIO_SUFFIXES and path.parent.name in GENRES:
                    clips.append(Clip(path, path.parent.name, True, "gtzan", split, f"gtzan:{path.stem}"))
    pooled: list[tuple[Clip, str]] = []
    if (root / extra / "manifest.csv").is_file():
        pooled += _manifest_clips(root / extra, in_taxonomy=True)
    if (root / out_of_taxonomy / "manifest.csv").is_file():
        pooled += _manifest_clips(root / out_of_taxonomy, in_taxonomy=False)
    sizes = Counter(source for clip, source in pooled if clip.in_taxonomy)
    for clip, source in pooled:
        if clip.in_taxonomy and sizes[source] < min_source_clips:
            clip = Clip(clip.path, clip.label, True, SMALL_SOURCES, "", clip.group)
        clips.append(clip)
    if not clips:
        raise DatasetError(f"{root}: none of {gtzan}/, {extra}/manifest.csv, {out_of_taxonomy}/manifest.csv found")
    bad = sorted({c.label for c in clips if c.in_taxonomy and c.label not in GENRES})
    if bad:
        raise DatasetError(f"labels outside the 10 genres in the in-taxonomy parts: {bad}")
    return clips


@dataclass(frozen=True)
class ClipEmbeddings:
    """Embeddings of one clip's windows, every backbone x every embedding (:func:`feature_columns`).

    Attributes
    ----------
    regular : np.ndarray [shape=(n_windows, n_features), dtype=float32]
        Every regular window (:func:`~genrekit.audio.windows.slice_windows`, hop = window).
    inference : np.ndarray [shape=(k, n_features), dtype=float32]
        The windows ``Classifier.predict`` reads with ``max_windows`` (the spread windows; the
        regular ones where the clip has no more than ``max_windows``).
    """

    regular: np.ndarray
    inference: np.ndarray


def feature_columns(backbones: Sequence[str], embeddings: Sequence[str]) -> np.ndarray:
    """Columns of the cached matrix (all :data:`BACKBONES` x all :data:`EMBEDDINGS`) that a head
    on ``backbones`` x ``embeddings`` reads, in the head's (backbone-major) order."""
    from genrekit.models.heads import embedding_dims

    offsets: dict[str, tuple[int, int]] = {}
    start = 0
    for name, width in embedding_dims(BACKBONES, EMBEDDINGS):
        offsets[name] = (start, width)
        start += width
    blocks = []
    for backbone in backbones:
        for embedding in embeddings:
            first, width = offsets[f"{backbone}/{embedding}"]
            blocks.append(np.arange(first, first + width))
    return np.concatenate(blocks)


def product_cover(cols: np.ndarray) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The smallest (backbones, embeddings) product whose columns include ``cols``."""
    from genrekit.models.heads import embedding_dims

    wanted = set(int(c) for c in cols)
    backbones, embeddings = [], []
    start = 0
    for name, width in embedding_dims(BACKBONES, EMBEDDINGS):
        if wanted & set(range(start, start + width)):
            backbone, embedding = name.split("/")
            backbones.append(backbone)
            embeddings.append(embedding)
        start += width
    return (tuple(b for b in BACKBONES if b in backbones), tuple(e for e in EMBEDDINGS if e in embeddings))


def clip_windows(y: np.ndarray, *, max_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """(every regular window, the windows inference reads) of a 16 kHz clip, cut by the serving windowing."""
    from genrekit.models.heads import WINDOW_LENGTH
    from genrekit.audio.windows import slice_windows, spread_starts

    _, _, regular = slice_windows(y, window_length=WINDOW_LENGTH, hop_length=WINDOW_LENGTH)
    starts = spread_starts(len(y), window_length=WINDOW_LENGTH, hop_length=WINDOW_LENGTH, max_windows=max_windows)
    if starts is None:
        return regular, regular
    return regular, np.stack([y[s : s + WINDOW_LENGTH] for s in starts])


class WindowEmbedder:
    """16 kHz windows -> the ``embeddings`` of each of ``backbones``, the backbones in ONNX
    Runtime (the inference runtime; 2.4-4x faster than PyTorch on CPU)."""

    def __init__(self, workdir: Path, backbones: Sequence[str] = BACKBONES,
                 embeddings: Sequence[str] = EMBEDDINGS) -> None:
        import onnxruntime as ort
        import torch

        from genrekit.models.heads import MusicnnHeadConfig, _BackboneEmbedder
        from genrekit.models.musicnn import load_pretrained

        config = MusicnnHeadConfig(backbones=tuple(backbones), embeddings=tuple(embeddings))
        self._torch = torch
        self._embedder = _BackboneEmbedder(
            {name: load_pretrained(name) for name in backbones}, tuple(embeddings), config.input_config()
        ).eval()

        class _Features(torch.nn.Module):
            def __init__(self, embedder: torch.nn.Module) -> None:
                super().__init__()
                self.embedder = embedder

            def forward(self, patches: torch.Tensor) -> torch.Tensor:
                return self.embedder.embed_patches(patches)[0]

        workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            graph = Path(tmp) / "embeddings.onnx"
            torch.onnx.export(
                _Features(self._embedder).eval(), (torch.zeros(2, 187, 96),), str(graph), input_names=["patches"],
                output_names=["features"], dynamic_axes={"patches": {0: "batch"}, "features": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def __call__(self, windows: np.ndarray, batch_size: int = 16) -> np.ndarray:
        out = []
        for first in range(0, len(windows), batch_size):
            with self._torch.inference_mode():
                patches = self._embedder.patches(self._torch.from_numpy(windows[first : first + batch_size]))
            out.append(self._session.run(None, {"patches": patches.contiguous().numpy()})[0])
        return np.concatenate(out).astype(np.float32)


def _cached_embeddings(
    clips: Sequence[Clip],
    keys: Sequence[str],
    windows_of: Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]],
    *,
    cache: FeatureCache,
    what: str,
    log: Callable[[str], None],
    backbones: Sequence[str] = BACKBONES,
    embeddings: Sequence[str] = EMBEDDINGS,
) -> list[np.ndarray]:
    """Per clip: ``[n_first, embeddings of first + second windows]`` rows, through the cache;
    ``windows_of(index, 16 kHz samples)`` gives a clip's two window sets."""
    from genrekit.audio import load_audio
    from genrekit.models.musicnn import SAMPLE_RATE

    embedder: WindowEmbedder | None = None
    out = []
    started = time.perf_counter()
    for index, (clip, key) in enumerate(zip(clips, keys, strict=True)):
        stored = cache.get(key)
        if stored is None:
            if embedder is None:
                embedder = WindowEmbedder(cache.root, backbones, embeddings)
            y, _ = load_audio(clip.path, sr=SAMPLE_RATE)
            first, second = windows_of(index, y)
            features = embedder(np.concatenate([first, second]))
            stored = np.concatenate([np.full((features.shape[0], 1), len(first), np.float32), features], axis=1)
            cache.put(key, stored)
            log(f"{what} [{index + 1}/{len(clips)}] {clip.path.name}: {len(features)} windows, "
                f"{time.perf_counter() - started:.0f} s")
        out.append(stored)
    return out


def _params(max_windows: int, backbones: Sequence[str] = BACKBONES,
            embeddings: Sequence[str] = EMBEDDINGS) -> dict[str, object]:
    from genrekit.models.heads import WINDOW_LENGTH

    return {"backbones": list(backbones), "embeddings": list(embeddings), "window": WINDOW_LENGTH,
            "max_windows": int(max_windows)}


def corpus_embeddings(
    clips: Sequence[Clip],
    *,
    cache: FeatureCache,
    max_windows: int,
    log: Callable[[str], None] = lambda message: None,
    backbones: Sequence[str] = BACKBONES,
    embeddings: Sequence[str] = EMBEDDINGS,
    inference_only: bool = False,
) -> list[ClipEmbeddings]:
    """Window embeddings of every clip, through the feature cache (one extraction for all recipes).

    Parameters
    ----------
    clips : sequence of Clip
    cache : FeatureCache
        Keyed by the clip's bytes, ``max_windows`` and the backbones.
    max_windows : int > 0
        Windows ``predict`` reads per song (the card's ``max_windows``).
    log : callable
        Progress lines.
    backbones, embeddings : sequence of str
        What to extract (default: both musicnn backbones' every embedding, the columns of
        :func:`feature_columns`); other views, e.g. the VGG backbones' ``pool5`` and
        ``taggram``, are cached under their own keys.
    inference_only : bool
        Extract only the windows inference reads (``regular`` is then empty): a cheaper look
        at a costly view.
    """
    params = {**_params(max_windows, backbones, embeddings), **({"inference_only": True} if inference_only else {})}
    keys = [feature_key(cache.content_hash(c.path), params, feature=EMBEDDING_FEATURE, version=EMBEDDING_VERSION)
            for c in clips]

    def windows_of(_: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        regular, inference = clip_windows(y, max_windows=max_windows)
        return (regular[:0], inference) if inference_only else (regular, inference)

    stored = _cached_embeddings(clips, keys, windows_of, cache=cache, what="embeddings", log=log,
                                backbones=backbones, embeddings=embeddings)
    return [ClipEmbeddings(regular=s[: int(s[0, 0]), 1:], inference=s[int(s[0, 0]) :, 1:]) for s in stored]


def augmented_embeddings(
    clips: Sequence[Clip],
    *,
    policy: str,
    copies: int,
    seed: int,
    cache: FeatureCache,
    max_windows: int,
    log: Callable[[str], None] = lambda message: None,
) -> list[list[np.ndarray]]:
    """Embeddings of the windows ``predict`` would read from degraded copies of each clip.

    Each copy is the clip through :func:`genrekit.training.degrade.degrade` with ``policy``, its
    random draws seeded by ``seed``, the copy number and the clip's bytes (so a clip's copies do
    not depend on the corpus around it); its windows are cut by :func:`clip_windows`.

    Returns
    -------
    list (one per clip) of list (one per copy) of np.ndarray [shape=(k, n_features)]
    """
    from genrekit.models.musicnn import SAMPLE_RATE
    from genrekit.training.degrade import POLICIES, degrade

    hashes = [cache.content_hash(c.path) for c in clips]
    per_copy = []
    for copy in range(copies):
        params = {**_params(max_windows), "degradation": policy, "copy": copy, "seed": int(seed)}
        keys = [feature_key(h, params, feature=EMBEDDING_FEATURE + ".degraded", version=EMBEDDING_VERSION)
                for h in hashes]

        def windows_of(index: int, y: np.ndarray, copy: int = copy) -> tuple[np.ndarray, np.ndarray]:
            rng = np.random.default_rng([int(seed), copy, POLICIES.index(policy), int(hashes[index][:12], 16)])
            _, inference = clip_windows(degrade(y, SAMPLE_RATE, policy, rng), max_windows=max_windows)
            return inference[:0], inference

        stored = _cached_embeddings(clips, keys, windows_of, cache=cache, what=f"{policy} copy {copy + 1}", log=log)
        per_copy.append([s[:, 1:] for s in stored])
    return [[copy_rows[i] for copy_rows in per_copy] for i in range(len(clips))]


@dataclass
class Corpus:
    """Clips and their embeddings, split into in-taxonomy and out-of-taxonomy."""

    clips: list[Clip]
    embeddings: list[ClipEmbeddings]
    degraded: dict[tuple[str, int], list[list[np.ndarray]]] = field(default_factory=dict)
    """(policy, copies) -> per clip, the inference-window embeddings of each degraded copy
    (:func:`~genrekit.training.corpus.augmented_embeddings`; in-taxonomy clips only)."""

    def __post_init__(self) -> None:
        self.inside = [i for i, c in enumerate(self.clips) if c.in_taxonomy]
        self.outside = [i for i, c in enumerate(self.clips) if not c.in_taxonomy]
        self.y = np.array([GENRES.index(c.label) if c.in_taxonomy else -1 for c in self.clips])

    def folds(self) -> list[tuple[str, list[int]]]:
        """(name, held-out clip indices) of each source fold."""
        folds = []
        gtzan_valid = [i for i in self.inside if self.clips[i].source == "gtzan" and self.clips[i].split == "valid"]
        if gtzan_valid:
            folds.append((GTZAN_VALID, gtzan_valid))
        sources = sorted({self.clips[i].source for i in self.inside} - {"gtzan"})
        for source in sources:
            folds.append((source, [i for i in self.inside if self.clips[i].source == source]))
        return folds

    def training_matrix(self, indices: Sequence[int], level: str, windows: str = "inference",
                        degradation: tuple[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels): the windows inference reads (``"inference"``) or those and every
        regular window (``"all"``), plus the inference windows of each degraded copy when
        ``degradation`` is given; with ``level="track"``, one mean row per clip and copy."""
        xs, ys = [], []
        for i in indices:
            e = self.embeddings[i]
            sets = [e.inference if windows == "inference" else np.concatenate([e.regular, e.inference])]
            if degradation is not None:
                sets += self.degraded[degradation][i]
            for rows in sets:
                if level == "track":
                    rows = rows.mean(0, keepdims=True)
                xs.append(rows)
                ys.append(np.full(len(rows), self.y[i]))
        return np.concatenate(xs), np.concatenate(ys)

    def track_logits(self, model: FittedHead, indices: Sequence[int]) -> np.ndarray:
        """Mean window logits over each clip's inference windows."""
        return np.stack([model.logits(self.embeddings[i].inference).mean(0) for i in indices])
