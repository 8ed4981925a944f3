"""impl.shim: the SDK for containerd shim v2 runtimes written in Python.

Nothing here knows a particular runtime (``impl.pyrunc`` is the runc one).
A runtime's ``main`` is ``run(runtime_id, init, options=ShimOptions(...))``:
it parses containerd's flags and runs ``start``, ``delete`` or the serving
process (``ShimOptions`` make the first two cheap: a forked or zygote-made
serving process, a ``cleanup`` without ``init``). ``init`` returns a
``shimtypes.Shim``; the usual one is a ``TaskShim``, which serves the whole
task API (``ProcessTaskService``: processes by id, states, exits, ``Wait``,
stdio, rootfs mounts, events in containerd's order, ``impl.errdefs`` kinds
that the ttrpc server maps to codes) around the runtime's ``ProcessOps``: how to create, start,
exec, signal and delete a process.

Building blocks, usable on their own: ``open_stdio``/``Stdio`` (containerd's
FIFOs, ``ProcessIO`` being the seam for consoles), ``Reaper`` (subreaper
exits by pid or by subscription), ``mount_all``/``unmount_all``/
``cleanup_bundle`` (rootfs), ``read_spec``/``rootfs_path``/``join_in_root``
(the bundle's spec, paths resolved inside the rootfs), ``enter_child`` (a fork
of the shim made fit to run container code), ``encode_delete_response``,
address and flag helpers, ``impl.shim.zygote`` (the fork server).

Importing this package is cheap (no asyncio, typing or protobuf): every
name is imported on first use, so ``start`` and ``delete`` load only what
they run.
"""

# Everything is imported on first use: ``start`` and ``delete`` import only
# what they run (not even ``typing``, dear to import). mypy treats this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._runner import run as run
    from ._options import (
        SERVING_MODES as SERVING_MODES,
        ShimOptions as ShimOptions,
    )
    from ._context import (
        TTRPC_ADDRESS_ENV as TTRPC_ADDRESS_ENV,
        shim_context as shim_context,
    )
    from ._start import start_serving_shim as start_serving_shim
    from ._flags import (
        FlagError as FlagError,
        ShimFlags as ShimFlags,
        parse_flags as parse_flags,
    )
    from ._address import (
        ADDRESS_FILE as ADDRESS_FILE,
        SOCKET_DIR as SOCKET_DIR,
        SOCKET_PATH_LIMIT as SOCKET_PATH_LIMIT,
        AddressInUseError as AddressInUseError,
        bind_socket as bind_socket,
        can_connect as can_connect,
        read_address as read_address,
        remove_socket as remove_socket,
        socket_address as socket_address,
        socket_path as socket_path,
        write_address as write_address,
    )
    from ._process import (
        LISTENER_FD as LISTENER_FD,
        program_command as program_command,
    )
    from ._delete_wire import encode_delete_response as encode_delete_response
    from ._cleanup import (
        KILLED_STATUS as KILLED_STATUS,
        cleanup_bundle as cleanup_bundle,
        unmount_rootfs as unmount_rootfs,
    )
    from ._mountinfo import is_mounted as is_mounted
    from ._forked import enter_child as enter_child
    from ._bundle import (
        join_in_root as join_in_root,
        parse_spec as parse_spec,
        read_spec as read_spec,
        rootfs_path as rootfs_path,
    )
    from ._bootstrap import (
        OPTIONS_FILE as OPTIONS_FILE,
        read_fields as read_fields,
        read_options_file as read_options_file,
    )
    from ._cgroup import join_cgroup as join_cgroup
    from ._identifiers import validate_id as validate_id
    from ._serve import (
        SHUTDOWN_GRACE as SHUTDOWN_GRACE,
        TaskPlugin as TaskPlugin,
        set_child_subreaper as set_child_subreaper,
        shim_plugins as shim_plugins,
    )
    from ._log import LogrusFormatter as LogrusFormatter
    from ._publisher import (
        RemotePublisher as RemotePublisher,
        pack_event as pack_event,
    )
    from ._reaper import (
        Exit as Exit,
        Reaper as Reaper,
        exit_status as exit_status,
    )
    from ._console import (
        Console as Console,
        ConsoleError as ConsoleError,
        ConsoleSocket as ConsoleSocket,
        TerminalIO as TerminalIO,
        resize_pty as resize_pty,
    )
    from ._stdio import (
        ConsoleIO as ConsoleIO,
        ProcessIO as ProcessIO,
        StdinPump as StdinPump,
        Stdio as Stdio,
        open_stdio as open_stdio,
    )
    from ._mount import (
        MountSpec as MountSpec,
        ParsedOptions as ParsedOptions,
        mount_all as mount_all,
        mount_one as mount_one,
        parse_options as parse_options,
        unmount_all as unmount_all,
    )
    from ._ops import (
        Process as Process,
        ProcessOps as ProcessOps,
        ProcessState as ProcessState,
        SupportsPause as SupportsPause,
        SupportsPids as SupportsPids,
        SupportsStats as SupportsStats,
        SupportsTerminal as SupportsTerminal,
        SupportsExited as SupportsExited,
        SupportsUpdate as SupportsUpdate,
    )
    from ._task import (
        DELETE_EXIT_TIMEOUT as DELETE_EXIT_TIMEOUT,
        ProcessTaskService as ProcessTaskService,
    )
    from ._task_shim import TaskShim as TaskShim

_LAZY = {
    # Running a shim.
    "run": "._runner",
    "SERVING_MODES": "._options",
    "ShimOptions": "._options",
    "TTRPC_ADDRESS_ENV": "._context",
    "shim_context": "._context",
    "start_serving_shim": "._start",
    "FlagError": "._flags",
    "ShimFlags": "._flags",
    "parse_flags": "._flags",
    "ADDRESS_FILE": "._address",
    "SOCKET_DIR": "._address",
    "SOCKET_PATH_LIMIT": "._address",
    "AddressInUseError": "._address",
    "bind_socket": "._address",
    "can_connect": "._address",
    "read_address": "._address",
    "remove_socket": "._address",
    "socket_address": "._address",
    "socket_path": "._address",
    "write_address": "._address",
    "LISTENER_FD": "._process",
    "program_command": "._process",
    "encode_delete_response": "._delete_wire",
    "KILLED_STATUS": "._cleanup",
    "cleanup_bundle": "._cleanup",
    "unmount_rootfs": "._cleanup",
    "is_mounted": "._mountinfo",
    "enter_child": "._forked",
    "join_in_root": "._bundle",
    "parse_spec": "._bundle",
    "read_spec": "._bundle",
    "rootfs_path": "._bundle",
    "OPTIONS_FILE": "._bootstrap",
    "read_fields": "._bootstrap",
    "read_options_file": "._bootstrap",
    "join_cgroup": "._cgroup",
    "validate_id": "._identifiers",
    # Serving-side names (they import asyncio, and some protobuf).
    "SHUTDOWN_GRACE": "._serve",
    "TaskPlugin": "._serve",
    "set_child_subreaper": "._serve",
    "shim_plugins": "._serve",
    "LogrusFormatter": "._log",
    "RemotePublisher": "._publisher",
    "pack_event": "._publisher",
    "Exit": "._reaper",
    "Reaper": "._reaper",
    "exit_status": "._reaper",
    "Console": "._console",
    "ConsoleError": "._console",
    "ConsoleSocket": "._console",
    "TerminalIO": "._console",
    "resize_pty": "._console",
    "ConsoleIO": "._stdio",
    "ProcessIO": "._stdio",
    "StdinPump": "._stdio",
    "Stdio": "._stdio",
    "open_stdio": "._stdio",
    "MountSpec": "._mount",
    "ParsedOptions": "._mount",
    "mount_all": "._mount",
    "mount_one": "._mount",
    "parse_options": "._mount",
    "unmount_all": "._mount",
    "Process": "._ops",
    "ProcessOps": "._ops",
    "ProcessState": "._ops",
    "SupportsPause": "._ops",
    "SupportsPids": "._ops",
    "SupportsStats": "._ops",
    "SupportsTerminal": "._ops",
    "SupportsExited": "._ops",
    "SupportsUpdate": "._ops",
    "DELETE_EXIT_TIMEOUT": "._task",
    "ProcessTaskService": "._task",
    "TaskShim": "._task_shim",
}

__all__ = [
    "ADDRESS_FILE",
    "AddressInUseError",
    "Console",
    "ConsoleError",
    "ConsoleIO",
    "ConsoleSocket",
    "DELETE_EXIT_TIMEOUT",
    "Exit",
    "FlagError",
    "KILLED_STATUS",
    "LISTENER_FD",
    "LogrusFormatter",
    "MountSpec",
    "OPTIONS_FILE",
    "ParsedOptions",
    "Process",
    "ProcessIO",
    "ProcessOps",
    "ProcessState",
    "ProcessTaskService",
    "Reaper",
    "RemotePublisher",
    "SERVING_MODES",
    "SHUTDOWN_GRACE",
    "SOCKET_DIR",
    "SOCKET_PATH_LIMIT",
    "ShimFlags",
    "ShimOptions",
    "StdinPump",
    "Stdio",
    "SupportsPause",
    "SupportsPids",
    "SupportsStats",
    "SupportsTerminal",
    "SupportsExited",
    "SupportsUpdate",
    "TTRPC_ADDRESS_ENV",
    "TaskPlugin",
    "TaskShim",
    "TerminalIO",
    "bind_socket",
    "can_connect",
    "cleanup_bundle",
    "encode_delete_response",
    "enter_child",
    "exit_status",
    "is_mounted",
    "join_in_root",
    "join_cgroup",
    "mount_all",
    "mount_one",
    "open_stdio",
    "pack_event",
    "parse_flags",
    "parse_options",
    "parse_spec",
    "program_command",
    "read_address",
    "read_spec",
    "read_fields",
    "read_options_file",
    "remove_socket",
    "rootfs_path",
    "resize_pty",
    "run",
    "set_child_subreaper",
    "shim_context",
    "shim_plugins",
    "socket_address",
    "socket_path",
    "start_serving_shim",
    "unmount_all",
    "unmount_rootfs",
    "validate_id",
    "write_address",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'impl.shim' has no attribute {name!r}")
    value: object = getattr(__import__(module[1:], globals(), level=1, fromlist=(name,)), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
