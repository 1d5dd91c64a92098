"""edge-vc: offline zero-shot voice cloning for small devices.

The Python API, in the shape of piper's ``PiperVoice.load(...).synthesize(text)``::

    import edge_vc
    voice = edge_vc.load()              # the bundled voice; or a profile name, voice name, .onnx path
    for chunk in voice.synthesize("Hello there."):
        chunk.audio, chunk.sample_rate  # float32 mono in [-1, 1], Hz

Names are imported on first use, so ``import edge_vc`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AudioChunk", "EdgeVCError", "SynthesisConfig", "VoicePipeline", "__version__", "load"]

if TYPE_CHECKING:
    from edge_vc.audio.chunk import AudioChunk
    from edge_vc.base_voice.config import SynthesisConfig
    from edge_vc.errors import EdgeVCError
    from edge_vc.loader import load
    from edge_vc.pipeline import VoicePipeline

_LAZY = {
    "AudioChunk": ("edge_vc.audio.chunk", "AudioChunk"),
    "SynthesisConfig": ("edge_vc.base_voice.config", "SynthesisConfig"),
    "EdgeVCError": ("edge_vc.errors", "EdgeVCError"),
    "load": ("edge_vc.loader", "load"),
    "VoicePipeline": ("edge_vc.pipeline", "VoicePipeline"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'edge_vc' has no attribute {name!r}")
