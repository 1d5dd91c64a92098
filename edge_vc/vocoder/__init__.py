"""Neural vocoders (ONNX at run time)."""

from .vocoder import Vocoder, vocoder_path

__all__ = ["Vocoder", "vocoder_path"]
