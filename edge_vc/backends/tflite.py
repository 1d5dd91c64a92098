"""TFLite models through ai-edge-litert or tflite-runtime (whichever imports), with their metadata.

edge-vc stores its metadata in a TFLite file as one entry of the flatbuffer's ``metadata`` list,
named ``edge_vc``, whose buffer holds a JSON object of strings (the same keys as ONNX
``metadata_props``). It is read here with a few lines of flatbuffer parsing, no extra package.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from edge_vc.errors import ModelLoadError, VoiceNotFoundError

METADATA_NAME = "edge_vc"


def interpreter_class():
    """The Interpreter class of tflite-runtime or ai-edge-litert; ModelLoadError if neither is installed."""
    try:  # LiteRT first: tflite-runtime 2.14 (the last x86 wheel) is built for numpy 1.x
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    raise ModelLoadError("TFLite models need ai-edge-litert (or tflite-runtime): pip install 'edge-vc[tflite]'")


def available() -> bool:
    """True when a TFLite interpreter can be imported."""
    try:
        interpreter_class()
    except ModelLoadError:
        return False
    return True


class _Table:
    """Just enough flatbuffer reading for Model.metadata and Model.buffers."""

    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos
        vtable = pos - struct.unpack_from("<i", data, pos)[0]
        self.vtable = vtable
        self.vsize = struct.unpack_from("<H", data, vtable)[0]

    def _field(self, index: int) -> int:
        slot = 4 + 2 * index
        if slot >= self.vsize:
            return 0
        offset = struct.unpack_from("<H", self.data, self.vtable + slot)[0]
        return self.pos + offset if offset else 0

    def scalar(self, index: int, fmt: str, default=0):
        at = self._field(index)
        return struct.unpack_from("<" + fmt, self.data, at)[0] if at else default

    def _vector(self, index: int) -> tuple[int, int]:
        at = self._field(index)
        if not at:
            return 0, 0
        start = at + struct.unpack_from("<I", self.data, at)[0]
        return start + 4, struct.unpack_from("<I", self.data, start)[0]

    def bytes(self, index: int) -> bytes:
        start, length = self._vector(index)
        return self.data[start : start + length]

    def tables(self, index: int) -> list[_Table]:
        start, length = self._vector(index)
        out = []
        for i in range(length):
            at = start + 4 * i
            out.append(_Table(self.data, at + struct.unpack_from("<I", self.data, at)[0]))
        return out


def read_tflite_metadata(model: str | Path | bytes) -> dict[str, str]:
    """The edge-vc metadata stored inside a .tflite file ({} when it has none)."""
    data = Path(model).read_bytes() if not isinstance(model, bytes) else model
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelLoadError("not a TFLite model (no TFL3 file identifier)")
    try:
        root = _Table(data, struct.unpack_from("<I", data, 0)[0])
        buffers = root.tables(4)
        for entry in root.tables(6):
            if entry.bytes(0).decode("utf-8", "replace") != METADATA_NAME:
                continue
            buffer = buffers[entry.scalar(1, "I")]
            offset, size = buffer.scalar(1, "Q"), buffer.scalar(2, "Q")
            blob = data[offset : offset + size] if offset > 1 else buffer.bytes(0)
            values = json.loads(blob.decode("utf-8"))
            if not isinstance(values, dict):
                raise ValueError("metadata is not a JSON object")
            return {str(k): str(v) for k, v in values.items()}
    except (struct.error, IndexError, ValueError) as exc:
        raise ModelLoadError(f"TFLite model has unreadable edge-vc metadata: {exc}") from exc
    return {}


class TFLiteModel:
    """A TFLite interpreter behind the backend interface: ``run(inputs) -> outputs``."""

    def __init__(self, path: str | Path, threads: int | None = None):
        path = Path(path)
        if not path.is_file():
            raise VoiceNotFoundError(f"model file not found: {path}")
        self.path = path
        self.metadata = read_tflite_metadata(path)
        interpreter = interpreter_class()
        try:
            self._interpreter = interpreter(model_path=str(path), num_threads=int(threads) if threads else None)
            self._interpreter.allocate_tensors()
        except Exception as exc:  # the interpreters raise ValueError/RuntimeError
            raise ModelLoadError(f"cannot load TFLite model {path}: {exc}") from exc
        self._inputs = self._interpreter.get_input_details()
        self._outputs = self._interpreter.get_output_details()
        self.input_names = [d["name"] for d in self._inputs]
        self.output_names = [d["name"] for d in self._outputs]

    def input_shape(self, index: int = 0) -> list[int]:
        """Current shape of an input (TFLite shapes are fixed until resized)."""
        return [int(d) for d in self._inputs[index]["shape"]]

    def run(self, inputs: dict[str, np.ndarray] | list[np.ndarray]) -> list[np.ndarray]:
        """Run once; inputs by name or in order; resizes inputs whose shape changed."""
        arrays = [inputs[n] for n in self.input_names] if isinstance(inputs, dict) else list(inputs)
        resized = False
        for detail, array in zip(self._inputs, arrays, strict=True):
            if list(detail["shape"]) != list(array.shape):
                self._interpreter.resize_tensor_input(detail["index"], list(array.shape))
                resized = True
        if resized:
            self._interpreter.allocate_tensors()
            self._inputs = self._interpreter.get_input_details()
            self._outputs = self._interpreter.get_output_details()
        # Recurrent ops (UNIDIRECTIONAL_SEQUENCE_LSTM) keep their state in variable tensors across
        # invocations; every run starts from zero state, as the ONNX models do.
        self._interpreter.reset_all_variables()
        for detail, array in zip(self._inputs, arrays, strict=True):
            self._interpreter.set_tensor(detail["index"], _quantize(array, detail))
        self._interpreter.invoke()
        return [_dequantize(self._interpreter.get_tensor(d["index"]), d) for d in self._outputs]


def _quantize(array: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype in (np.int8, np.uint8) and np.issubdtype(np.asarray(array).dtype, np.floating):
        scale, zero = detail["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(array / scale) + zero, info.min, info.max).astype(dtype)
    return np.asarray(array, dtype=dtype)


def _dequantize(array: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] in (np.int8, np.uint8):
        scale, zero = detail["quantization"]
        return ((array.astype(np.float32) - zero) * scale).astype(np.float32)
    return np.array(array)
