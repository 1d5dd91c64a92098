"""The one render path: request → chunks → sinks, with cancel. Used by say, serve and the bridge."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from edge_vc.audio.sinks import AudioSink
from edge_vc.base_voice.config import SynthesisConfig
from edge_vc.pipeline import VoicePipeline
from edge_vc.text.ssml import looks_like_ssml


@dataclass
class SpeechRequest:
    """One thing to say, as say, serve and the bridge receive it."""

    text: str
    voice: str | None = None
    """Profile, installed voice, or (say only) a ``.onnx`` path; None: the default voice."""

    ssml: bool | None = None
    """True: ``text`` is SSML (wrapped in ``<speak>`` when it is not already)."""

    rate: float = 1.0
    """Speaking speed (2 is twice as fast)."""

    volume: float = 1.0
    speaker_id: int | None = None
    """Speaker of a multi-speaker base voice."""

    def markup(self) -> str:
        """The text as the base voice reads it (SSML wrapped in ``<speak>`` when asked for)."""
        if self.ssml and not looks_like_ssml(self.text):
            return f"<speak>{self.text}</speak>"
        return self.text

    def synthesis(self, pipeline: VoicePipeline) -> SynthesisConfig:
        """The base voice's settings for this request (its defaults, with rate, volume, speaker)."""
        syn = pipeline.voice.config.default_synthesis()
        return replace(syn, length_scale=syn.length_scale / self.rate, volume=self.volume, speaker_id=self.speaker_id)


@dataclass
class RenderResult:
    """What one render produced."""

    seconds: float
    """Audio written, in seconds."""

    elapsed: float
    """Wall-clock seconds from the start of synthesis to the last chunk."""

    first_audio: float | None
    """Seconds until the first chunk (None: nothing was said)."""

    cancelled: bool = False

    @property
    def rtf(self) -> float:
        return self.elapsed / max(self.seconds, 1e-9)


def render(
    pipeline: VoicePipeline,
    request: SpeechRequest,
    sinks: Sequence[AudioSink],
    cancelled: Callable[[], bool] | None = None,
) -> RenderResult:
    """Synthesize ``request`` into every sink; close them at the end, abort them on cancel or error.

    ``cancelled`` is asked before each chunk; once it answers True the render stops there.
    """
    started = time.perf_counter()
    first_audio = None
    seconds = 0.0
    stopped = False
    chunks = pipeline.synthesize(request.markup(), request.synthesis(pipeline))
    try:
        for chunk in chunks:
            if cancelled is not None and cancelled():
                stopped = True
                break
            if first_audio is None:
                first_audio = time.perf_counter() - started
            seconds += chunk.duration
            for sink in sinks:
                sink.write(chunk)
        if cancelled is not None and cancelled():
            stopped = True
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    finally:
        chunks.close()
    for sink in sinks:
        if stopped:
            sink.abort()
        else:
            sink.close()
    return RenderResult(seconds, time.perf_counter() - started, first_audio, stopped)
