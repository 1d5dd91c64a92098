"""Which inference runtime the data path uses: ``onnx`` (onnxruntime) or ``litert`` (LiteRT/TFLite).

The CLI's ``--backend onnx|litert|auto`` sets the process default once (``use()``); loaders ask
``current()`` and open the ``.onnx`` or ``.tflite`` form of each model. ``auto`` (the default, also
via ``EDGE_VC_BACKEND``) picks onnxruntime when it is installed, else LiteRT.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from typing import Literal

from edge_vc.errors import ModelLoadError

Backend = Literal["onnx", "litert"]
CHOICES = ("auto", "onnx", "litert")
ENV_VAR = "EDGE_VC_BACKEND"

_lock = threading.Lock()
_chosen: dict[str, Backend] = {}


def onnxruntime_installed() -> bool:
    """True when onnxruntime can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


def litert_installed() -> bool:
    """True when ai-edge-litert or tflite-runtime can be imported."""
    from edge_vc.backends.tflite import available

    return available()


def resolve(name: str | None = None) -> Backend:
    """``onnx`` or ``litert`` for a requested name (None/``auto``: onnxruntime when installed)."""
    name = (name or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if name not in CHOICES:
        raise ModelLoadError(f"unknown backend {name!r}; choose one of {', '.join(CHOICES)}")
    if name == "onnx":
        if not onnxruntime_installed():
            raise ModelLoadError("--backend onnx needs onnxruntime: pip install onnxruntime (or use --backend litert)")
        return "onnx"
    if name == "litert":
        if not litert_installed():
            raise ModelLoadError(
                "--backend litert needs ai-edge-litert (or tflite-runtime): pip install 'edge-vc[tflite]'"
            )
        return "litert"
    if onnxruntime_installed():
        return "onnx"
    if litert_installed():
        return "litert"
    raise ModelLoadError("no inference runtime: pip install onnxruntime, or ai-edge-litert for LiteRT")


def use(name: str | None) -> Backend:
    """Set the process-wide backend (what ``--backend`` does); returns the resolved name."""
    backend = resolve(name)
    with _lock:
        _chosen["backend"] = backend
    return backend


def current() -> Backend:
    """The backend set by ``use()``, else the one ``auto``/``EDGE_VC_BACKEND`` resolves to."""
    with _lock:
        chosen = _chosen.get("backend")
    return chosen or resolve(None)
