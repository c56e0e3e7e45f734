"""The batch engine on Ray Data: ``genrekit scan --engine ray [--address ADDR]``.

The songs to classify become a Ray dataset of ``{path, name, library}`` rows that runs
through the local engine's two stages: a pool of ``workers`` decoder actors
(:class:`SongDecoder`: read, hash, decode the excerpts, compute the model inputs), then one
inference actor (:class:`BatchClassifier`, holding one session with ``threads`` threads)
that runs the model on many songs' windows per batch, as the pipelined
:class:`~genrekit.batch.engine.BatchEngine` does. Ray Data streams between the stages
with its own back-pressure. Each output row is a flat record (:data:`~genrekit.batch.records.RECORD_COLUMNS`,
the result in the shared schema as JSON): :meth:`RayRunner.run` turns rows back into the
local engine's :class:`~genrekit.batch.engine.Outcome`, so
:func:`genrekit.catalog.scan.scan_library` stores them in the same database, and
:func:`genrekit.catalog.scan.scan_to_parquet` writes :meth:`RayRunner.dataset` as a Parquet
dataset instead (the same columns as ``genrekit export --format parquet``).

Without ``address`` a local Ray instance is started with ``workers + threads`` CPUs; with one, the
driver joins that cluster (``auto``, ``host:6379`` or ``ray://host:10001``), and every node
must see the files under the same paths (a shared file system). See docs/catalog.md.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from genrekit.batch.engine import (
    EngineConfig,
    Job,
    Outcome,
    Prepared,
    infer_prepared,
    load_classifier,
    pipeline_budget,
    prepare_job,
)
from genrekit.batch.records import RECORD_COLUMNS, outcome_record
from genrekit.errors import GenrekitError

SONGS_PER_RAY_BATCH = 4  # songs per map_batches call of the decoder actors
_EXTRA_COLUMNS = ("name", "elapsed_s", "error_type", "reason")  # what rebuilds an Outcome; not in Parquet output
JOBS_PER_DATASET = 2000  # songs per Ray dataset when storing to a database (results stored between datasets)


def _file_info(path: str) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except OSError:
        return 0, 0
    return int(info.st_size), int(info.st_mtime_ns)


class SongDecoder:
    """Ray Data actor of the decoding stage: ``{path, name, library}`` rows -> the same rows plus
    ``prepared`` (the pickled :class:`~genrekit.batch.engine.Prepared` song or failed
    :class:`~genrekit.batch.engine.Outcome`)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.classifier = load_classifier(replace(config, threads=1, device="cpu"))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {"path": [], "name": [], "library": [], "prepared": []}
        for path, name, library in zip(batch["path"], batch["name"], batch["library"]):
            done = prepare_job(self.classifier, Job(source=str(path), name=str(name)), self.config.options)
            columns["path"].append(str(path))
            columns["name"].append(str(name))
            columns["library"].append(str(library))
            columns["prepared"].append(pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL))
        return columns


class BatchClassifier:
    """Ray Data actor of the inference stage: one session, the model run on all the songs of a
    batch at once (:func:`~genrekit.batch.engine.infer_prepared`); rows -> flat records."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.classifier = load_classifier(config)
        info = self.classifier.model_info
        self.model_name, self.model_version = str(info.name), str(info.version)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        items = [pickle.loads(blob) for blob in batch["prepared"]]  # noqa: S301 - made by SongDecoder in this run
        prepared = [item for item in items if isinstance(item, Prepared)]
        inferred = iter(infer_prepared(self.classifier, prepared, self.config.windows_per_batch) if prepared else [])
        columns: dict[str, list[Any]] = {key: [] for key in (*RECORD_COLUMNS, *_EXTRA_COLUMNS)}
        for item, path, library in zip(items, batch["path"], batch["library"]):
            outcome = next(inferred) if isinstance(item, Prepared) else item
            size, mtime = _file_info(str(path))
            record = outcome_record(path=str(path), library=str(library), size_bytes=size, mtime_ns=mtime,
                                    outcome=outcome, model_name=self.model_name, model_version=self.model_version)
            record.update(name=outcome.job.name, elapsed_s=float(outcome.elapsed_s),
                          error_type=outcome.error_type or "", reason=outcome.error or "")
            for key, value in record.items():
                columns[key].append(value)
        return columns


def _outcome_from_row(row: dict[str, Any]) -> Outcome:
    return Outcome(
        job=Job(source=str(row["path"]), name=str(row["name"])),
        result=json.loads(row["result"]) if row["result"] else None,
        sha256=row["sha256"] or None,
        size_bytes=int(row["size_bytes"]) or None,
        error_type=row["error_type"] or None,
        error=row["reason"] or None,
        elapsed_s=float(row["elapsed_s"]),
    )


class RayRunner:
    """Runs :class:`Job` streams on Ray Data; use as a context manager (starts or joins Ray).

    Parameters
    ----------
    config : EngineConfig
        ``workers`` decoder actors (default: :func:`~genrekit.batch.engine.pipeline_budget`'s
        share of each node) and up to one inference actor with ``threads`` threads per node's
        worth of decoders; a local instance gets ``workers + threads`` CPUs.
    address : str or None
        A cluster to join; ``None`` starts a local instance.
    workers : int or None
        Decoder actors; ``None``: ``config.workers`` where the config is pipelined, else the
        budget's share of every node.
    """

    def __init__(self, config: EngineConfig, *, address: str | None = None, workers: int | None = None) -> None:
        self.config = config
        self.address = address
        self.workers = workers if workers is not None else (config.workers if config.pipeline else None)
        self._started = False

    def __enter__(self) -> RayRunner:
        try:
            import ray
        except ImportError as error:
            raise GenrekitError("--engine ray needs Ray: pip install 'genrekit[ray]'") from error
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": self.config.verbose,
                                  "include_dashboard": False}
        if self.address is None:
            workers, threads = pipeline_budget(os.cpu_count() or 1, self.workers, self.config.threads)
            kwargs["num_cpus"] = workers + threads
        else:
            kwargs["address"] = self.address
        if not ray.is_initialized():
            ray.init(**kwargs)
            self._started = True
        ray.data.DataContext.get_current().enable_progress_bars = self.config.verbose
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def _quiet_logs(self) -> None:
        """Ray's and Ray Data's info lines off the terminal (our progress bar is there) unless verbose."""
        if self.config.verbose:
            return
        for name in list(logging.root.manager.loggerDict):
            if name == "ray" or name.startswith(("ray.", "ray_")):
                logging.getLogger(name).setLevel(logging.ERROR)

    def dataset(self, jobs: list[Job], *, library: str = "") -> Any:
        """The lazy Ray dataset of ``jobs``' records (paths only: the actors read the files)."""
        import ray

        self._quiet_logs()
        rows = []
        for job in jobs:
            if isinstance(job.source, bytes):
                raise GenrekitError("the Ray engine classifies files by path, not bytes")
            rows.append({"path": str(job.source), "name": job.name, "library": library})
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        node_cpus = max([float(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")] or [cpus])
        per_node, threads = pipeline_budget(max(1, int(node_cpus)), None, self.config.threads)
        workers = int(self.workers or max(1, per_node * round(cpus / max(node_cpus, 1.0))))
        n_inference = max(1, -(-workers // per_node))  # one inference actor per node's worth of decoders
        scale = min(1.0, cpus / (workers + n_inference * threads))  # a small cluster: fractions, so both stages fit
        config = replace(self.config, workers=workers, threads=threads, pipeline=True)
        n_blocks = max(1, min(len(rows), 4 * workers))
        decoded = ray.data.from_items(rows, override_num_blocks=n_blocks).map_batches(
            SongDecoder,
            fn_constructor_kwargs={"config": config},
            batch_size=SONGS_PER_RAY_BATCH,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=scale,
            batch_format="numpy",
        )
        return decoded.map_batches(
            BatchClassifier,
            fn_constructor_kwargs={"config": config},
            batch_size=max(1, config.windows_per_batch // 4),
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=n_inference),
            num_cpus=threads * scale,
            batch_format="numpy",
        )

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Classify ``jobs``, yielding outcomes as they come (not in job order), one Ray
        dataset per :data:`JOBS_PER_DATASET` songs so results are stored as the run goes."""
        chunk: list[Job] = []
        for job in jobs:
            chunk.append(job)
            if len(chunk) >= JOBS_PER_DATASET:
                yield from self._run_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._run_chunk(chunk)

    def _run_chunk(self, jobs: list[Job]) -> Iterator[Outcome]:
        for row in self.dataset(jobs).iter_rows():
            yield _outcome_from_row(row)
