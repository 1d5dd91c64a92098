"""The data path in one line: text → phonemes → base voice → voice stage → audio chunks."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, field

from edge_vc.audio.chunk import AudioChunk
from edge_vc.base_voice.config import SynthesisConfig
from edge_vc.base_voice.voice import BaseVoice
from edge_vc.stages.base import IdentityStage, VoiceStage


@dataclass
class VoicePipeline:
    """A base voice plus a voice stage; ``synthesize`` streams the staged chunks.

    The stage holds immutable models only: every ``synthesize`` call opens its own
    ``stage.stream()``, so one pipeline serves any number of concurrent requests.
    """

    voice: BaseVoice
    stage: VoiceStage = field(default_factory=IdentityStage)
    profile_name: str | None = None

    @property
    def sample_rate(self) -> int:
        return self.voice.sample_rate

    def synthesize(
        self, text: str | Iterable[str], syn: SynthesisConfig | None = None
    ) -> Generator[AudioChunk, None, None]:
        """Stream chunks of ``text`` in this pipeline's voice.

        A stage that models the speaker's speaking rate adjusts the base voice's settings first.
        """
        syn = syn or self.voice.config.default_synthesis()
        syn = self.stage.adjust_synthesis(syn)
        stream = self.stage.stream()
        for chunk in self.voice.synthesize(text, syn):
            out = stream.process(chunk)
            if out.audio.size or out.is_last:  # a stage may gather input before it answers
                yield out
