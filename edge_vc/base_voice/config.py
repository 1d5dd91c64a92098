"""Piper voice config (the ``.onnx.json`` beside each voice model)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_vc.configs import from_mapping
from edge_vc.errors import VoiceConfigError, VoiceNotFoundError

PAD = "_"
BOS = "^"
EOS = "$"


@dataclass
class SynthesisConfig:
    """How to speak: Piper's inference scales plus output options."""

    length_scale: float = 1.0
    """Phoneme length; > 1 is slower speech (``--rate`` sets its inverse)."""

    noise_scale: float = 0.667
    """Generator noise; 0 makes output deterministic."""

    noise_w: float = 0.8
    """Phoneme-width noise."""

    speaker_id: int | None = None
    """Speaker of a multi-speaker voice (None: speaker 0)."""

    normalize_audio: bool = True
    """Scale each chunk to full range, as Piper does."""

    volume: float = 1.0
    """Gain applied after normalisation."""

    def validate(self) -> None:
        """Raise ValueError for settings a VITS voice cannot use."""
        if not 0.1 <= self.length_scale <= 10.0:
            raise ValueError(f"length_scale must be in [0.1, 10], got {self.length_scale}")
        if self.noise_scale < 0 or self.noise_w < 0:
            raise ValueError("noise_scale and noise_w must be >= 0")
        if not 0.0 <= self.volume <= 10.0:
            raise ValueError(f"volume must be in [0, 10], got {self.volume}")


@dataclass
class VoiceConfig:
    """What edge-vc needs from a Piper ``.onnx.json``."""

    sample_rate: int
    """Output rate of the model in Hz."""

    phoneme_id_map: dict[str, list[int]]
    """Phoneme (one codepoint) to model input ids."""

    espeak_voice: str = "en-us"
    """espeak-ng voice used for phonemization."""

    phoneme_type: str = "espeak"
    """``espeak`` or ``text`` (codepoints)."""

    num_speakers: int = 1
    """Speakers in the model; > 1 means the model takes a ``sid`` input."""

    speaker_id_map: dict[str, int] = field(default_factory=dict)
    """Speaker names to ids for multi-speaker voices."""

    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w: float = 0.8
    language: str = ""
    """Language code such as ``en_US``."""

    dataset: str = ""
    """Name of the voice's dataset (often the voice name)."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> VoiceConfig:
        """Parse Piper's JSON layout; raise VoiceConfigError naming missing keys."""
        if not isinstance(data, dict):
            raise VoiceConfigError("voice config must be a JSON object")
        missing = []
        if not isinstance(data.get("audio"), dict) or "sample_rate" not in data["audio"]:
            missing.append("audio.sample_rate")
        if not isinstance(data.get("phoneme_id_map"), dict) or not data["phoneme_id_map"]:
            missing.append("phoneme_id_map")
        phoneme_type = str(data.get("phoneme_type", "espeak"))
        espeak = data.get("espeak") or {}
        if phoneme_type == "espeak" and not espeak.get("voice"):
            missing.append("espeak.voice")
        if missing:
            raise VoiceConfigError("voice config lacks required keys: " + ", ".join(missing))
        inference = data.get("inference") or {}
        language = data.get("language") or {}
        flat = {
            "sample_rate": data["audio"]["sample_rate"],
            "phoneme_id_map": data["phoneme_id_map"],
            "espeak_voice": espeak.get("voice", ""),
            "phoneme_type": phoneme_type,
            "num_speakers": data.get("num_speakers", 1),
            "speaker_id_map": data.get("speaker_id_map") or {},
            "length_scale": inference.get("length_scale", 1.0),
            "noise_scale": inference.get("noise_scale", 0.667),
            "noise_w": inference.get("noise_w", 0.8),
            "language": str(language.get("code", "")) if isinstance(language, dict) else "",
            "dataset": data.get("dataset") or "",
        }
        return from_mapping(VoiceConfig, flat, what="voice config", error=VoiceConfigError)

    def to_dict(self) -> dict[str, Any]:
        """Piper's JSON layout."""
        return {
            "audio": {"sample_rate": self.sample_rate},
            "espeak": {"voice": self.espeak_voice},
            "inference": {
                "noise_scale": self.noise_scale,
                "length_scale": self.length_scale,
                "noise_w": self.noise_w,
            },
            "phoneme_type": self.phoneme_type,
            "phoneme_id_map": self.phoneme_id_map,
            "num_speakers": self.num_speakers,
            "speaker_id_map": self.speaker_id_map,
            "language": {"code": self.language},
            "dataset": self.dataset,
        }

    def validate(self) -> None:
        """Raise VoiceConfigError for values no Piper voice can have."""
        if not 8000 <= self.sample_rate <= 48000:
            raise VoiceConfigError(f"audio.sample_rate {self.sample_rate} is out of range")
        if self.phoneme_type not in ("espeak", "text"):
            raise VoiceConfigError(f"phoneme_type '{self.phoneme_type}' is not supported")
        for symbol in (PAD, BOS, EOS):
            if symbol not in self.phoneme_id_map:
                raise VoiceConfigError(f"phoneme_id_map lacks the '{symbol}' symbol")
        if self.num_speakers < 1:
            raise VoiceConfigError(f"num_speakers must be >= 1, got {self.num_speakers}")

    def default_synthesis(self) -> SynthesisConfig:
        """Synthesis settings from the voice's ``inference`` section."""
        return SynthesisConfig(length_scale=self.length_scale, noise_scale=self.noise_scale, noise_w=self.noise_w)

    @staticmethod
    def load(path: str | Path) -> VoiceConfig:
        """Read and validate a ``.onnx.json`` file."""
        path = Path(path)
        if not path.is_file():
            raise VoiceNotFoundError(f"voice config not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VoiceConfigError(f"voice config {path} is not valid JSON: {exc}") from exc
        try:
            return VoiceConfig.from_dict(data)
        except VoiceConfigError as exc:
            raise VoiceConfigError(f"{path}: {exc}") from exc
