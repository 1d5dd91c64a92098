"""Cap numpy's own BLAS thread pool (OpenBLAS).

numpy's OpenBLAS starts a thread per core at import and, after each threaded call, lets them
busy-wait for more work. The runtime's BLAS calls are small (the content encoder's mel filterbank:
a [T, 201] × [201, 80] product), so the extra threads bring nothing: at ``--threads 1`` the learned
stage's process spent ~0.03 CPU s per second of audio in the second OpenBLAS thread (~0.012 at
``--threads 2``), competing with the voice for the machine's cores, and one thread was faster for
that product (0.17 vs 0.26 ms, bit-identical results; docs/learned-stage.md, "Streaming and cost").
So the content encoder sets it to one thread when it loads. ``onnxruntime`` and CTranslate2 take
their thread counts from the loaders; this is the one pool they do not reach.

The limit is process-wide (OpenBLAS has one pool) and touches only the OpenBLAS that numpy's wheel
bundles (``numpy.libs``), not one another package brings (PyTorch's on aarch64, for training).
Linux only (the loaded libraries are read from ``/proc/self/maps``); elsewhere, or without a bundled
OpenBLAS, it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

_LOGGER = logging.getLogger(__name__)
_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_lock = threading.Lock()
_limit: int | None = None


def limit_blas_threads(threads: int | None) -> bool:
    """Set numpy's OpenBLAS pool to ``threads`` threads (None: leave it); True when it was set.

    Only numpy's import loads OpenBLAS, so call it after importing numpy. Failures are logged at
    debug level and return False: the limit saves CPU, it never changes a result.
    """
    global _limit
    if threads is None or threads < 1:
        return False
    with _lock:
        if _limit == threads:
            return True
        done = False
        for path in _openblas_libraries():
            try:
                library = ctypes.CDLL(path)
            except OSError as exc:
                _LOGGER.debug("cannot open %s: %s", path, exc)
                continue
            setter = next((getattr(library, n) for n in _SETTERS if hasattr(library, n)), None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                setter(int(threads))
                done = True
        if done:
            _limit = threads
        return done


def _openblas_libraries() -> list[str]:
    """Paths of numpy's bundled OpenBLAS libraries this process has loaded (Linux), in load order."""
    import numpy

    package = os.path.dirname(os.path.realpath(numpy.__file__))
    homes = (package + os.sep, package + ".libs" + os.sep)
    try:
        with open(f"/proc/{os.getpid()}/maps", encoding="utf-8", errors="replace") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    paths: list[str] = []
    for line in lines:
        fields = line.split(maxsplit=5)
        path = fields[5] if len(fields) == 6 else ""
        if "openblas" in os.path.basename(path).lower() and path.startswith(homes) and path not in paths:
            paths.append(path)
    return paths
