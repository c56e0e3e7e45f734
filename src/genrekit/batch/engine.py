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

The pipelined mode (``pipeline=True``: ``genrekit scan`` and ``classify`` of several files)
splits the work in two stages instead: ``workers`` decoder processes read, hash, decode (by
seeking the excerpts) and turn each song into model inputs
(:meth:`genrekit.predict.Classifier.prepare`), and one inference process runs the model on
the windows of many songs at once (:meth:`~genrekit.predict.Classifier.predict_prepared`,
``batch_windows`` windows per forward pass) with ``threads`` intra-op threads, while the
calling process only hands songs over and takes the outcomes (no model there, no GIL shared
with the model's Python work; a crash of the model fails only its song). The queue
between them is bounded (:attr:`EngineConfig.in_flight` songs), and the thread budget keeps
``workers + threads <= cores`` by default (:func:`pipeline_budget`). Results are the ones
``Classifier.predict`` gives for each file (to float rounding of the batch composition).

Results come back in job order. A file that fails (unreadable, not audio, a decoder
error, any exception of the decoder) comes back as an :class:`Outcome` with its error;
the run goes on. The worker processes are a :class:`genrekit.pool.WorkerPool`: a worker that
dies fails only the song it was on (``WorkerCrash``).

Decoder chatter: libraries such as libmpg123 write warnings ("Xing stream size off by
more than 1%") straight to the process's standard error. :func:`native_stderr_silenced`
points file descriptor 2 at ``/dev/null`` while keeping Python's own ``sys.stderr``
(progress bar, messages) on the real terminal; workers do the same unless ``verbose``.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import functools
import hashlib
import importlib
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

from genrekit.errors import GenrekitError, InvalidParameterError
from genrekit.pool import CRASHED, WorkerPool

MAX_IN_MEMORY_BYTES = 256 * 1024 * 1024  # larger files are hashed and decoded from disk
HASH_CHUNK_BYTES = 1024 * 1024  # read size when hashing from disk
SONGS_PER_WORKER = 2  # songs queued or running per worker: one decoding while one infers
DEFAULT_BATCH_WINDOWS = 8  # windows per forward pass on a CPU: per-window time flat from 8 to 32, RSS +78 MB per window
INFERENCE_QUEUE_GROUPS = 2  # decoded batches queued for the inference process (bounds memory)
GPU_BATCH_WINDOWS = 64  # on a GPU (not measured here: no GPU was available; the card may take more)
# Share of the cores the pipelined engine gives to decoding by default: with the default model a
# song's excerpts and patches take ~15-20 % of its CPU time (~35-50 ms against ~245 ms of model).
DECODE_SHARE = 0.25


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
    pipeline : bool
        Decode in ``workers`` processes and infer in one more process in batches of
        ``batch_windows`` windows across songs (see the module docstring). ``workers`` and
        ``threads`` ``None`` then follow :func:`pipeline_budget`.
    batch_windows : int >= 1 or None
        Windows per forward pass of the pipelined engine; ``None``: :data:`DEFAULT_BATCH_WINDOWS`
        on a CPU, :data:`GPU_BATCH_WINDOWS` with ``device="cuda"``.
    device : {"cpu", "cuda"} or None
        Where the model runs (:func:`genrekit.settings.device`; ``None``: the setting).
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
    pipeline: bool = False
    batch_windows: int | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if int(self.workers) < 1:
            raise InvalidParameterError(f"workers must be >= 1, got {self.workers}")
        if self.batch_windows is not None and int(self.batch_windows) < 1:
            raise InvalidParameterError(f"batch_windows must be >= 1, got {self.batch_windows}")

    @property
    def options(self) -> dict[str, Any]:
        """The keyword options of each :meth:`Classifier.predict` call."""
        if self.embed is None:
            return dict(self.predict_options)
        return {**self.predict_options, "embed": self.embed}

    @property
    def in_flight(self) -> int:
        """Songs queued or running at once (bounds memory); pipelined: also one batch's songs."""
        if self.pipeline:
            return SONGS_PER_WORKER * int(self.workers) + max(1, self.windows_per_batch // 4)
        return SONGS_PER_WORKER * int(self.workers)

    @property
    def windows_per_batch(self) -> int:
        """Windows per forward pass of the pipelined engine."""
        if self.batch_windows is not None:
            return int(self.batch_windows)
        return GPU_BATCH_WINDOWS if self.device == "cuda" else DEFAULT_BATCH_WINDOWS

    @property
    def threads_per_worker(self) -> int:
        """Inference threads of each worker."""
        if self.threads is not None:
            return int(self.threads)
        return max(1, (os.cpu_count() or 1) // int(self.workers))


def pipeline_budget(cores: int, workers: int | None = None, threads: int | None = None) -> tuple[int, int]:
    """``(decoder processes, inference threads)`` of the pipelined engine on ``cores`` CPUs.

    Unset values share the cores so that ``workers + threads <= cores`` (one core each at
    least): decoding gets :data:`DECODE_SHARE` of them, inference the rest. Values given are
    kept as they are.
    """
    cores = max(1, int(cores))
    if workers is None:
        spare = cores - threads if threads is not None else cores - 1
        workers = max(1, min(max(1, spare), round(cores * DECODE_SHARE) or 1))
    if threads is None:
        threads = max(1, cores - int(workers))
    return int(workers), int(threads)


def available_cores() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def registered_model_modules() -> tuple[str, ...]:
    """Modules (outside genrekit) that registered model types in this process.

    Worker processes import them before loading a bundle, so a bundle of a custom model
    type loads there as it does here.
    """
    from genrekit.models.loaders import loader_modules

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
    if config.device is not None:
        options["device"] = config.device
    return Classifier.load(config.model, runtime=config.runtime, threads=config.threads_per_worker, **options)


def _read_job(job: Job) -> tuple[Any, str, int]:
    """``(what to decode, sha256, size)`` of a job: its bytes, or its path for a large file."""
    if isinstance(job.source, bytes):
        return job.source, hashlib.sha256(job.source).hexdigest(), len(job.source)
    content, sha256, size = read_and_hash(job.source)
    return (content if content is not None else job.source), sha256, size


def _failed(job: Job, error: BaseException, sha256: str | None, size: int | None, start: float) -> Outcome:
    names = [job.name] + ([job.source] if isinstance(job.source, str) else [])
    return Outcome(job=job, result=None, sha256=sha256, size_bytes=size, error_type=type(error).__name__,
                   error=plain_reason(error, *names), elapsed_s=time.perf_counter() - start)


@dataclass(frozen=True)
class Prepared:
    """A song the decoding stage has made ready for the model (see :func:`prepare_job`)."""

    job: Job
    song: Any  # genrekit.predict.PreparedSong
    sha256: str
    size_bytes: int
    elapsed_s: float


def _read_then(job: Job, step: Callable[[Any], Any]) -> tuple[Any, str, int, float] | Outcome:
    """Read and hash a job, then ``step(what to decode)``: ``(its value, sha256, size, seconds)``,
    or any failure as an :class:`Outcome` with its error."""
    start = time.perf_counter()
    sha256: str | None = None
    size: int | None = None
    try:
        source, sha256, size = _read_job(job)
        value = step(source)
    except Exception as error:  # noqa: BLE001 - one bad file must not stop a batch
        return _failed(job, error, sha256, size, start)
    return value, sha256, size, time.perf_counter() - start


def prepare_job(classifier: Any, job: Job, predict_options: dict[str, Any]) -> Prepared | Outcome:
    """Read, hash, decode and window one song (the decoding stage); a failure is an :class:`Outcome`."""
    done = _read_then(job, lambda source: classifier.prepare(source, name=job.name, **predict_options))
    if isinstance(done, Outcome):
        return done
    song, sha256, size, elapsed_s = done
    return Prepared(job=job, song=song, sha256=sha256, size_bytes=size, elapsed_s=elapsed_s)


def infer_prepared(classifier: Any, items: list[Prepared], batch_windows: int) -> list[Outcome]:
    """The inference stage: outcomes of prepared songs, the model run across them in batches.

    Where the batch fails as a whole, each song is run alone so only the failing ones fail.
    """
    start = time.perf_counter()
    try:
        predictions = classifier.predict_prepared([item.song for item in items], batch_size=batch_windows)
    except Exception as error:  # noqa: BLE001 - isolate the song that fails
        if len(items) == 1:
            return [_failed(items[0].job, error, items[0].sha256, items[0].size_bytes, start)]
        return [outcome for item in items for outcome in infer_prepared(classifier, [item], batch_windows)]
    share = (time.perf_counter() - start) / max(1, len(items))
    return [
        Outcome(job=item.job, result=prediction.to_dict(), sha256=item.sha256, size_bytes=item.size_bytes,
                elapsed_s=item.elapsed_s + share, prediction=prediction)
        for item, prediction in zip(items, predictions, strict=True)
    ]


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
    done = _read_then(job, lambda source: classifier.predict(source, name=job.name, **predict_options))
    if isinstance(done, Outcome):
        return done
    prediction, sha256, size, elapsed_s = done
    return Outcome(job=job, result=prediction.to_dict(), sha256=sha256, size_bytes=size, elapsed_s=elapsed_s,
                   prediction=prediction)


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


def _decoder_config(config: EngineConfig) -> EngineConfig:
    """A decoder process's config: one thread, on the CPU (it never runs the model)."""
    return replace(config, threads=1, device="cpu")


def _prepare_in_worker(job: Job) -> Prepared | Outcome:
    return prepare_job(_WORKER["classifier"], job, _WORKER["options"])


def _init_inference(config: EngineConfig) -> None:
    _init_worker(config)
    _WORKER["windows_per_batch"] = config.windows_per_batch


def _infer_in_worker(group: list[Outcome | Prepared]) -> list[Outcome]:
    """The inference process: a group of decoded songs (failures pass through) -> outcomes, in order."""
    prepared = [item for item in group if isinstance(item, Prepared)]
    inferred = iter(infer_prepared(_WORKER["classifier"], prepared, _WORKER["windows_per_batch"]) if prepared else [])
    return [next(inferred) if isinstance(item, Prepared) else item for item in group]


def _worker_crash(job: Job) -> Outcome:
    return Outcome(job=job, result=None, error_type="WorkerCrash",
                   error="the worker process died while decoding or classifying this file")


class BatchEngine:
    """Classifies :class:`Job` streams with ``config.workers`` workers; use as a context manager.

    The model is loaded once per worker when the engine starts (in the calling process for
    ``workers=1``: :attr:`classifier` is then available, e.g. for its labels). The workers
    are a :class:`~genrekit.pool.WorkerPool`, which survives a worker's crash.
    """

    def __init__(self, config: EngineConfig) -> None:
        if config.device is not None and config.device != "cpu":
            from genrekit.models.onnx_runtime import execution_providers

            execution_providers(config.device)  # a missing GPU runtime fails here, with how to install it
        if config.pipeline:
            workers, threads = pipeline_budget(available_cores(), config.workers, config.threads)
            config = replace(config, workers=workers, threads=threads)
        self.config = config
        self.classifier: Any = None
        self._pools = contextlib.ExitStack()
        self._pool: WorkerPool | None = None
        self._inference: WorkerPool | None = None

    def __enter__(self) -> BatchEngine:
        config = self.config
        if config.pipeline:
            # The pipeline's inference stage: one process holding the model (``threads`` threads).
            self._inference = self._pools.enter_context(
                WorkerPool(1, initializer=_init_inference, initargs=(config,), start_method="spawn"))
            self._inference.submit(int, 0).result()  # the model loads (and a load error shows) now
            self._pool = self._pools.enter_context(
                WorkerPool(config.workers, initializer=_init_worker, initargs=(_decoder_config(config),),
                           start_method="spawn"))
        elif config.workers == 1:
            self.classifier = load_classifier(config)
            self._pool = self._pools.enter_context(WorkerPool(SONGS_PER_WORKER, processes=False))
        else:
            self._pool = self._pools.enter_context(
                WorkerPool(config.workers, initializer=_init_worker, initargs=(config,), start_method="spawn"))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._pools.close()
        self._pool = self._inference = None

    def _live(self) -> WorkerPool:
        if self._pool is None:
            raise GenrekitError("use BatchEngine as a context manager")
        return self._pool

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Classify ``jobs`` (pulled lazily), yielding one :class:`Outcome` per job, in job order.

        If a worker process dies (a decoder crashing on a bad file), the pool is restarted
        and the songs that were in flight are redone one at a time: the one that kills its
        worker again comes back as a ``WorkerCrash`` failure, and the run goes on.
        """
        if self.config.pipeline:
            yield from self._run_pipeline(jobs)
            return
        if self.classifier is not None:
            work: Any = functools.partial(classify_job, self.classifier, predict_options=self.config.options)
        else:
            work = _run_in_worker
        for _, (job,), outcome in self._live().map(work, ((job,) for job in jobs), in_flight=self.config.in_flight):
            yield _worker_crash(job) if outcome is CRASHED else outcome

    def _infer_alone(self, item: Prepared) -> Outcome:
        """Run the model on one decoded song with nothing else in flight, so a crash is this file's."""
        if self._inference is None:
            raise GenrekitError("use BatchEngine as a context manager")
        done = self._inference.run_alone(_infer_in_worker, [item])
        if done is CRASHED:
            return Outcome(job=item.job, result=None, sha256=item.sha256, size_bytes=item.size_bytes,
                           error_type="WorkerCrash", error="the inference process died while classifying this file")
        return done[0]

    def _run_pipeline(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """The pipelined run: decoder processes ahead, the model on groups of songs in the inference
        process, so what the caller does with each outcome (hashing the next files, database
        writes) overlaps both. In job order; a crash of either stage fails only its file."""
        if self._inference is None:
            raise GenrekitError("use BatchEngine as a context manager")
        inference = self._inference
        inferring: deque[tuple[list[Outcome | Prepared], futures.Future[list[Outcome]]]] = deque()

        def finished(wait_for: int) -> Iterator[Outcome]:
            """Outcomes of the inferred groups at the head; waits until at most ``wait_for`` are left."""
            while inferring and (len(inferring) > wait_for or inferring[0][1].done()):
                group, future = inferring.popleft()
                try:
                    yield from future.result()
                except BrokenProcessPool:  # the model's process died: redo the group song by song
                    for item in group:
                        yield self._infer_alone(item) if isinstance(item, Prepared) else item

        group: list[Outcome | Prepared] = []
        n_windows = 0
        decoded = self._live().map(_prepare_in_worker, ((job,) for job in jobs), in_flight=self.config.in_flight)
        for _, (job,), done in decoded:
            group.append(_worker_crash(job) if done is CRASHED else done)
            if isinstance(done, Prepared):
                n_windows += done.song.n_windows
            if n_windows >= self.config.windows_per_batch:
                inferring.append((group, inference.submit(_infer_in_worker, group)))
                group, n_windows = [], 0
                yield from finished(INFERENCE_QUEUE_GROUPS)
        if group:
            inferring.append((group, inference.submit(_infer_in_worker, group)))
        yield from finished(0)
