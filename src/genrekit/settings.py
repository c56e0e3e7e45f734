"""genrekit's process-wide settings, read from ``GENREKIT_*`` environment variables when asked.

Every function reads the environment at call time (never at import), so a test or a
service that sets a variable sees it at once. The service's own settings (database, upload
limits, ...) are :class:`genrekit.service.config.ServiceSettings`, which reads the same
prefix when it is built.

========================== ============================================ =====================
variable                    meaning                                      default
========================== ============================================ =====================
``GENREKIT_MAX_DURATION_S`` longest audio decoded in one piece (s);      1200 (20 minutes)
                            ``none`` (or 0, inf, unlimited): no limit
``GENREKIT_CACHE_DIR``      cache root (features, legacy ONNX exports)   ``$XDG_CACHE_HOME/genrekit``
``GENREKIT_THREADS``        inference threads (ONNX Runtime)             CPUs available
``GENREKIT_DEVICE``         where the model runs: ``cpu`` or ``cuda``    ``cpu``
                            (ONNX Runtime's CUDA provider, from the
                            ``genrekit[gpu]`` extra)
``GENREKIT_DATA_DIR``       state of the service, scans and retraining   ``$XDG_DATA_HOME/genrekit``
``GENREKIT_DATABASE_URL``   SQLAlchemy URL of the database               ``genrekit.sqlite`` in
                                                                         the data directory
========================== ============================================ =====================
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from genrekit.errors import InvalidParameterError

ENV_PREFIX = "GENREKIT_"
MAX_DURATION_ENV = "GENREKIT_MAX_DURATION_S"
CACHE_DIR_ENV = "GENREKIT_CACHE_DIR"
THREADS_ENV = "GENREKIT_THREADS"
DEVICE_ENV = "GENREKIT_DEVICE"
DATA_DIR_ENV = "GENREKIT_DATA_DIR"
DATABASE_URL_ENV = "GENREKIT_DATABASE_URL"
DATABASE_FILENAME = "genrekit.sqlite"  # the default SQLite database, in the data directory
DEVICES = ("cpu", "cuda")
DEFAULT_MAX_DURATION_S = 1200.0  # s: 20 minutes
NO_LIMIT_WORDS = ("none", "0", "inf", "unlimited")  # spellings of "no duration limit"


def parse_duration_limit(raw: str, *, name: str = MAX_DURATION_ENV) -> float | None:
    """A duration limit in seconds from text: a number > 0, or ``None`` for "no limit".

    Raises
    ------
    InvalidParameterError
        Neither a positive number nor one of :data:`NO_LIMIT_WORDS`.
    """
    text = raw.strip().lower()
    if text in NO_LIMIT_WORDS:
        return None
    try:
        value = float(text)
    except ValueError as error:
        raise InvalidParameterError(f"{name} must be a number of seconds > 0 or 'none', got {raw!r}") from error
    if not value > 0:
        raise InvalidParameterError(f"{name} must be a number of seconds > 0 or 'none', got {raw!r}")
    return None if math.isinf(value) else value


def max_duration_s() -> float | None:
    """Longest audio (s) decoded in one piece by default; ``None``: no limit."""
    raw = os.environ.get(MAX_DURATION_ENV, "").strip()
    return parse_duration_limit(raw) if raw else DEFAULT_MAX_DURATION_S


def cache_dir() -> Path:
    """genrekit's cache root: ``$GENREKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/genrekit``, else ``~/.cache/genrekit``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "genrekit"


def inference_threads() -> int:
    """Threads an inference session uses: ``$GENREKIT_THREADS``, else the CPUs this process may run on."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError as error:
            raise InvalidParameterError(f"{THREADS_ENV} must be an integer >= 1, got {raw!r}") from error
        if value < 1:
            raise InvalidParameterError(f"{THREADS_ENV} must be an integer >= 1, got {raw!r}")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_device(value: str, *, name: str = "device") -> str:
    """A device name, lower-cased: one of :data:`DEVICES`.

    Raises
    ------
    InvalidParameterError
        Another value.
    """
    text = str(value).strip().lower()
    if text not in DEVICES:
        raise InvalidParameterError(f"{name} must be one of {', '.join(DEVICES)}, got {value!r}")
    return text


def device() -> str:
    """Where inference runs: ``$GENREKIT_DEVICE`` (``cpu`` or ``cuda``), else ``cpu``."""
    raw = os.environ.get(DEVICE_ENV, "").strip()
    return check_device(raw, name=DEVICE_ENV) if raw else "cpu"


def default_data_dir() -> Path:
    """Directory of the service's state: ``$XDG_DATA_HOME/genrekit`` or ``~/.local/share/genrekit``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "genrekit"


def sqlite_url_in(data_dir: Path) -> str:
    """The SQLAlchemy URL of the default SQLite database file in ``data_dir``."""
    return f"sqlite:///{(data_dir / DATABASE_FILENAME).as_posix()}"


def database_url() -> str:
    """The database URL: ``GENREKIT_DATABASE_URL``, else the SQLite file in ``GENREKIT_DATA_DIR``
    (default :func:`default_data_dir`); the same answer as the service's settings give."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    data_dir = os.environ.get(DATA_DIR_ENV)
    return sqlite_url_in(Path(data_dir) if data_dir else default_data_dir())
