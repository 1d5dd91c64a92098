"""The voice-stage interface: an immutable model that hands out per-utterance streams.

As sherpa-onnx keeps a shared model apart from each stream, a stage holds only what never changes
(models, parameters); ``stage.stream()`` returns a fresh :class:`StageStream` with the state of
one utterance. Any number of streams of one stage can run at once, in any threads.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from edge_vc.audio.chunk import AudioChunk
from edge_vc.base_voice.config import SynthesisConfig


@runtime_checkable
class StageStream(Protocol):
    """One utterance through a stage: ``process`` is called once per chunk, in order.

    ``chunk.is_last`` marks the end of the utterance; the stream then flushes what it held back.
    A stream may return an empty chunk while it gathers input.
    """

    def process(self, chunk: AudioChunk) -> AudioChunk: ...


@runtime_checkable
class VoiceStage(Protocol):
    """A voice transformation shared by every request that speaks through it."""

    name: str

    def stream(self) -> StageStream:
        """Fresh per-utterance state."""
        ...

    def adjust_synthesis(self, syn: SynthesisConfig) -> SynthesisConfig:
        """The base voice's settings for this stage (e.g. the speaker's speaking rate)."""
        ...


def process_whole(stage: VoiceStage, chunks: list[AudioChunk]) -> list[AudioChunk]:
    """Run ``chunks`` (one utterance) through a new stream of ``stage``."""
    stream = stage.stream()
    return [stream.process(chunk) for chunk in chunks]


class _PassThrough:
    def process(self, chunk: AudioChunk) -> AudioChunk:
        return chunk


class IdentityStage:
    """No voice stage: the base voice as it is."""

    name = "none"

    def stream(self) -> StageStream:
        return _PassThrough()

    def adjust_synthesis(self, syn: SynthesisConfig) -> SynthesisConfig:
        return syn
