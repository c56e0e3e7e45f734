"""Check a dataset's audio files: :func:`check_dataset`.

Every file is decoded in full (in worker processes), and every problem is collected, never
stopping at the first:

* ``missing``: listed (manifest, records) but absent;
* ``unreadable``: exists but cannot be read (permissions, I/O error);
* ``not_audio``: the content is not audio, whatever the extension (a text file named
  ``.wav``);
* ``unsupported``: audio genrekit cannot decode (MIDI, unknown codec);
* ``corrupt``: the decoder fails, the audio holds NaN/inf, it decodes much shorter than
  its header declares, or the decoder crashed;
* ``empty``: no samples, or silence throughout (peak below
  :data:`genrekit.audio.SILENCE_PEAK_DBFS`);
* ``short``: shorter than ``min_duration_s``;
* ``duplicate``: same audio content as another file. Files are compared by a hash of
  their decoded 16-bit PCM (plus a hash of their bytes), so the same audio stored as WAV
  and as FLAC is found; GTZAN holds such exact repeats.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from genrekit.datasets.cache import file_sha256
from genrekit.datasets.files import has_audio_extension, iter_files, sniff_file
from genrekit.datasets.manifest import load_manifest
from genrekit.datasets.records import Dataset, TrackRecord
from genrekit.errors import (
    AudioDecodeError,
    AudioError,
    EmptyAudioError,
    GenrekitError,
    InvalidParameterError,
    NotAudioError,
    UnsupportedFormatError,
)
from genrekit.pool import check_n_jobs, run_tasks

PROBLEM_KINDS = ("missing", "unreadable", "not_audio", "unsupported", "corrupt", "empty", "short", "duplicate")
DEFAULT_MIN_DURATION_S = 3.0  # one analysis window of the musicnn backbone
_PCM_SCALE = 32768.0  # decoded floats are compared as 16-bit PCM
# Formats whose header states the exact length, so a shorter decode means truncation.
_EXACT_LENGTH_FORMATS = frozenset({"wav", "rf64", "w64", "flac", "aiff", "aifc", "au", "caf"})
_TRUNCATION_TOLERANCE_S = 0.5  # decoded length may fall this far short of the header's


@dataclass(frozen=True)
class FileProblem:
    """One problem with one file.

    Attributes
    ----------
    path : Path
        The file.
    kind : str
        One of :data:`PROBLEM_KINDS`.
    message : str
        Human-readable detail.
    """

    path: Path
    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready dict."""
        return {"path": str(self.path), "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class FileInspection:
    """What decoding one file found (the result of :func:`inspect_file`).

    Attributes
    ----------
    path : str
        The file.
    size : int
        Bytes; -1 if it could not be read.
    raw_sha256, pcm_sha256 : str or None
        Hashes of the bytes, and of the decoded mono 16-bit PCM with its sample rate.
    duration_s : float or None
        Decoded duration in seconds.
    sr : int or None
        Native sample rate in Hz.
    problems : tuple of (kind, message)
        Every problem found (duplicates excepted: they need all files).
    """

    path: str
    size: int = -1
    raw_sha256: str | None = None
    pcm_sha256: str | None = None
    duration_s: float | None = None
    sr: int | None = None
    problems: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def pcm_fingerprint(y: np.ndarray, sr: int) -> str:
    """SHA-256 of audio as 16-bit PCM plus its sample rate.

    Parameters
    ----------
    y : np.ndarray, float, shape (n_samples,)
        Mono audio in [-1, 1].
    sr : int
        Sample rate in Hz.

    Returns
    -------
    str
        64 hex digits; equal for the same 16-bit audio in any lossless container.
    """
    pcm = np.clip(np.round(np.asarray(y, dtype=np.float64) * _PCM_SCALE), -32768, 32767).astype("<i2")
    digest = hashlib.sha256(f"sr={int(sr)};".encode("ascii"))
    digest.update(pcm.tobytes())
    return digest.hexdigest()


def wav_missing_bytes(path: Path) -> int:
    """Bytes of audio data a RIFF/WAVE file's ``data`` chunk declares beyond the file's end.

    libsndfile silently shortens a truncated WAV to the bytes present, so the header has to
    be read here. Returns 0 for a complete file, for other formats, and for the
    "unknown size" markers streaming writers use (0 and 0xFFFFFFFF).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return 0
            file_size = path.stat().st_size
            position = 12
            while position + 8 <= file_size:
                handle.seek(position)
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return 0
                chunk_id, chunk_size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if chunk_id == b"data":
                    if chunk_size in (0, 0xFFFFFFFF):
                        return 0
                    return max(0, position + 8 + chunk_size - file_size)
                position += 8 + chunk_size + (chunk_size & 1)
    except OSError:
        return 0
    return 0


def inspect_file(path: str, min_duration_s: float) -> FileInspection:
    """Read, hash and fully decode one file, collecting its problems.

    Parameters
    ----------
    path : str
        The file.
    min_duration_s : float
        Files shorter than this (seconds) are ``short``.

    Returns
    -------
    FileInspection
    """
    from genrekit.audio import is_silent, load_audio, peak_dbfs, probe_audio

    file_path = Path(path)
    if not file_path.exists():
        return FileInspection(path=path, problems=(("missing", "file does not exist"),))
    try:
        size = file_path.stat().st_size
        raw_sha256 = file_sha256(file_path)
    except OSError as e:
        return FileInspection(path=path, problems=(("unreadable", f"{type(e).__name__}: {e}"),))
    if size == 0:
        return FileInspection(path=path, size=0, raw_sha256=raw_sha256, problems=(("empty", "file is 0 bytes"),))
    try:
        y, sr = load_audio(file_path, sr=None, mono=True, max_duration_s=None, allow_silent=True)
    except NotAudioError as e:
        kind, message = "not_audio", str(e)
    except UnsupportedFormatError as e:
        kind, message = "unsupported", str(e)
    except EmptyAudioError as e:
        kind, message = "empty", str(e)
    except AudioDecodeError as e:
        kind, message = "corrupt", str(e)
    except AudioError as e:
        kind, message = "unreadable", str(e)
    except GenrekitError as e:
        kind, message = "corrupt", f"{type(e).__name__}: {e}"
    except OSError as e:
        kind, message = "unreadable", f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - a decoder bug on one file must not stop the check
        kind, message = "corrupt", f"decoder raised {type(e).__name__}: {e}"
    else:
        kind = message = ""
    if kind:
        return FileInspection(path=path, size=size, raw_sha256=raw_sha256, problems=((kind, message),))

    problems = []
    y = np.asarray(y)
    duration_s = y.shape[-1] / sr if sr else 0.0
    if not np.all(np.isfinite(y)):
        problems.append(("corrupt", "decoded audio holds NaN or infinite samples"))
    elif y.size == 0:
        problems.append(("empty", "no samples"))
    elif is_silent(y):
        problems.append(("empty", f"silent throughout: peak {peak_dbfs(y):.1f} dBFS over {duration_s:.2f} s"))
    if y.size and duration_s < min_duration_s:
        problems.append(("short", f"{duration_s:.2f} s, shorter than {min_duration_s:g} s"))
    try:
        info = probe_audio(file_path)
    except Exception:  # noqa: BLE001 - decoding worked; a failing probe only skips this check
        info = None
    if info is not None and info.duration_s is not None and info.format in _EXACT_LENGTH_FORMATS:
        declared_s = float(info.duration_s)
        if math.isfinite(declared_s) and declared_s - duration_s > _TRUNCATION_TOLERANCE_S:
            problems.append(("corrupt", f"truncated: header declares {declared_s:.2f} s, decoded {duration_s:.2f} s"))
    n_missing = wav_missing_bytes(file_path)
    if n_missing:
        problems.append(("corrupt", f"truncated: the WAV data chunk lacks its last {n_missing} bytes"))
    pcm_sha256 = pcm_fingerprint(y, sr) if y.size and np.all(np.isfinite(y)) else None
    return FileInspection(
        path=path,
        size=size,
        raw_sha256=raw_sha256,
        pcm_sha256=pcm_sha256,
        duration_s=duration_s,
        sr=int(sr),
        problems=tuple(problems),
    )


@dataclass(frozen=True)
class CheckReport:
    """Outcome of :func:`check_dataset`.

    Attributes
    ----------
    n_files : int
        Files checked.
    total_duration_s : float
        Decoded audio in seconds, over the files that decoded.
    problems : tuple of FileProblem
        Sorted by path, then kind.
    duplicate_groups : tuple of tuple of Path
        Files with the same audio, each group sorted; the first of a group is not
        reported as a ``duplicate`` problem, the others are.
    min_duration_s : float
        The ``short`` threshold used.
    root : Path or None
        The folder or manifest checked, if one was given.
    """

    n_files: int
    total_duration_s: float
    problems: tuple[FileProblem, ...]
    duplicate_groups: tuple[tuple[Path, ...], ...]
    min_duration_s: float
    root: Path | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    @property
    def n_problem_files(self) -> int:
        """Files with at least one problem."""
        return len({p.path for p in self.problems})

    def counts(self) -> dict[str, int]:
        """Number of problems per kind (every kind of :data:`PROBLEM_KINDS`, zeros included)."""
        out = dict.fromkeys(PROBLEM_KINDS, 0)
        for problem in self.problems:
            out[problem.kind] += 1
        return out

    def by_kind(self, kind: str) -> list[Path]:
        """Paths with a problem of ``kind``."""
        return [p.path for p in self.problems if p.kind == kind]

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {
            "root": None if self.root is None else str(self.root),
            "ok": self.ok,
            "n_files": self.n_files,
            "n_problem_files": self.n_problem_files,
            "total_duration_s": round(self.total_duration_s, 3),
            "min_duration_s": self.min_duration_s,
            "counts": self.counts(),
            "problems": [p.to_dict() for p in self.problems],
            "duplicate_groups": [[str(p) for p in group] for group in self.duplicate_groups],
        }


def _files_to_check(
    source: str | Path | Dataset | Iterable[TrackRecord | str | Path], sniff: bool
) -> tuple[list[Path], dict[Path, TrackRecord], Path | None]:
    if isinstance(source, (str, Path)):
        root = Path(source)
        if root.is_dir():
            paths = [p for p in iter_files(root) if has_audio_extension(p) or (sniff and sniff_file(p) is not None)]
            return paths, {}, root
        if root.is_file() and root.suffix.lower() == ".csv":
            records = load_manifest(root, on_missing="keep")
            return [r.path for r in records], {r.path: r for r in records}, root
        raise InvalidParameterError(f"{root} is neither a folder nor a .csv manifest")
    items = list(source)
    records = {item.path: item for item in items if isinstance(item, TrackRecord)}
    paths = [item.path if isinstance(item, TrackRecord) else Path(item) for item in items]
    root = source.root if isinstance(source, Dataset) else None
    return paths, records, root


def _duplicate_groups(inspections: list[FileInspection]) -> list[list[int]]:
    parent = list(range(len(inspections)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[tuple[str, str], int] = {}
    for i, inspection in enumerate(inspections):
        for name in ("raw_sha256", "pcm_sha256"):
            digest = getattr(inspection, name)
            if digest is None:
                continue
            j = first_with.setdefault((name, digest), i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(inspections)):
        groups.setdefault(find(i), []).append(i)
    return [members for members in groups.values() if len(members) > 1]


def _duplicate_note(paths: list[Path], records: dict[Path, TrackRecord]) -> str:
    known = [records[p] for p in paths if p in records]
    notes = []
    labels = sorted({r.label for r in known})
    if len(labels) > 1:
        notes.append(f"different labels: {', '.join(labels)}")
    splits = sorted({r.split for r in known if r.split is not None})
    if len(splits) > 1:
        notes.append(f"across splits: {', '.join(splits)}")
    return f" ({'; '.join(notes)})" if notes else ""


def check_dataset(
    source: str | Path | Dataset | Iterable[TrackRecord | str | Path],
    *,
    min_duration_s: float = DEFAULT_MIN_DURATION_S,
    n_jobs: int = 2,
    progress: bool = True,
    sniff: bool = False,
) -> CheckReport:
    """Find corrupt, short, non-audio, missing and duplicate files in a dataset.

    Parameters
    ----------
    source : str, Path, Dataset or iterable of TrackRecord / paths
        A folder (every file with an audio extension under it, recursively), a CSV
        manifest, a :class:`Dataset`, or records / paths.
    min_duration_s : float >= 0
        Shorter files are reported as ``short`` (seconds).
    n_jobs : int
        Worker processes decoding files (1: in this process; -1: one per core).
    progress : bool
        Show a progress bar on stderr.
    sniff : bool
        Folder only: also check files without an audio extension whose first bytes are
        audio.

    Returns
    -------
    CheckReport

    Raises
    ------
    InvalidParameterError
        For a bad ``min_duration_s`` or ``n_jobs``, or a source that is neither a folder
        nor a ``.csv``.
    DatasetError
        If a manifest cannot be parsed.
    """
    if not isinstance(min_duration_s, (int, float)) or not math.isfinite(min_duration_s) or min_duration_s < 0:
        raise InvalidParameterError(f"min_duration_s must be a finite number >= 0, got {min_duration_s!r}")
    n_jobs = check_n_jobs(n_jobs)
    paths, records, root = _files_to_check(source, sniff)
    inspections: list[FileInspection | None] = [None] * len(paths)
    tasks = [(str(p), float(min_duration_s)) for p in paths]
    with tqdm(total=len(tasks), desc="checking", unit="file", file=sys.stderr, disable=not progress) as bar:

        def on_result(index: int, inspection: FileInspection) -> None:
            inspections[index] = inspection
            bar.update(1)

        def on_crash(index: int) -> None:
            on_result(
                index,
                FileInspection(
                    path=tasks[index][0], problems=(("corrupt", "the decoder crashed (worker process died)"),)
                ),
            )

        run_tasks(inspect_file, tasks, n_jobs=n_jobs, on_result=on_result, on_crash=on_crash)

    done = [i for i in inspections if i is not None]
    problems = [FileProblem(Path(i.path), kind, message) for i in done for kind, message in i.problems]
    groups = []
    for members in _duplicate_groups(done):
        group_paths = sorted(Path(done[m].path) for m in members)
        groups.append(tuple(group_paths))
        note = _duplicate_note(group_paths, records)
        for duplicate in group_paths[1:]:
            problems.append(FileProblem(duplicate, "duplicate", f"same audio as {group_paths[0]}{note}"))
    problems.sort(key=lambda p: (str(p.path), PROBLEM_KINDS.index(p.kind), p.message))
    return CheckReport(
        n_files=len(paths),
        total_duration_s=float(sum(i.duration_s or 0.0 for i in done)),
        problems=tuple(problems),
        duplicate_groups=tuple(sorted(groups)),
        min_duration_s=float(min_duration_s),
        root=root,
    )
