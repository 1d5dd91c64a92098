"""The voice-stage interface every stage (none, DSP, learned, converter) implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ...tts.chunks import AudioChunk


@runtime_checkable
class VoiceStage(Protocol):
    """Streams audio chunks through a voice transformation.

    ``process`` is called once per chunk in order (``chunk.is_last`` marks the end of an
    utterance) and returns the transformed chunk; ``reset`` forgets streaming state.
    """

    name: str

    def process(self, chunk: AudioChunk) -> AudioChunk: ...

    def reset(self) -> None: ...


class IdentityStage:
    """No voice stage: the base voice as it is."""

    name = "none"

    def process(self, chunk: AudioChunk) -> AudioChunk:
        return chunk

    def reset(self) -> None:
        return None
