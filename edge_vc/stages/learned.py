"""Learned voice stage: base-voice chunk → content features → adapted decoder → log-mel → vocoder.

Built per profile by ``edge-vc adapt NAME`` (see docs/learned-stage.md). Its files live in
``<profile>/learned/``: ``decoder.onnx`` (the adapted decoder, metadata inside), ``decoder.tflite`` (the
same decoder for the LiteRT backend, written by adapt when TensorFlow is installed) and ``learned.json``
(status, quality-gate numbers). The vocoder is HiFi-GAN V1 universal (fp32 or INT8 ONNX, shared by
all profiles and built once by ``python -m edge_vc.train.export_vocoder``) or the source-filter renderer
(numpy, no file, the default; see ``edge_vc.vocoder.source_filter``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.audio.chunk import AudioChunk
from edge_vc.audio.io import resample
from edge_vc.backends.model import ModelRunner, load_model
from edge_vc.base_voice.config import SynthesisConfig
from edge_vc.configs import from_mapping
from edge_vc.errors import ModelLoadError, ProfileError
from edge_vc.features.content import ContentEncoder
from edge_vc.features.hifigan_mel import HIFIGAN_HOP, HIFIGAN_RATE
from edge_vc.features.pitch import PitchMap, pitch_features
from edge_vc.vocoder.source_filter import SOURCE_FILTER, SourceFilterVocoder
from edge_vc.vocoder.vocoder import DEFAULT_VOCODER, VOCODERS, Vocoder, load_vocoder

LEARNED_DIR = "learned"
STATUS_FILE = "learned.json"
DECODER_FILE = "decoder.onnx"
TFLITE_DECODER_FILE = "decoder.tflite"
MIN_SECONDS = 0.12
"""Renders shorter than this (or silent) pass through unchanged when nothing is held back."""
FIRST_RENDER_S = 0.5
"""Base audio gathered before the first render of an utterance. The base voice's first sentence
arrives as 0.19 s, 0.74 s, rest: the first render takes its first two pieces (~0.93 s), so a cloned
voice starts right after the base voice (docs/learned-stage.md, "Streaming")."""
MIN_RENDER_S = 1.0
"""Base audio gathered before each later render (short pieces are joined)."""
CONTENT_CONTEXT_S = 1.0
"""Earlier base audio the content encoder sees with each chunk."""
VOCODER_CONTEXT_S = 0.25
"""Earlier mel the vocoder sees with each chunk (its receptive field is shorter)."""
HOLD_S = 0.2
"""Tail of each render held back and re-rendered once the next chunk gives it right context."""
FADE_SAMPLES = 256
"""Cross-fade from the held-back render to its re-render."""
PEAK_LIMIT = 0.97
"""The speaker's level offset is lowered where it would push a render's peak above this."""
PARTS = ("content", "pitch", "decoder", "vocoder")
"""The stage's parts whose cost each stream records (``LearnedStream.costs``)."""


@dataclass
class PartCosts:
    """Wall and CPU seconds spent in each of ``PARTS`` (and the whole stage) by one stream.

    CPU seconds are the process's (all threads): they equal the part's own work while nothing
    else runs in the process, and do not grow with other load on the machine as wall seconds do.
    """

    wall: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*PARTS, "total"), 0.0))
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*PARTS, "total"), 0.0))
    audio_s: float = 0.0
    """Seconds of audio the stream put out."""

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - wall
            self.cpu[name] += time.process_time() - cpu


@dataclass
class LearnedStageConfig:
    """What a profile stores for the learned stage."""

    decoder_path: str
    """The adapted decoder ONNX (absolute, or relative to the profile folder)."""

    vocoder: str = DEFAULT_VOCODER
    """``source-filter`` (default), ``fp32`` HiFi-GAN or ``int8`` HiFi-GAN (faster, not transparent)."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LearnedStageConfig:
        """Parse and validate a profile's stored parameters (other keys are ignored); ProfileError."""
        return from_mapping(
            LearnedStageConfig, data, what="learned voice-stage parameters", error=ProfileError, unknown="ignore"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Raise ProfileError for a missing decoder or an unknown vocoder."""
        if not self.decoder_path:
            raise ProfileError("invalid learned voice-stage parameters: decoder_path is required")
        if self.vocoder not in VOCODERS:
            raise ProfileError(
                f"invalid learned voice-stage parameters: vocoder must be one of {VOCODERS}, got {self.vocoder!r}"
            )


def learned_status(profile_dir: str | Path) -> dict[str, Any] | None:
    """The learned stage's status file of a profile (None if it was never adapted)."""
    path = Path(profile_dir) / LEARNED_DIR / STATUS_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def learned_ready(profile_dir: str | Path) -> bool:
    """True when adaptation finished, passed its quality gate and the decoder file is there."""
    status = learned_status(profile_dir)
    return bool(
        status and status.get("status") == "ready" and (Path(profile_dir) / LEARNED_DIR / DECODER_FILE).is_file()
    )


class LearnedStage:
    """VoiceStage ``learned``: re-synthesises each chunk in the adapted speaker's voice."""

    name = "learned"

    def __init__(
        self,
        config: LearnedStageConfig,
        base_dir: str | Path | None = None,
        threads: int | None = None,
        content: ContentEncoder | None = None,
        vocoder: Vocoder | SourceFilterVocoder | None = None,
    ) -> None:
        config.validate()
        path = Path(config.decoder_path)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.is_file():
            raise ModelLoadError(f"learned stage decoder not found: {path} (run `edge-vc adapt`)")
        path = _backend_decoder(path)
        self.config = config
        self.decoder: ModelRunner = load_model(path, threads=threads)
        meta = self.decoder.metadata
        self._inputs = {key: _input_name(self.decoder, key) for key in ("content", "pitch")}
        self.pitch_map = self._pitch_map(self._inputs["pitch"] is not None, meta, path)
        try:
            self.level_gain = 10.0 ** (float(meta.get("level_offset_db", 0.0)) / 20.0)
        except ValueError as exc:
            raise ModelLoadError(f"{path}: invalid level_offset_db metadata ({exc})") from exc
        self.content = content or ContentEncoder.load(threads=threads)
        self.vocoder = vocoder or load_vocoder(config.vocoder, threads=threads)
        if self.pitch_map is None and self.vocoder.precision == SOURCE_FILTER:
            raise ModelLoadError(f"{path} has no pitch input, which the source-filter vocoder needs (re-run adapt)")
        self._warm_up()

    def _warm_up(self) -> None:
        """One short render at load: the libraries' first-call set-up (~25 ms for the content encoder,
        measured) is paid here, not by the first utterance's first audio."""
        t = np.arange(HIFIGAN_RATE // 2) / HIFIGAN_RATE
        mel, pitch = self.mel((0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), HIFIGAN_RATE)
        self.vocoder(mel[:8], None if pitch is None else pitch[:8])

    def stream(self, first_render_s: float = FIRST_RENDER_S) -> LearnedStream:
        """Per-utterance state (``first_render_s``: base audio gathered before the first render)."""
        return LearnedStream(self, first_render_s)

    def adjust_synthesis(self, syn: SynthesisConfig) -> SynthesisConfig:
        return syn

    @staticmethod
    def for_profile(profile_dir: str | Path, threads: int | None = None, vocoder: str | None = None) -> LearnedStage:
        """The stage of an adapted profile folder (vocoder precision: as chosen at adaptation)."""
        if vocoder is None:
            vocoder = (learned_status(profile_dir) or {}).get("vocoder") or DEFAULT_VOCODER
        return LearnedStage(
            LearnedStageConfig(f"{LEARNED_DIR}/{DECODER_FILE}", vocoder), base_dir=profile_dir, threads=threads
        )

    @staticmethod
    def _pitch_map(takes_pitch: bool, meta: dict[str, str], path: Path) -> PitchMap | None:
        """The decoder's pitch map (base-voice range → speaker range) when it takes a pitch input."""
        if not takes_pitch:
            return None
        try:
            return PitchMap.from_dict(json.loads(meta["pitch_map"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelLoadError(f"{path}: decoder takes pitch but has no valid pitch_map metadata ({exc})") from exc

    def mel(
        self, audio: np.ndarray, sample_rate: int, costs: PartCosts | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Predicted log-mel [T, 80] of the speaker saying what ``audio`` says, and the pitch input
        [T, 2] it was rendered with (``audio``'s contour in the speaker's range; None without one)."""
        costs = costs or PartCosts()
        n_frames = max(1, int(round(len(audio) * HIFIGAN_RATE / sample_rate)) // HIFIGAN_HOP)
        names = self._inputs
        with costs.part("content"):
            content = self.content.encode(audio, sample_rate, n_frames)[None].astype(np.float32)
            feeds = {str(names["content"]): content}
        pitch = None
        if self.pitch_map is not None:
            with costs.part("pitch"):
                pitch = self.pitch_map.apply(pitch_features(audio, sample_rate, n_frames))
            feeds[str(names["pitch"])] = np.ascontiguousarray(pitch[None], dtype=np.float32)
        with costs.part("decoder"):
            mel = np.asarray(self.decoder.run(feeds)[0], dtype=np.float32)[0].T
        return mel, pitch


def _backend_decoder(onnx_path: Path) -> Path:
    """The decoder file for the active backend: ``decoder.tflite`` beside the ONNX one on LiteRT."""
    from edge_vc.backends import select

    if select.current() != "litert" or onnx_path.suffix == ".tflite":
        return onnx_path
    tflite = onnx_path.with_suffix(".tflite")
    if not tflite.is_file():
        raise ModelLoadError(
            f"this learned profile has no LiteRT decoder ({tflite.name} beside {onnx_path}): run `edge-vc adapt` "
            "again where TensorFlow is installed (pip install 'edge-vc[export]'), or use --backend onnx"
        )
    return tflite


def _input_name(model: ModelRunner, key: str) -> str | None:
    """The model's input for ``key`` (``content``/``pitch``): ONNX names it so, TFLite ``serving_default_<key>:0``."""
    if key in model.input_names:
        return key
    return next((n for n in model.input_names if n.split(":")[0].endswith(key)), None)


class LearnedStream:
    """One utterance through a learned stage: gathered input, left context, a held re-rendered tail."""

    def __init__(self, stage: LearnedStage, first_render_s: float = FIRST_RENDER_S) -> None:
        self.stage = stage
        self.first_render_s = first_render_s
        self.costs = PartCosts()
        """Seconds spent per part since the stream was opened (``edge-vc bench`` reports them)."""
        self._clear()

    def _clear(self) -> None:
        self._history = np.zeros(0, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._waiting = np.zeros(0, dtype=np.float32)
        self._rendered = False

    def process(self, chunk: AudioChunk) -> AudioChunk:
        """Re-synthesise base audio in the speaker's voice, streamed with context on both sides.

        Base audio is gathered until ``first_render_s`` (the utterance's first render) or
        ``MIN_RENDER_S`` (every later one) is there, and rendered with ``CONTENT_CONTEXT_S`` of
        earlier audio for the content encoder and pitch tracker and ``VOCODER_CONTEXT_S`` for the
        vocoder; the last ``HOLD_S`` of each render waits for the next one, which re-renders it
        with right context. The utterance's last chunk (``is_last``) flushes everything. Chunks
        that only fill the buffer come back empty (``VoicePipeline.synthesize`` does not pass them on).
        """
        with self.costs.part("total"):
            out = self._process(chunk)
        self.costs.audio_s += out.duration
        return out

    def _process(self, chunk: AudioChunk) -> AudioChunk:
        audio = np.asarray(chunk.audio, dtype=np.float32)
        if chunk.sample_rate != HIFIGAN_RATE:
            audio = resample(audio, chunk.sample_rate, HIFIGAN_RATE)
        self._waiting = np.concatenate([self._waiting, audio])
        gather = MIN_RENDER_S if self._rendered else self.first_render_s
        if not chunk.is_last and self._waiting.size < gather * HIFIGAN_RATE:
            return chunk.with_audio(np.zeros(0, dtype=np.float32))
        audio, self._waiting = self._waiting, np.zeros(0, dtype=np.float32)
        quiet = audio.size < MIN_SECONDS * HIFIGAN_RATE or float(np.max(np.abs(audio), initial=0.0)) < 1e-4
        if quiet and self._pending.size == 0:
            self._history = np.concatenate([self._history, audio])[-int(CONTENT_CONTEXT_S * HIFIGAN_RATE) :]
            out = audio
        else:
            out = self._render(audio)
            self._rendered = True
        if not chunk.is_last:
            hold = min(int(HOLD_S * HIFIGAN_RATE), out.size)
            out, self._pending = out[: out.size - hold], out[out.size - hold :]
        else:
            self._clear()
        if chunk.sample_rate != HIFIGAN_RATE:
            out = resample(out, HIFIGAN_RATE, chunk.sample_rate)
        return chunk.with_audio(np.clip(out, -1.0, 1.0))

    def _render(self, audio: np.ndarray) -> np.ndarray:
        """Output for the held-back tail + ``audio`` (22 050 Hz), rendered with left context."""
        x = np.concatenate([self._history, audio])
        start = self._history.size - self._pending.size  # first sample not yet emitted
        frames = -(-x.size // HIFIGAN_HOP)
        padded = np.pad(x, (0, frames * HIFIGAN_HOP - x.size))
        mel, pitch = self.stage.mel(padded, HIFIGAN_RATE, self.costs)
        first = max(0, (start - int(VOCODER_CONTEXT_S * HIFIGAN_RATE)) // HIFIGAN_HOP)
        with self.costs.part("vocoder"):
            wave = self.stage.vocoder(mel[first:], None if pitch is None else pitch[first:])
        wave = np.pad(wave, (0, max(0, padded.size - first * HIFIGAN_HOP - wave.size)))
        offset = first * HIFIGAN_HOP
        rendered = wave[: x.size - offset]
        # follow the base voice's loudness, moved to the speaker's level (decoder metadata
        # level_offset_db, as the DSP stage's loudness target; decoders without it keep the base level)
        gain = min(float(np.sqrt(np.mean(x[offset:] ** 2)) / (np.sqrt(np.mean(rendered**2)) + 1e-8)), 10.0)
        out = rendered[start - offset :] * gain
        peak = float(np.max(np.abs(out), initial=0.0))
        out *= min(self.stage.level_gain, PEAK_LIMIT / peak) if peak > 0 else self.stage.level_gain
        if self._pending.size:
            fade = min(FADE_SAMPLES, self._pending.size, out.size)
            ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
            out[:fade] = self._pending[:fade] * (1.0 - ramp) + out[:fade] * ramp
        self._history = x[-int(CONTENT_CONTEXT_S * HIFIGAN_RATE) :]
        return out.astype(np.float32)
