"""Vocoders of the learned stage: HiFi-GAN V1 universal (ONNX) and a numpy source-filter renderer."""

from edge_vc.vocoder.source_filter import SOURCE_FILTER, SourceFilterVocoder
from edge_vc.vocoder.vocoder import VOCODERS, Vocoder, load_vocoder, vocoder_path

__all__ = ["SOURCE_FILTER", "VOCODERS", "SourceFilterVocoder", "Vocoder", "load_vocoder", "vocoder_path"]
