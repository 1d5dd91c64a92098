"""Audio chunks: the unit that flows from the base voice through voice stages to sinks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

_MAX_WAV_VALUE = 32767.0


@dataclass
class AudioChunk:
    """A piece of mono audio as float32 samples in [-1, 1]."""

    sample_rate: int
    """Samples per second."""

    audio: np.ndarray
    """Mono float32 samples."""

    text: str = ""
    """Text that produced this chunk (may be empty for stage-made chunks)."""

    phonemes: list[str] = field(default_factory=list)
    """Phonemes that produced this chunk."""

    is_last: bool = False
    """True for the final chunk of an utterance."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.audio) / float(self.sample_rate)

    @property
    def audio_int16(self) -> np.ndarray:
        """Samples as int16."""
        return np.clip(self.audio * _MAX_WAV_VALUE, -_MAX_WAV_VALUE, _MAX_WAV_VALUE).astype(np.int16)

    def with_audio(self, audio: np.ndarray, sample_rate: int | None = None) -> AudioChunk:
        """A copy of this chunk carrying other samples (and optionally another rate)."""
        return replace(
            self,
            audio=np.asarray(audio, dtype=np.float32),
            sample_rate=sample_rate or self.sample_rate,
        )
