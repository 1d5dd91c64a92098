"""BaseVoice: a Piper-format VITS voice that turns text into streamed audio chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.audio.chunk import AudioChunk
from edge_vc.audio.io import resample
from edge_vc.backends.onnx import create_session
from edge_vc.base_voice.catalog import VoiceFiles, resolve_voice
from edge_vc.base_voice.config import SynthesisConfig, VoiceConfig
from edge_vc.base_voice.litert_voice import HOP, SIDECAR_SUFFIX, DecoderSession, LatentSession, find_sidecar, load_parts
from edge_vc.base_voice.phonemes import Phonemizer
from edge_vc.base_voice.streaming import MAX_WINDOW_FRAMES, decode_windows, split_voice
from edge_vc.errors import InvalidTextError, ModelLoadError
from edge_vc.text.sentences import MAX_TEXT_CHARS
from edge_vc.text.ssml import Pause, Utterance, speech_plan

_REQUIRED_INPUTS = {"input", "input_lengths", "scales"}
_CLAUSE_MARKS = {",", ";", ":", "—"}
FIRST_CHUNK_MIN_PHONEMES = 12
"""The first chunk of a stream ends at the first clause mark after this many phonemes."""


@dataclass
class BaseVoice:
    """A loaded VITS voice: ``synthesize()`` yields one chunk per sentence (or clause)."""

    config: VoiceConfig
    session: Any
    """Session that takes phoneme ids: the whole model, or its encoder part when ``decoder`` is set."""
    name: str = ""
    decoder: Any = None
    """Decoder part (latent → audio) when the voice was split for streaming."""
    decoder_input: str = ""
    hop_length: int = 256
    backend: str = "onnx"
    """Runtime the voice runs on: ``onnx`` (onnxruntime) or ``litert`` (its TFLite parts)."""

    @staticmethod
    def load(
        voice: str | Path | VoiceFiles | None = None,
        config_path: str | Path | None = None,
        threads: int | None = None,
        streaming: bool = True,
        backend: str | None = None,
    ) -> BaseVoice:
        """Load a voice by name, ``.onnx`` path, ``.tflite.json`` path or VoiceFiles; None is the bundled voice.

        ``backend`` (``onnx``, ``litert``, ``auto``; None: the process-wide ``--backend`` choice) picks
        the runtime. On onnxruntime, with ``streaming`` (and the ``onnx`` package) the model is split
        once into encoder and decoder parts, so the first sentence can be decoded in small windows. On
        LiteRT the voice runs as its three exported TFLite parts (``NAME.tflite.json`` beside the
        voice, in the store or shipped).
        """
        from edge_vc.backends import select

        chosen = select.resolve(backend) if backend else select.current()
        if isinstance(voice, (str, Path)) and str(voice).endswith(SIDECAR_SUFFIX):
            sidecar = Path(voice).expanduser()
            name = sidecar.name[: -len(SIDECAR_SUFFIX)]
            return BaseVoice._load_litert(sidecar, VoiceConfig.load(config_path or sidecar), name, threads)
        if isinstance(voice, VoiceFiles):
            files = voice
        else:
            files = resolve_voice(str(voice) if voice is not None else None)
        config = VoiceConfig.load(config_path or files.config_path)
        if chosen == "litert":
            found = find_sidecar(files.model_path, files.name)
            if found is None:
                raise ModelLoadError(
                    f"voice {files.name} has no LiteRT (TFLite) form; convert it with "
                    f"'edge-vc export voice {files.model_path} --format tflite' or use --backend onnx"
                )
            return BaseVoice._load_litert(found, config, files.name, threads)
        split = split_voice(files.model_path, files.name) if streaming else None
        session = create_session(split.encoder if split else files.model_path, threads=threads)
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
        loaded = BaseVoice(config=config, session=session, name=files.name)
        if split is not None:
            loaded.decoder = create_session(split.decoder, threads=threads)
            loaded.decoder_input = split.decoder_input
            loaded.hop_length = split.hop_length
        return loaded

    @staticmethod
    def _load_litert(sidecar: Path, config: VoiceConfig, name: str, threads: int | None) -> BaseVoice:
        if config.num_speakers > 1:
            raise ModelLoadError(f"{sidecar}: multi-speaker voices have no LiteRT form yet; use --backend onnx")
        parts = load_parts(sidecar, threads=threads)
        decoder = DecoderSession(parts)
        return BaseVoice(
            config=config, session=LatentSession(parts), name=name, decoder=decoder,
            decoder_input=decoder.input_name, hop_length=HOP, backend="litert",
        )  # fmt: skip

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def _feeds(self, ids: list[int], syn: SynthesisConfig) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([syn.noise_scale, syn.length_scale, syn.noise_w], dtype=np.float32),
        }
        if self.config.num_speakers > 1:
            feeds["sid"] = np.asarray([syn.speaker_id or 0], dtype=np.int64)
        return feeds

    def phoneme_ids_to_audio(self, ids: list[int], syn: SynthesisConfig) -> np.ndarray:
        """Run the VITS model on one id sequence; float32 audio as the model made it.

        A split onnxruntime voice decodes a long sentence in windows of ``MAX_WINDOW_FRAMES`` (~3 s;
        they overlap by the decoder's context, so the samples are the same): the decoder's working
        memory no longer grows with the sentence (a 14 s sentence: +91-118 MB instead of +251-274 MB,
        and less CPU; benchmarks/results/serve_memory.md).
        """
        out = self.session.run(None, self._feeds(ids, syn))[0]
        if self.decoder is not None and self.backend == "onnx":
            windows = decode_windows(self._decode, out, self.hop_length, first=MAX_WINDOW_FRAMES)
            out = np.concatenate([piece for piece, _ in windows])
        elif self.decoder is not None:
            out = self._decode(out)
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def _decode(self, z: np.ndarray) -> np.ndarray:
        return self.decoder.run(None, {self.decoder_input: z})[0]

    def phoneme_ids_to_audio_windows(self, ids: list[int], syn: SynthesisConfig) -> Iterator[tuple[np.ndarray, bool]]:
        """(audio piece, is final piece) in growing decoder windows; one piece without a split decoder."""
        if self.decoder is None:
            yield self.phoneme_ids_to_audio(ids, syn), True
            return
        z = self.session.run(None, self._feeds(ids, syn))[0]
        yield from decode_windows(self._decode, z, self.hop_length)

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
        first_utterance = True
        while upcoming is not None:
            item, phonemes = upcoming
            if isinstance(item, Pause):
                audio = np.zeros(round(item.seconds * self.sample_rate), dtype=np.float32)
                upcoming = next(groups, None)
                yield AudioChunk(self.sample_rate, audio, text="", phonemes=[], is_last=upcoming is None)
                continue
            if first_utterance and self.decoder is not None and item.rate == 1.0 and item.pitch == 1.0:
                # First sentence: decoder windows, normalised by the running peak (loudness never jumps up).
                first_utterance = False
                windows = self.phoneme_ids_to_audio_windows(phonemizer.to_ids(phonemes), syn)
                upcoming = next(groups, None)
                peak = 0.0
                for piece, final in windows:
                    if syn.normalize_audio:
                        peak = max(peak, float(np.max(np.abs(piece))) if piece.size else 0.0)
                        piece = piece / peak if peak > 1e-8 else np.zeros_like(piece)
                    piece = np.clip(piece * syn.volume, -1.0, 1.0).astype(np.float32)
                    yield AudioChunk(
                        self.sample_rate, piece, text=item.text, phonemes=phonemes, is_last=final and upcoming is None
                    )
                continue
            first_utterance = False
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
