"""impl.pywasm: ``containerd-shim-pywasm-v1``, WebAssembly (WASI preview 1) modules as containers.

The spec's ``process.args[0]`` names a module inside the rootfs; each
container and each exec runs it in a forked child process with wasmtime.
"""
