"""BaseVoice: a Piper-format VITS voice that turns text into streamed audio chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..audio.io import resample
from ..backends.onnx import create_session
from ..errors import InvalidTextError, ModelLoadError
from ..text.sentences import MAX_TEXT_CHARS
from ..text.ssml import Pause, Utterance, speech_plan
from .catalog import VoiceFiles, resolve_voice
from .chunks import AudioChunk
from .config import SynthesisConfig, VoiceConfig
from .phonemes import Phonemizer

_REQUIRED_INPUTS = {"input", "input_lengths", "scales"}
_CLAUSE_MARKS = {",", ";", ":", "—"}
FIRST_CHUNK_MIN_PHONEMES = 12
"""The first chunk of a stream ends at the first clause mark after this many phonemes."""


@dataclass
class BaseVoice:
    """A loaded VITS voice: ``synthesize()`` yields one chunk per sentence (or clause)."""

    config: VoiceConfig
    session: object
    name: str = ""

    @staticmethod
    def load(
        voice: str | Path | VoiceFiles | None = None,
        config_path: str | Path | None = None,
        threads: int | None = None,
    ) -> BaseVoice:
        """Load a voice by name, ``.onnx`` path or VoiceFiles; None is the bundled voice."""
        if isinstance(voice, VoiceFiles):
            files = voice
        else:
            files = resolve_voice(str(voice) if voice is not None else None)
        config = VoiceConfig.load(config_path or files.config_path)
        session = create_session(files.model_path, threads=threads)
        inputs = {i.name for i in session.get_inputs()}
        if not _REQUIRED_INPUTS <= inputs:
            raise ModelLoadError(
                f"{files.model_path} is not a Piper VITS voice: inputs {sorted(inputs)}, "
                f"expected {sorted(_REQUIRED_INPUTS)}"
            )
        if config.num_speakers > 1 and "sid" not in inputs:
            raise ModelLoadError(
                f"{files.config_path} says {config.num_speakers} speakers but the model has no sid input"
            )
        return BaseVoice(config=config, session=session, name=files.name)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def phoneme_ids_to_audio(self, ids: list[int], syn: SynthesisConfig) -> np.ndarray:
        """Run the VITS model on one id sequence; float32 audio as the model made it."""
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([syn.noise_scale, syn.length_scale, syn.noise_w], dtype=np.float32),
        }
        if self.config.num_speakers > 1:
            feeds["sid"] = np.asarray([syn.speaker_id or 0], dtype=np.int64)
        audio = self.session.run(None, feeds)[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def _phoneme_groups(
        self, text: str | Iterable[str], ssml: bool | None = None
    ) -> Iterator[tuple[Utterance | Pause, list[str]]]:
        """(plan item, phonemes) pairs; the very first utterance is cut at an early clause.

        Pauses before the first utterance are held back, so a text with nothing to say yields nothing.
        """
        phonemizer = Phonemizer(self.config)
        first = True
        held: list[Pause] = []
        for item in speech_plan(text, ssml):
            if isinstance(item, Pause):
                if first:
                    held.append(item)
                else:
                    yield item, []
                continue
            phonemes = phonemizer.phonemize(item.text)
            if not phonemes:
                continue
            if first:
                first = False
                for pause in held:
                    yield pause, []
                head, tail = _split_first_clause(phonemes)
                if tail:
                    yield item, head
                    phonemes = tail
            yield item, phonemes

    def _render(self, item: Utterance, phonemes: list[str], syn: SynthesisConfig, phonemizer: Phonemizer) -> np.ndarray:
        """Audio of one utterance at its rate and pitch (pitch: slower synthesis, then resampled up)."""
        item_syn = syn
        if item.rate != 1.0 or item.pitch != 1.0:
            length = min(max(syn.length_scale * item.pitch / item.rate, 0.1), 10.0)
            item_syn = replace(syn, length_scale=length)
        audio = self.phoneme_ids_to_audio(phonemizer.to_ids(phonemes), item_syn)
        if item.pitch != 1.0:
            audio = resample(audio, round(self.sample_rate * item.pitch), self.sample_rate)
        return audio

    def synthesize(
        self, text: str | Iterable[str], syn: SynthesisConfig | None = None, ssml: bool | None = None
    ) -> Iterator[AudioChunk]:
        """Stream audio chunks for ``text`` (a string or an iterable of lines).

        ``ssml=None`` reads a text that starts with ``<speak>`` as SSML (see ``edge_vc.text.ssml``).
        """
        syn = syn or self.config.default_synthesis()
        syn.validate()
        if isinstance(text, str):
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidTextError(f"text is {len(text)} characters; at most {MAX_TEXT_CHARS} per request")
            if not text.strip():
                raise InvalidTextError("text is empty: nothing to say")
        phonemizer = Phonemizer(self.config)
        groups = self._phoneme_groups(text, ssml)
        upcoming = next(groups, None)
        if upcoming is None:
            raise InvalidTextError("text has nothing speakable (no letters or digits)")
        while upcoming is not None:
            item, phonemes = upcoming
            if isinstance(item, Pause):
                audio = np.zeros(round(item.seconds * self.sample_rate), dtype=np.float32)
                upcoming = next(groups, None)
                yield AudioChunk(self.sample_rate, audio, text="", phonemes=[], is_last=upcoming is None)
                continue
            audio = self._render(item, phonemes, syn, phonemizer)
            if syn.normalize_audio:
                peak = float(np.max(np.abs(audio))) if audio.size else 0.0
                audio = audio / peak if peak > 1e-8 else np.zeros_like(audio)
            audio = np.clip(audio * syn.volume, -1.0, 1.0).astype(np.float32)
            upcoming = next(groups, None)  # phonemizing ahead is cheap; it marks the last chunk
            yield AudioChunk(self.sample_rate, audio, text=item.text, phonemes=phonemes, is_last=upcoming is None)


def _split_first_clause(phonemes: list[str]) -> tuple[list[str], list[str]]:
    """Split at the first clause mark after a few phonemes, for a sooner first sound."""
    count = 0
    for index, phoneme in enumerate(phonemes):
        if phoneme.strip():
            count += 1
        if phoneme in _CLAUSE_MARKS and count >= FIRST_CHUNK_MIN_PHONEMES:
            head, tail = phonemes[: index + 1], phonemes[index + 1 :]
            while tail and not tail[0].strip():
                tail = tail[1:]
            if any(p.strip() for p in tail):
                return head, tail
            break
    return phonemes, []
