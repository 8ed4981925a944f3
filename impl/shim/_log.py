"""The serving shim's log: logrus text lines into the bundle's ``log`` FIFO.

containerd opens the FIFO's read end before ``start`` and copies whatever
arrives to its own stderr, so lines must look like containerd's own
(``time="…" level=info msg="…" key=value``). Writes never block the event
loop: the FIFO is non-blocking and a line that does not fit is dropped.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from typing import Final

__all__ = ["LOG_FIFO", "FifoHandler", "LogrusFormatter", "logrus_quote", "open_log_fifo", "setup_logging"]

LOG_FIFO: Final = "log"
"""The FIFO's name inside the bundle."""

_LEVELS: Final = {
    logging.CRITICAL: "fatal",
    logging.ERROR: "error",
    logging.WARNING: "warning",
    logging.INFO: "info",
    logging.DEBUG: "debug",
}

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


def _level_name(levelno: int) -> str:
    for threshold, name in _LEVELS.items():
        if levelno >= threshold:
            return name
    return "trace"


def _safe(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in "-._/@^+")


def logrus_quote(value: str) -> str:
    """``value`` as logrus writes it: bare if every character is safe, else Go-quoted."""
    if value and all(_safe(c) for c in value):
        return value
    out = ['"']
    for c in value:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif not c.isprintable():
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _timestamp(created: float) -> str:
    seconds = int(created)
    nanos = int(round((created - seconds) * 1e9))
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


class LogrusFormatter(logging.Formatter):
    """containerd's format: fixed-width nanosecond UTC time, level, msg, sorted fields.

    ``fields`` are added to every line (the runner adds ``runtime``); fields
    passed with ``extra=`` and an exception (as ``error``) are added per line.
    """

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        super().__init__()
        self._fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = dict(self._fields)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                fields[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            fields.setdefault("error", str(record.exc_info[1]) or type(record.exc_info[1]).__name__)
        parts = [
            f'time="{_timestamp(record.created)}"',
            f"level={_level_name(record.levelno)}",
            f"msg={logrus_quote(record.getMessage())}",
        ]
        parts += [f"{k}={logrus_quote(str(v))}" for k, v in sorted(fields.items())]
        return " ".join(parts)


class FifoHandler(logging.Handler):
    """Writes each formatted line to a non-blocking fd; drops lines it cannot write."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
            os.write(self.fd, data)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EPIPE, errno.EBADF):
                self.handleError(record)
        except Exception:
            self.handleError(record)


def open_log_fifo(path: str) -> int | None:
    """Open the FIFO's write end without blocking, or None if it is missing or has no reader."""
    try:
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            return None
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None


def setup_logging(bundle: str, runtime_id: str, *, debug: bool) -> int | None:
    """Send the root logger to ``<bundle>/log`` in logrus format; returns the fd.

    The fd is also made the process's stderr, so tracebacks and warnings
    reach containerd's log too. Without a FIFO (or its reader) lines go to
    stderr, which is ``/dev/null`` in a child started by ``start``.
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    formatter = LogrusFormatter({"runtime": runtime_id})
    fd = open_log_fifo(os.path.join(bundle, LOG_FIFO))
    handler: logging.Handler
    if fd is None:
        handler = logging.StreamHandler()  # stderr: /dev/null when started by ``start``
    else:
        os.dup2(fd, 2)
        handler = FifoHandler(fd)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return fd
