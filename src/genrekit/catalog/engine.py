"""The batch engine: many songs classified by worker processes that each hold one model.

Pipeline
--------
The caller's job iterator (walking, stat-ing and hashing in the calling process) is
pulled lazily, so at most :attr:`EngineConfig.in_flight` songs are queued or running at
any time: memory stays bounded however large the library. Each worker process loads the
model once and, per song, reads the file once (bytes kept in memory up to
:data:`MAX_IN_MEMORY_BYTES`), hashes it and classifies it from those bytes. With ``N``
workers, ``N`` songs are decoded and classified at once, so one worker decodes while
another runs the model and every core is busy; each worker's inference library gets
``cores // N`` threads so the workers do not fight over cores.

``workers=1`` runs in the calling process instead, with two songs in flight on two
threads (the decoder and ONNX Runtime release the GIL), so decoding one song overlaps
running the model on the previous one.

Results come back in job order. A file that fails (unreadable, not audio, a decoder
error, any exception of the decoder) comes back as an :class:`Outcome` with its error;
the run goes on.

Decoder chatter: libraries such as libmpg123 write warnings ("Xing stream size off by
more than 1%") straight to the process's standard error. :func:`native_stderr_silenced`
points file descriptor 2 at ``/dev/null`` while keeping Python's own ``sys.stderr``
(progress bar, messages) on the real terminal; workers do the same unless ``verbose``.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import hashlib
import importlib
import multiprocessing
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from genrekit.errors import GenrekitError, InvalidParameterError

MAX_IN_MEMORY_BYTES = 256 * 1024 * 1024  # larger files are hashed and decoded from disk
HASH_CHUNK_BYTES = 1024 * 1024  # read size when hashing from disk
SONGS_PER_WORKER = 2  # songs queued or running per worker: one decoding while one infers


@dataclass(frozen=True)
class Job:
    """One song to classify.

    ``source`` is a path, or encoded bytes (standard input); ``name`` goes into the result.
    """

    source: str | bytes
    name: str


@dataclass(frozen=True)
class Outcome:
    """What the engine returns for one :class:`Job`.

    ``result`` is ``Prediction.to_dict()`` (the shared result schema) or ``None`` when it
    failed; then ``error_type`` and ``error`` (a plain reason, without the file's path)
    say why. ``sha256`` is the hash of the bytes classified (``None`` if unreadable).
    """

    job: Job
    result: dict[str, Any] | None
    sha256: str | None = None
    size_bytes: int | None = None
    error_type: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    prediction: Any = None  # the Prediction itself, where the engine ran in Python (not from Ray rows)

    @property
    def ok(self) -> bool:
        """Whether the song was classified."""
        return self.result is not None


@dataclass(frozen=True)
class EngineConfig:
    """How the engine loads and runs the model.

    Attributes
    ----------
    model : str or None
        Bundle directory; ``None``: the bundled model.
    runtime : {"auto", "onnx", "torch"}
    workers : int >= 1
        Worker processes (1: in the calling process).
    threads : int or None
        Inference threads per worker; ``None``: ``cores // workers`` (at least 1).
    batch_size : int or None
        Windows per forward pass; ``None``: the classifier's default.
    predict_options : dict
        Keyword options of :meth:`Classifier.predict` (``top_k``, ``hop_s``,
        ``max_duration_s``, ``max_windows``; ``embed`` where the classifier takes it).
    preload : tuple of str
        Modules each worker imports before loading the model (e.g. ones registering
        custom model types).
    verbose : bool
        Let decoder libraries write to standard error.
    embed : bool or None
        Passed to :meth:`Classifier.predict` as ``embed=`` when not None (track embeddings
        in the result); None leaves it out, for classifiers without the option.
    """

    model: str | None = None
    runtime: str = "auto"
    workers: int = 1
    threads: int | None = None
    batch_size: int | None = None
    predict_options: dict[str, Any] = field(default_factory=dict)
    preload: tuple[str, ...] = ()
    verbose: bool = False
    embed: bool | None = None

    def __post_init__(self) -> None:
        if int(self.workers) < 1:
            raise InvalidParameterError(f"workers must be >= 1, got {self.workers}")

    @property
    def options(self) -> dict[str, Any]:
        """The keyword options of each :meth:`Classifier.predict` call."""
        if self.embed is None:
            return dict(self.predict_options)
        return {**self.predict_options, "embed": self.embed}

    @property
    def in_flight(self) -> int:
        """Songs queued or running at once (bounds memory)."""
        return SONGS_PER_WORKER * int(self.workers)

    @property
    def threads_per_worker(self) -> int:
        """Inference threads of each worker."""
        if self.threads is not None:
            return int(self.threads)
        return max(1, (os.cpu_count() or 1) // int(self.workers))


def registered_model_modules() -> tuple[str, ...]:
    """Modules (outside genrekit) that registered model types in this process.

    Worker processes import them before loading a bundle, so a bundle of a custom model
    type loads there as it does here.
    """
    from genrekit.models.registry import loader_modules

    modules = loader_modules()
    return tuple(sorted(m for m in modules if m and not m.startswith("genrekit.") and m != "__main__"))


def default_workers() -> int:
    """One worker per CPU core."""
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send what native libraries write to file descriptor 2 to ``/dev/null``.

    Python's ``sys.stderr`` is re-opened on a duplicate of the real descriptor for the
    duration, so progress bars and messages still reach the terminal.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    old_stderr = sys.stderr
    replacement = None
    if _fileno(old_stderr) == 2:
        replacement = os.fdopen(os.dup(saved_fd), "w", buffering=1, errors="backslashreplace",
                                encoding=getattr(old_stderr, "encoding", None) or "utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        if replacement is not None:
            sys.stderr = replacement
        yield
    finally:
        if replacement is not None:
            with contextlib.suppress(Exception):
                replacement.flush()
            sys.stderr = old_stderr
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        os.close(devnull)
        if replacement is not None:
            with contextlib.suppress(Exception):
                replacement.close()


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def load_classifier(config: EngineConfig) -> Any:
    """The :class:`Classifier` a worker uses, with ``config.threads_per_worker`` inference threads."""
    for module in config.preload:
        importlib.import_module(module)
    from genrekit.predict import Classifier

    options: dict[str, Any] = {}
    if config.batch_size is not None:
        options["batch_size"] = config.batch_size
    return Classifier.load(config.model, runtime=config.runtime, threads=config.threads_per_worker, **options)


def read_and_hash(path: str) -> tuple[bytes | None, str, int]:
    """``(content or None, sha256 hex, size in bytes)`` of a file, read once.

    Files above :data:`MAX_IN_MEMORY_BYTES` are hashed in chunks and their content is
    not kept (``None``): they are decoded from disk.
    """
    size = os.stat(path).st_size
    if size <= MAX_IN_MEMORY_BYTES:
        with open(path, "rb") as handle:
            content = handle.read()
        return content, hashlib.sha256(content).hexdigest(), len(content)
    return None, hash_file(path), size


def hash_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


_BYTES_NAME = re.compile(r"<\d+ bytes of audio>:?\s*|<bytes>:?\s*")


def plain_reason(error: BaseException, *names: str) -> str:
    """The error's message without the file's path or name in it (the caller prints those once)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    message = _BYTES_NAME.sub("", str(error) or type(error).__name__)
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        message = message.replace(f"{name}: ", "").replace(name, "the file")
    return message.strip() or type(error).__name__


def classify_job(classifier: Any, job: Job, predict_options: dict[str, Any]) -> Outcome:
    """Read, hash and classify one song; any failure becomes an :class:`Outcome` with its error."""
    start = time.perf_counter()
    sha256: str | None = None
    size: int | None = None
    try:
        if isinstance(job.source, bytes):
            content: bytes | None = job.source
            sha256, size = hashlib.sha256(job.source).hexdigest(), len(job.source)
        else:
            content, sha256, size = read_and_hash(job.source)
        source: Any = content if content is not None else job.source
        prediction = classifier.predict(source, name=job.name, **predict_options)
    except Exception as error:  # noqa: BLE001 - one bad file must not stop a batch
        names = [job.name] + ([job.source] if isinstance(job.source, str) else [])
        return Outcome(
            job=job,
            result=None,
            sha256=sha256,
            size_bytes=size,
            error_type=type(error).__name__,
            error=plain_reason(error, *names),
            elapsed_s=time.perf_counter() - start,
        )
    return Outcome(job=job, result=prediction.to_dict(), sha256=sha256, size_bytes=size,
                   elapsed_s=time.perf_counter() - start, prediction=prediction)


_WORKER: dict[str, Any] = {}


def _init_worker(config: EngineConfig) -> None:
    if not config.verbose:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    _WORKER["classifier"] = load_classifier(config)
    _WORKER["options"] = config.options


def _run_in_worker(job: Job) -> Outcome:
    return classify_job(_WORKER["classifier"], job, _WORKER["options"])


class BatchEngine:
    """Classifies :class:`Job` streams with ``config.workers`` workers; use as a context manager.

    The model is loaded once per worker when the engine starts (in the calling process for
    ``workers=1``: :attr:`classifier` is then available, e.g. for its labels).
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.classifier: Any = None
        self._executor: futures.Executor | None = None

    def __enter__(self) -> BatchEngine:
        if self.config.workers == 1:
            self.classifier = load_classifier(self.config)
            self._executor = futures.ThreadPoolExecutor(SONGS_PER_WORKER, thread_name_prefix="genrekit-song")
        else:
            self._executor = self._process_pool()
        return self

    def _process_pool(self) -> futures.ProcessPoolExecutor:
        return futures.ProcessPoolExecutor(
            self.config.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.config,),
        )

    def __exit__(self, *exc_info: Any) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _submit(self, job: Job) -> futures.Future[Outcome]:
        if self._executor is None:
            raise GenrekitError("use BatchEngine as a context manager")
        if self.config.workers == 1:
            return self._executor.submit(classify_job, self.classifier, job, self.config.options)
        return self._executor.submit(_run_in_worker, job)

    def _restart(self) -> None:
        """A new process pool after a worker died (the old one is unusable)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._process_pool()

    def _run_alone(self, job: Job) -> Outcome:
        """Classify one job with nothing else in flight, so a crash is this file's."""
        try:
            return self._submit(job).result()
        except BrokenProcessPool:
            self._restart()
            return Outcome(job=job, result=None, error_type="WorkerCrash",
                           error="the worker process died while decoding or classifying this file")

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Classify ``jobs`` (pulled lazily), yielding one :class:`Outcome` per job, in job order.

        If a worker process dies (a decoder crashing on a bad file), the pool is restarted
        and the songs that were in flight are redone one at a time: the one that kills its
        worker again comes back as a ``WorkerCrash`` failure, and the run goes on.
        """
        pending: deque[tuple[Job, futures.Future[Outcome]]] = deque()
        job_iter = iter(jobs)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.config.in_flight:
                try:
                    job = next(job_iter)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((job, self._submit(job)))
            if not pending:
                return
            job, future = pending.popleft()
            try:
                outcome = future.result()
            except BrokenProcessPool:
                suspects = [job, *(j for j, _ in pending)]
                pending.clear()
                self._restart()
                for suspect in suspects:
                    yield self._run_alone(suspect)
                continue
            yield outcome
