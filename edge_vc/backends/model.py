"""One small interface over the backends: ``load_model(path)`` → ``.run(inputs)`` + ``.metadata``.

The backend is chosen by the file suffix: ``.onnx`` → onnxruntime, ``.tflite`` → tflite-runtime or
ai-edge-litert. Both give ``input_names``, ``output_names``, ``metadata`` (dict of strings stored
inside the file) and ``run(inputs by name or in order) -> list of arrays``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from edge_vc.backends.onnx import create_session, read_metadata
from edge_vc.errors import ModelLoadError, VoiceNotFoundError


class ModelRunner(Protocol):
    """What every backend offers."""

    path: Path
    metadata: dict[str, str]
    input_names: list[str]
    output_names: list[str]

    def run(self, inputs: dict[str, np.ndarray] | list[np.ndarray]) -> list[np.ndarray]: ...


class OnnxModel:
    """An onnxruntime session behind the backend interface."""

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = Path(path)
        self._session = create_session(self.path, threads)
        self.metadata = read_metadata(self._session)
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]

    def input_shape(self, index: int = 0) -> list[int | str | None]:
        """Declared shape of an input (symbolic dims as strings)."""
        return list(self._session.get_inputs()[index].shape)

    def run(self, inputs: dict[str, np.ndarray] | list[np.ndarray]) -> list[np.ndarray]:
        """Run once; inputs by name or in order."""
        feed = inputs if isinstance(inputs, dict) else dict(zip(self.input_names, inputs, strict=True))
        return self._session.run(None, feed)


def backend_for(path: str | Path) -> str:
    """``onnx`` or ``tflite`` from the suffix; ModelLoadError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".tflite":
        return "tflite"
    raise ModelLoadError(f"unknown model format {suffix or '(no suffix)'} for {path}; expected .onnx or .tflite")


def load_model(path: str | Path, threads: int | None = None) -> ModelRunner:
    """Open a model file with the backend its suffix names."""
    path = Path(path)
    kind = backend_for(path)
    if not path.is_file():
        raise VoiceNotFoundError(f"model file not found: {path}")
    if kind == "onnx":
        return OnnxModel(path, threads)
    from edge_vc.backends.tflite import TFLiteModel

    return TFLiteModel(path, threads)
