"""The serving shim's logrus-format log and its never-blocking FIFO handler."""

from __future__ import annotations

import ast
import logging
import os
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from impl.shim._log import FifoHandler, LogrusFormatter, logrus_quote, open_log_fifo


@given(st.text(st.characters(codec="utf-8")))
def test_quote_round_trips_through_a_string_literal(value: str) -> None:
    quoted = logrus_quote(value)
    if quoted == value:
        assert value and re.fullmatch(r"[A-Za-z0-9._/@^+-]+", value)
    else:
        assert quoted.startswith('"') and quoted.endswith('"') and "\n" not in quoted
        assert ast.literal_eval(quoted) == value  # Go's %q escapes are Python's too


def _record(msg: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("impl.shim", level, __file__, 1, msg, None, None)
    record.created = 1_790_000_000.5
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_line_format() -> None:
    fmt = LogrusFormatter({"runtime": "io.containerd.x.v1"})
    line = fmt.format(_record("shim serving", id="c1", namespace="default"))
    assert line == (
        'time="2026-09-21T14:13:20.500000000Z" level=info msg="shim serving" '
        "id=c1 namespace=default runtime=io.containerd.x.v1"
    )


def test_levels_and_errors() -> None:
    fmt = LogrusFormatter()
    assert " level=warning " in fmt.format(_record("w", logging.WARNING))
    assert " level=fatal " in fmt.format(_record("c", logging.CRITICAL))
    assert " level=trace " in fmt.format(_record("t", 5))
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        record = _record("failed", logging.ERROR)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    line = fmt.format(record)
    assert line.endswith('error="bad thing"') and " level=error msg=failed " in line


def test_fifo_without_reader_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "log")
    assert open_log_fifo(str(tmp_path / "log")) is None
    assert open_log_fifo(str(tmp_path / "missing")) is None
    (tmp_path / "file").write_text("")
    assert open_log_fifo(str(tmp_path / "file")) is None


def test_full_fifo_drops_lines_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "log"
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a reader that never reads
    fd = open_log_fifo(str(path))
    assert fd is not None
    errors: list[logging.LogRecord] = []

    class Recording(FifoHandler):
        def handleError(self, record: logging.LogRecord) -> None:
            errors.append(record)

    handler = Recording(fd)
    handler.setFormatter(LogrusFormatter())
    try:
        for i in range(5000):  # ~400 KiB: far beyond the 64 KiB pipe buffer
            handler.emit(_record(f"line {i} " + "x" * 64))
        data = os.read(reader, 1 << 20)
        assert data.startswith(b'time="') and errors == []
        assert 0 < data.count(b"\n") < 5000
    finally:
        os.close(fd)
        os.close(reader)
