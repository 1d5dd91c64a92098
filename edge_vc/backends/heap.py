"""Resident memory of a speaking process: onnxruntime's arena, glibc's mmap threshold, heap trimming.

``lean_memory()`` is what ``edge-vc say`` and ``edge-vc serve`` do unless ``--memory-arena`` is given:
onnxruntime sessions without their CPU arena and large heap blocks in mappings of their own, so a
long text's working memory is handed back instead of staying resident (measured in
docs/learned-stage.md, "Quiet machine and memory", and benchmarks/results/serve_memory.md).
"""

from __future__ import annotations

import functools

MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Heap blocks at least this large get their own mapping, given back to the OS as soon as they are freed."""


def lean_memory(memory_arena: bool = False) -> bool:
    """Sessions opened from now on without onnxruntime's arena (unless ``memory_arena``), and the mmap
    threshold fixed; False where glibc's ``mallopt`` is unavailable. Call before loading a voice."""
    from edge_vc.backends.onnx import use_memory_arena

    use_memory_arena(memory_arena)
    return fix_mmap_threshold()


def fix_mmap_threshold(size: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``size`` (``mallopt(M_MMAP_THRESHOLD)``); False where unavailable.

    glibc raises the threshold as large blocks are freed (up to 32 MiB), so a sentence's large
    buffers (with onnxruntime's arena off) end up on the heap, where they fragment it. At 4 MiB,
    four learned profiles rotating in serve peaked ~60-70 MB lower for no measurable CPU (1 MiB:
    ~15 MB lower still, for +20-30 % CPU; benchmarks/results/serve_memory.md).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(-3, int(size)))  # M_MMAP_THRESHOLD


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``; nothing elsewhere).

    A few ms after a serve request (its own CPU is in the serve benchmark's CPU per audio second).
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim`` from the running process (None on other C libraries); looked up once."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
