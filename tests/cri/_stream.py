"""Streaming exec through CRI's streaming server, over WebSocket (``v4.channel.k8s.io``).

``Exec`` answers a URL on containerd's streaming server; kubectl speaks
SPDY or WebSocket to it. WebSocket is the one with a maintained Python
client: every binary message starts with its channel byte (0 stdin,
1 stdout, 2 stderr, 3 status as JSON, 4 terminal size as JSON). The status
message carries the exit code of a failed command; success is
``"status": "Success"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

PROTOCOL: Final = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, STATUS, RESIZE = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class StreamResult:
    stdout: bytes
    stderr: bytes
    exit_code: int
    status: str
    """The status message, as received (for failure reports)."""


def exit_code(status: str) -> int:
    """The exit code in a v4 status message (0 for Success)."""
    if not status:
        raise ValueError("the stream closed without a status message")
    doc = json.loads(status)
    if doc.get("status") == "Success":
        return 0
    for cause in (doc.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    raise ValueError(f"status without an exit code: {status}")


def run_exec(url: str, *, resize: tuple[int, int] | None = None, timeout: float = 30) -> StreamResult:
    """Attach to an exec URL, optionally send a terminal size (columns, rows), collect its output."""
    ws_url = "ws" + url.removeprefix("http") if url.startswith("http") else url
    out, err = bytearray(), bytearray()
    status = ""
    with connect(ws_url, subprotocols=[PROTOCOL], open_timeout=timeout, close_timeout=5) as ws:  # type: ignore[list-item]
        if resize is not None:
            ws.send(bytes([RESIZE]) + json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
        while True:
            try:
                msg = ws.recv(timeout=timeout)
            except ConnectionClosed:
                break
            except TimeoutError:
                raise AssertionError(f"exec stream {url}: nothing for {timeout}s; so far {bytes(out)!r}") from None
            data = msg.encode() if isinstance(msg, str) else msg
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel == STDOUT:
                out += payload
            elif channel == STDERR:
                err += payload
            elif channel == STATUS:
                status += payload.decode()
    return StreamResult(bytes(out), bytes(err), exit_code(status), status)
