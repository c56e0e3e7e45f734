"""One pool for every crash-surviving batch of work (see :mod:`genrekit.pool.workers`)."""

from genrekit.pool.workers import CRASHED, WorkerPool, check_n_jobs, one_thread_per_worker, run_tasks

__all__ = ["CRASHED", "WorkerPool", "check_n_jobs", "one_thread_per_worker", "run_tasks"]
