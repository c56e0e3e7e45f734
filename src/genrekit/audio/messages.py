"""The MP3 decoder's own messages go to logging, not to the process's stderr.

libsndfile decodes MP3 with libmpg123, which prints notes about damaged frames straight to
file descriptor 2 (``[src/libmpg123/layer3.c:...] error: part2_3_length ... too large``,
``Note: Trying to resync...``): they would reach a server's log and a Python user's terminal
for every slightly damaged file, and no libsndfile setting turns them off. The first time an
MP3 is opened with libsndfile, :func:`route_decoder_messages` puts a pipe on descriptor 2 and
a thread that passes every line on to the real stderr, except libmpg123's, which it logs at
debug level on the ``genrekit.audio.decoder`` logger. At exit the pipe is drained and the
real stderr put back. ``GENREKIT_DECODER_MESSAGES=stderr`` keeps them on stderr.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading

LOGGER = logging.getLogger("genrekit.audio.decoder")
ENV = "GENREKIT_DECODER_MESSAGES"
# libmpg123's lines: "[src/libmpg123/<file>.c:<function>():<line>] error: ...", and its resync notes
DECODER_LINE = re.compile(
    rb"^(\[[^\]\n]*mpg123[^\]\n]*\]"
    rb"|Note: (Illegal Audio-MPEG-Header|Trying to resync|Skipped \d+ bytes in input|Hit end of)"
    rb"|Warning: (Encountered more data after announced end|Big change))"
)
STDERR_FD = 2

_lock = threading.Lock()
_state: dict[str, object] = {}


def is_decoder_line(line: bytes) -> bool:
    """Whether a stderr line is one of libmpg123's messages."""
    return DECODER_LINE.match(line) is not None


def _pump(read_fd: int, real_fd: int) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            passed = []
            for line in lines:
                if is_decoder_line(line):
                    LOGGER.debug("%s", line.decode("utf-8", "replace").rstrip())
                else:
                    passed.append(line + b"\n")
            if passed:
                os.write(real_fd, b"".join(passed))
        if pending:
            os.write(real_fd, pending)


def _restore() -> None:
    thread = _state.get("thread")
    real_fd = _state.get("real_fd")
    if not isinstance(thread, threading.Thread) or not isinstance(real_fd, int):
        return
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    try:
        ours = os.fstat(STDERR_FD).st_ino == _state.get("pipe_inode")
    except OSError:
        ours = False
    if ours:  # someone else (a test runner's capture) may have replaced descriptor 2 since: leave theirs
        os.dup2(real_fd, STDERR_FD)  # closes the pipe's last write end: the thread drains it and stops
        thread.join(timeout=2.0)
    _state.clear()


def route_decoder_messages() -> bool:
    """Filter libmpg123's lines out of descriptor 2 into logging (once per process).

    Returns whether the filter is on (``False`` where ``GENREKIT_DECODER_MESSAGES=stderr``, or
    where descriptor 2 cannot be replaced).
    """
    if os.environ.get(ENV, "").strip().lower() == "stderr":
        return False
    with _lock:
        if _state:
            return True
        try:
            real_fd = os.dup(STDERR_FD)
            read_fd, write_fd = os.pipe()
        except OSError:
            return False
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        pipe_inode = os.fstat(write_fd).st_ino
        os.dup2(write_fd, STDERR_FD)
        os.close(write_fd)
        os.set_inheritable(STDERR_FD, True)
        thread = threading.Thread(target=_pump, args=(read_fd, real_fd), name="genrekit-decoder-messages", daemon=True)
        thread.start()
        _state.update(thread=thread, real_fd=real_fd, pipe_inode=pipe_inode)
        atexit.register(_restore)
        return True
