"""The ``runc`` command line, as containerd's runc shim drives it.

Every command runs with ``--root /run/containerd/runc/<namespace>`` (the
runc shim's state root, so ``runc list`` shows both shims' containers) and
``--log <bundle>/log.json --log-format json``; a failure's message is the
last error runc logged there. Commands are awaited through the ``Reaper``,
never through asyncio's child watcher.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from impl.shim import Reaper

__all__ = ["RUNC_ROOT", "Runc", "RuncError", "delete_force_sync"]

RUNC_ROOT = "/run/containerd/runc"
RUNC_BINARY = "runc"


class RuncError(Exception):
    """A runc command exited non-zero; the message is runc's own error."""

    def __init__(self, command: str, status: int, message: str) -> None:
        super().__init__(f"runc {command} failed (exit status {status}): {message}")
        self.command = command
        self.status = status
        self.runc_message = message


def _last_error(log_path: str, offset: int) -> str:
    """The last error-level message runc appended to its JSON log after ``offset``."""
    import json

    from impl._jsonvalue import is_object

    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return "no log"
    message = ""
    for line in data.splitlines():
        try:
            entry: object = json.loads(line)
        except ValueError:
            continue
        if is_object(entry) and entry.get("level") in ("error", "fatal"):
            message = str(entry.get("msg", ""))
    return message or data.decode(errors="replace").strip()[-500:] or "no error logged"


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class Runc:
    """One container's runc commands (``root`` is per namespace)."""

    def __init__(
        self,
        reaper: Reaper,
        *,
        root: str,
        log_path: str,
        binary: str = RUNC_BINARY,
        systemd_cgroup: bool = False,
        no_pivot: bool = False,
        no_new_keyring: bool = False,
    ) -> None:
        self._reaper = reaper
        self.root = root
        self.log_path = log_path
        self.binary = binary
        self.systemd_cgroup = systemd_cgroup
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring

    def _argv(self, *args: str) -> list[str]:
        systemd = ["--systemd-cgroup"] if self.systemd_cgroup else []
        return [self.binary, "--root", self.root, "--log", self.log_path, "--log-format", "json", *systemd, *args]

    async def _run(
        self,
        command: str,
        args: Sequence[str],
        *,
        stdio: tuple[int, int, int] | None = None,
        capture: bool = False,
        cwd: str | None = None,
        input_fd: int | None = None,
    ) -> bytes:
        offset = _size(self.log_path)
        stdin, stdout, stderr = stdio if stdio is not None else (input_fd, None, None)
        started = time.monotonic()
        status, out = await self._reaper.run(
            self._argv(command, *args), stdin=stdin, stdout=stdout, stderr=stderr, capture=capture, cwd=cwd
        )
        import logging  # not at import time: the ``delete`` action imports this module

        logging.getLogger("impl.pyrunc").debug(
            "runc %s %s: exit %d after %.1f ms", command, args[-1], status, (time.monotonic() - started) * 1e3
        )
        if status != 0:
            raise RuncError(command, status, _last_error(self.log_path, offset))
        return out

    async def create(
        self, id: str, *, bundle: str, pid_file: str, stdio: tuple[int, int, int], console_socket: str = ""
    ) -> int:
        """``runc create``; the container's stdio are ``stdio`` (or a pty sent to ``console_socket``). Returns the init pid."""
        flags = [*(["--no-pivot"] if self.no_pivot else []), *(["--no-new-keyring"] if self.no_new_keyring else [])]
        console = ["--console-socket", console_socket] if console_socket else []
        await self._run(
            "create", [*flags, "--bundle", bundle, "--pid-file", pid_file, *console, id], stdio=stdio, cwd=bundle
        )
        return read_pid(pid_file)

    async def start(self, id: str) -> None:
        await self._run("start", [id])

    async def kill(self, id: str, signal: int, *, all: bool = False) -> None:
        await self._run("kill", [*(["--all"] if all else []), id, str(signal)])

    async def delete(self, id: str, *, force: bool = False) -> None:
        await self._run("delete", [*(["--force"] if force else []), id])

    async def exec(
        self, id: str, *, process_file: str, pid_file: str, stdio: tuple[int, int, int], console_socket: str = ""
    ) -> int:
        """``runc exec --detach``; returns the new process's pid."""
        console = ["--console-socket", console_socket] if console_socket else []
        await self._run(
            "exec", ["--process", process_file, "--detach", "--pid-file", pid_file, *console, id], stdio=stdio
        )
        return read_pid(pid_file)

    async def pause(self, id: str) -> None:
        await self._run("pause", [id])

    async def resume(self, id: str) -> None:
        await self._run("resume", [id])

    async def update(self, args: Sequence[str], stdin: bytes) -> None:
        """``runc update`` with ``args`` (ending in the id) and ``stdin`` (the resources JSON)."""
        fd = os.memfd_create("runc-update", os.MFD_CLOEXEC)
        try:
            os.write(fd, stdin)
            os.lseek(fd, 0, os.SEEK_SET)
            await self._run(args[0], args[1:], input_fd=fd)
        finally:
            os.close(fd)

    async def ps(self, id: str) -> list[int]:
        import json

        from impl._jsonvalue import is_array

        out = await self._run("ps", ["--format", "json", id], capture=True)
        pids: object = json.loads(out or b"[]")
        if not is_array(pids) or not all(isinstance(p, int) for p in pids):
            raise RuncError("ps", 0, f"unexpected output {out[:200]!r}")
        return [p for p in pids if isinstance(p, int)]


def read_pid(path: str) -> int:
    with open(path) as f:
        text = f.read().strip()
    try:
        return int(text)
    except ValueError:
        raise RuncError("pid-file", 0, f"{path} holds {text!r}, not a pid") from None


def delete_force_sync(
    root: str, id: str, *, log_path: str, binary: str = RUNC_BINARY, timeout: float = 4.0
) -> None:
    """``runc delete --force`` without an event loop (the ``delete`` action).

    Best effort and bounded: skipped when runc has no state for ``id`` (the
    usual case: the serving shim deleted it), killed after ``timeout``.
    Spawned directly (no ``subprocess`` import) to keep the action light.
    """
    if not os.path.exists(os.path.join(root, id)):
        return
    argv = [binary, "--root", root, "--log", log_path, "--log-format", "json", "delete", "--force", id]
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        try:
            spawn = os.posix_spawn if os.sep in binary else os.posix_spawnp
            pid = spawn(binary, argv, os.environ, file_actions=actions)
        except OSError:
            return
    finally:
        os.close(devnull)
    deadline = time.monotonic() + timeout
    delay = 0.001
    while os.waitpid(pid, os.WNOHANG)[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return
        time.sleep(delay)  # no SIGCHLD machinery in a one-shot process: poll, backing off
        delay = min(delay * 2, 0.02)
