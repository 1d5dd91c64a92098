"""Whisper tiny.en transcription and word error rate (one copy: edge_vc.bench.asr)."""

from edge_vc.bench.asr import WhisperASR, normalize_words, word_error_rate

__all__ = ["WhisperASR", "normalize_words", "word_error_rate"]
