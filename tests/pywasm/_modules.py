"""Test modules, written in WebAssembly text and compiled here with wasmtime.

Each function returns the text of one WASI preview 1 module; ``install``
compiles it into a rootfs. Shared by the child-runner and end-to-end tests.
"""

from __future__ import annotations

import os
from pathlib import Path

_IMPORTS = """
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 4)
"""

# Memory map: 0..8 sizes, 16..24 iovec, 24 nwritten/nread, 32 opened fd,
# 64.. constant text, 1024.. pointer array, 65536.. buffer (up to 196608 bytes).
_HELPERS = """
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 16) (i32.const 1) (i32.const 24))))
  (func $lines (param $ptr i32) (param $len i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.eqz (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (then (i32.store8 (i32.add (local.get $ptr) (local.get $i)) (i32.const 10))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (call $write (i32.const 1) (local.get $ptr) (local.get $len)))
  (func $copy (param $from i32)
    (block $eof (loop $more
      (i32.store (i32.const 16) (i32.const 65536))
      (i32.store (i32.const 20) (i32.const 65536))
      (if (call $fd_read (local.get $from) (i32.const 16) (i32.const 1) (i32.const 24))
        (then (call $proc_exit (i32.const 99))))
      (br_if $eof (i32.eqz (i32.load (i32.const 24))))
      (call $write (i32.const 1) (i32.const 65536) (i32.load (i32.const 24)))
      (br $more))))
"""


def _wat_string(data: bytes) -> str:
    return "".join(f"\\{b:02x}" for b in data)


def _module(body: str, data: bytes = b"") -> str:
    segment = f'(data (i32.const 64) "{_wat_string(data)}")' if data else ""
    return f"(module {_IMPORTS} {_HELPERS} {segment}\n (func (export \"_start\")\n{body}))"


def echo() -> str:
    """Prints its args, then its environment, one per line."""
    return _module("""
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 1024) (i32.const 65536)))
    (call $lines (i32.const 65536) (i32.load (i32.const 4)))
    (drop (call $environ_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $environ_get (i32.const 1024) (i32.const 65536)))
    (call $lines (i32.const 65536) (i32.load (i32.const 4)))""")


def say(out: bytes = b"", err: bytes = b"", then: str = "return") -> str:
    """Writes ``out`` to stdout and ``err`` to stderr, then ``return``s,
    ``exit N``s, ``trap``s (unreachable) or ``loop``s forever."""
    body = ""
    if out:
        body += f"(call $write (i32.const 1) (i32.const 64) (i32.const {len(out)}))\n"
    if err:
        body += f"(call $write (i32.const 2) (i32.const {64 + len(out)}) (i32.const {len(err)}))\n"
    if then.startswith("exit "):
        body += f"(call $proc_exit (i32.const {int(then[5:])}))\n"
    elif then == "trap":
        body += "(unreachable)\n"
    elif then == "loop":
        body += "(loop $forever (br $forever))\n"
    elif then != "return":
        raise ValueError(then)
    return _module(body, out + err)


def cat(path: str, dirfd: int = 3) -> str:
    """Copies the file ``path`` (relative to the preopened ``dirfd``) to stdout;
    exits 100 + errno when it cannot open it."""
    raw = path.encode()
    return _module(
        f"""
    (local $errno i32)
    (local.set $errno (call $path_open (i32.const {dirfd}) (i32.const 1) (i32.const 64) (i32.const {len(raw)})
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 32)))
    (if (local.get $errno) (then (call $proc_exit (i32.add (i32.const 100) (local.get $errno)))))
    (call $copy (i32.load (i32.const 32)))""",
        raw,
    )


def cat_stdin() -> str:
    """Copies stdin to stdout until EOF."""
    return _module("(call $copy (i32.const 0))")


def flood(chunks: int, status: int) -> str:
    """Writes ``chunks`` times 64 KiB of ``a`` to stdout, then exits with ``status``."""
    return _module(f"""
    (local $i i32)
    (memory.fill (i32.const 65536) (i32.const 97) (i32.const 65536))
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (i32.const {chunks})))
      (call $write (i32.const 1) (i32.const 65536) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more)))
    (call $proc_exit (i32.const {status}))""")


def grow(pages: int) -> str:
    """Grows its memory (4 pages, 256 KiB) by ``pages``: exits 5 when refused, else 0."""
    return _module(f"""
    (if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then (call $proc_exit (i32.const 5))))""")


def install(rootfs: Path, name: str, wat: str) -> Path:
    """Compile ``wat`` to ``rootfs/name`` (binary WebAssembly)."""
    import wasmtime

    path = rootfs / name.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wasmtime.wat2wasm(wat))
    os.chmod(path, 0o755)
    return path
