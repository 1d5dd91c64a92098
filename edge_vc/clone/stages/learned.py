"""Learned voice stage: base-voice chunk → content features → adapted decoder → log-mel → vocoder.

Built per profile by ``edge-vc adapt NAME`` (see docs/learned-stage.md). Its files live in
``<profile>/learned/``: ``decoder.onnx`` (the adapted decoder, metadata inside) and ``learned.json``
(status, quality-gate numbers). The vocoder (HiFi-GAN V1 universal, INT8 or fp32 ONNX) is shared
by all profiles and built once by ``python -m train.export_vocoder``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...audio.io import resample
from ...backends.onnx import create_session
from ...errors import ModelLoadError
from ...features.content import ContentEncoder
from ...features.hifigan_mel import HIFIGAN_HOP, HIFIGAN_RATE
from ...tts.chunks import AudioChunk
from ...vocoder.vocoder import DEFAULT_PRECISION, PRECISIONS, Vocoder

LEARNED_DIR = "learned"
STATUS_FILE = "learned.json"
DECODER_FILE = "decoder.onnx"
MIN_SECONDS = 0.12
"""Chunks shorter than this (or silent) pass through unchanged."""


@dataclass
class LearnedStageConfig:
    """What a profile stores for the learned stage."""

    decoder_path: str
    """The adapted decoder ONNX (absolute, or relative to the profile folder)."""

    vocoder: str = DEFAULT_PRECISION
    """Vocoder precision: ``fp32`` (default) or ``int8`` (faster, not transparent yet)."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LearnedStageConfig:
        config = LearnedStageConfig(
            decoder_path=str(data.get("decoder_path", "")), vocoder=str(data.get("vocoder", DEFAULT_PRECISION))
        )
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if not self.decoder_path:
            raise ValueError("decoder_path is required")
        if self.vocoder not in PRECISIONS:
            raise ValueError(f"vocoder must be one of {PRECISIONS}, got {self.vocoder!r}")


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
        vocoder: Vocoder | None = None,
    ) -> None:
        config.validate()
        path = Path(config.decoder_path)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.is_file():
            raise ModelLoadError(f"learned stage decoder not found: {path} (run `edge-vc adapt`)")
        self.config = config
        self.decoder = create_session(path, threads=threads)
        self.content = content or ContentEncoder.load(threads=threads)
        self.vocoder = vocoder or Vocoder.load(precision=config.vocoder, threads=threads)

    @staticmethod
    def for_profile(profile_dir: str | Path, threads: int | None = None, vocoder: str | None = None) -> LearnedStage:
        """The stage of an adapted profile folder (vocoder precision: as chosen at adaptation)."""
        if vocoder is None:
            vocoder = (learned_status(profile_dir) or {}).get("vocoder") or DEFAULT_PRECISION
        return LearnedStage(
            LearnedStageConfig(f"{LEARNED_DIR}/{DECODER_FILE}", vocoder), base_dir=profile_dir, threads=threads
        )

    def mel(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Predicted log-mel [T, 80] of the speaker saying what ``audio`` says."""
        n_frames = max(1, int(round(len(audio) * HIFIGAN_RATE / sample_rate)) // HIFIGAN_HOP)
        content = self.content.encode(audio, sample_rate, n_frames)[None].astype(np.float32)
        return np.asarray(self.decoder.run(None, {"content": content})[0], dtype=np.float32)[0].T

    def process(self, chunk: AudioChunk) -> AudioChunk:
        audio = np.asarray(chunk.audio, dtype=np.float32)
        if audio.size < MIN_SECONDS * chunk.sample_rate or float(np.max(np.abs(audio))) < 1e-4:
            return chunk
        out = self.vocoder(self.mel(audio, chunk.sample_rate))
        if self.vocoder.sample_rate != chunk.sample_rate:
            out = resample(out, self.vocoder.sample_rate, chunk.sample_rate)
        out = np.pad(out, (0, max(0, audio.size - out.size)))[: audio.size]
        # keep the base voice's loudness (synthesis volume), not the enrollment recording's
        gain = float(np.sqrt(np.mean(audio**2)) / (np.sqrt(np.mean(out**2)) + 1e-8))
        return chunk.with_audio(np.clip(out * min(gain, 10.0), -1.0, 1.0))

    def reset(self) -> None:
        return None
