"""onnxruntime sessions with a thread budget and clear load errors, shared by model file.

A model file opened twice with the same thread budget gives the same session (sessions are
thread-safe to run), so every profile on one base voice, and every learned profile's vocoder,
shares one copy in memory. A session is dropped once nothing holds it any more.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

from edge_vc.errors import ModelLoadError, VoiceNotFoundError

_SHARED: weakref.WeakValueDictionary[tuple, Any] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()
_ARENA = {"enabled": True}


def use_memory_arena(enabled: bool) -> None:
    """Whether sessions opened from now on keep onnxruntime's CPU memory arena (default: yes).

    Without it, four learned profiles and the base voice spoke in 55 MB less resident memory
    (370 → 315 MB, peak 400 → 371) for ~5-10 % more base-voice CPU time (measured in
    docs/serve.md); ``edge-vc serve`` turns it off unless ``--memory-arena`` is given.
    """
    _ARENA["enabled"] = bool(enabled)


def memory_arena_enabled() -> bool:
    """Whether sessions opened now keep onnxruntime's CPU memory arena (``use_memory_arena``)."""
    return _ARENA["enabled"]


def create_session(model: str | Path | bytes, threads: int | None = None):
    """Open an ONNX model on the CPU; ``threads`` caps intra-op threads (None: all cores).

    A file path already open with the same ``threads`` (same size and modification time) returns
    the session that is already loaded.
    """
    if isinstance(model, bytes):
        return _open_session(model, threads)
    path = Path(model)
    if not path.is_file():
        raise VoiceNotFoundError(f"model file not found: {path}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, threads or 0, _ARENA["enabled"])
    with _SHARED_LOCK:
        session = _SHARED.get(key)
        if session is None:
            session = _open_session(str(path), threads)
            _SHARED[key] = session
    return session


def _open_session(model: str | bytes, threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = _ARENA["enabled"]
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # A voice runs as two sessions (encoder, decoder) taking turns: idle pools must not spin on the
    # cores the other session is using (measured 1.46x slower at 2 threads with spinning on).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated types
        name = model if isinstance(model, str) else "<bytes>"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load ONNX model {name}: {first_line}") from exc


def read_metadata(session) -> dict[str, str]:
    """The ``metadata_props`` stored inside an ONNX model."""
    return dict(session.get_modelmeta().custom_metadata_map)
