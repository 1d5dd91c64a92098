"""onnxruntime sessions with a thread budget and clear load errors."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelLoadError, VoiceNotFoundError


def create_session(model: str | Path | bytes, threads: int | None = None):
    """Open an ONNX model on the CPU; ``threads`` caps intra-op threads (None: all cores)."""
    import onnxruntime

    if not isinstance(model, bytes):
        path = Path(model)
        if not path.is_file():
            raise VoiceNotFoundError(f"model file not found: {path}")
        model = str(path)
    options = onnxruntime.SessionOptions()
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
