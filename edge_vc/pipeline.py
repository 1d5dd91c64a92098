"""The data path in one line: text → phonemes → base VITS → voice stage → audio sink."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .audio.sinks import AudioSink
from .clone.stages.base import IdentityStage, VoiceStage
from .tts.chunks import AudioChunk
from .tts.config import SynthesisConfig
from .tts.voice import BaseVoice


@dataclass
class Speaker:
    """A base voice plus a voice stage; ``synthesize`` streams the staged chunks."""

    voice: BaseVoice
    stage: VoiceStage = field(default_factory=IdentityStage)
    profile_name: str | None = None

    @staticmethod
    def load(name: str | None = None, threads: int | None = None) -> Speaker:
        """A profile by name (its base voice and stage), else a plain voice name or path."""
        from .clone import profile_loader

        loaded = profile_loader.load_speaker(name, threads=threads)
        if loaded is not None:
            return loaded
        return Speaker(BaseVoice.load(name, threads=threads))

    @property
    def sample_rate(self) -> int:
        return self.voice.sample_rate

    def synthesize(self, text: str | Iterable[str], syn: SynthesisConfig | None = None) -> Iterator[AudioChunk]:
        """Stream chunks of ``text`` in this speaker's voice.

        A stage that models the speaker's speaking rate adjusts the base voice's settings first.
        """
        self.stage.reset()
        syn = syn or self.voice.config.default_synthesis()
        adjust = getattr(self.stage, "adjust_synthesis", None)
        if adjust is not None:
            syn = adjust(syn)
        for chunk in self.voice.synthesize(text, syn):
            out = self.stage.process(chunk)
            if out.audio.size or out.is_last:  # a stage may gather input before it answers
                yield out

    def speak(self, text: str | Iterable[str], sinks: list[AudioSink], syn: SynthesisConfig | None = None) -> float:
        """Synthesize into every sink; returns seconds of audio produced."""
        seconds = 0.0
        for chunk in self.synthesize(text, syn):
            seconds += chunk.duration
            for sink in sinks:
                sink.write(chunk)
        return seconds
