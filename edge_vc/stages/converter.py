"""Voice stage that runs an exported tone-colour converter (``edge-vc export converter``).

Only a converter the user supplies (a trained OpenVoice-layout checkpoint, exported) makes this a
voice; edge-vc ships none. Each chunk (a sentence or clause) is converted on its own: resampled to
the converter's rate, turned into a linear spectrogram (edge_vc.features.mel, OpenVoice's STFT),
re-coloured from the base voice's tone colour to the speaker's, and trimmed to the input length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.audio.chunk import AudioChunk
from edge_vc.audio.io import resample
from edge_vc.backends.model import load_model
from edge_vc.base_voice.config import SynthesisConfig
from edge_vc.configs import from_mapping
from edge_vc.errors import ModelLoadError, ProfileError
from edge_vc.features.mel import MelConfig, stft_magnitude
from edge_vc.stages.joins import JoinedTransform

KIND = "edge-vc/tone-color-converter"
REF_KIND = "edge-vc/tone-color-reference"


CONTEXT_S = 0.25
"""Earlier input the converter sees with each chunk (its spectrogram frames and receptive field)."""
FADE_S = 0.02
"""Cross-fade at each join from a chunk's tail to its re-conversion with right context."""


@dataclass
class ConverterStageConfig:
    """What a profile stores for the converter stage."""

    model_path: str
    """Exported converter (``.onnx`` or ``.tflite``); its reference encoder sits beside it as ``*.ref.*``."""

    target_se: list[float] = field(default_factory=list)
    """The enrolled speaker's tone colour (``gin`` values)."""

    source_se: list[float] = field(default_factory=list)
    """The base voice's tone colour (``gin`` values)."""

    def validate(self) -> None:
        """Raise ProfileError for a missing model or unusable tone colours."""
        if not self.model_path:
            raise ProfileError("invalid converter voice-stage parameters: model_path is required")
        if len(self.target_se) != len(self.source_se) or not self.target_se:
            raise ProfileError(
                "invalid converter voice-stage parameters: target_se and source_se must be non-empty and of the same"
                " length"
            )

    def to_dict(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "target_se": list(self.target_se), "source_se": list(self.source_se)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ConverterStageConfig:
        """Parse and validate a profile's stored parameters (other keys are ignored); ProfileError."""
        return from_mapping(
            ConverterStageConfig, data, what="converter voice-stage parameters", error=ProfileError, unknown="ignore"
        )


def reference_path(model_path: str | Path) -> Path:
    path = Path(model_path)
    return path.with_name(f"{path.stem}.ref{path.suffix}")


class ToneColorModels:
    """The exported converter and its reference encoder, with the settings from their metadata."""

    def __init__(self, model_path: str | Path, threads: int | None = None) -> None:
        self.model = load_model(model_path, threads)
        self.ref = load_model(reference_path(model_path), threads)
        meta = self.model.metadata
        if meta.get("edge_vc_kind") != KIND or self.ref.metadata.get("edge_vc_kind") != REF_KIND:
            raise ModelLoadError(f"{model_path} is not an exported tone-colour converter (edge-vc export converter)")
        try:
            self.sample_rate = int(meta["sample_rate"])
            self.hop = int(meta["hop_length"])
            n_fft, win = int(meta["filter_length"]), int(meta["win_length"])
            self.gin = int(meta["gin_channels"])
        except (KeyError, ValueError) as exc:
            raise ModelLoadError(f"{model_path}: converter metadata is incomplete ({exc})") from exc
        self.spec_config = MelConfig(
            sample_rate=self.sample_rate,
            n_fft=n_fft,
            win_length=win,
            hop_length=self.hop,
            power=1.0,
            mag_eps=1e-6,
            center=False,
            pad_mode="reflect",
            pad=(n_fft - self.hop) // 2,
        )
        self.config = json.loads(meta.get("config", "{}"))

    def spectrogram(self, audio: np.ndarray) -> np.ndarray:
        """[1, bins, frames] of audio at the converter's rate (padded to whole hops)."""
        audio = np.asarray(audio, np.float32)
        pad = (-audio.size) % self.hop
        min_len = self.spec_config.pad + 1
        if audio.size + pad < min_len:
            pad = min_len - audio.size + ((-min_len) % self.hop)
        audio = np.pad(audio, (0, pad))
        return stft_magnitude(audio, self.spec_config).T[None].astype(np.float32)

    def tone_color(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Tone colour [gin] of a recording (any rate)."""
        audio = resample(np.asarray(audio, np.float32), sample_rate, self.sample_rate)
        g = self.ref.run({"spec": self.spectrogram(audio)})[0]
        return np.asarray(g, np.float32).reshape(-1)

    def convert(self, audio: np.ndarray, source_se: np.ndarray, target_se: np.ndarray) -> np.ndarray:
        """Audio at the converter's rate, same length as ``audio``."""
        spec = self.spectrogram(audio)
        feeds = {
            "spec": spec,
            "g_src": np.asarray(source_se, np.float32).reshape(1, -1, 1),
            "g_tgt": np.asarray(target_se, np.float32).reshape(1, -1, 1),
        }
        out = np.asarray(self.model.run(feeds)[0], np.float32).reshape(-1)
        return out[: audio.size] if out.size >= audio.size else np.pad(out, (0, audio.size - out.size))


class ConverterStage:
    """Streams chunks through the converter (no state across chunks)."""

    name = "converter"

    def __init__(self, config: ConverterStageConfig, threads: int | None = None) -> None:
        config.validate()
        self.config = config
        self.models = ToneColorModels(config.model_path, threads)
        if len(config.target_se) != self.models.gin:
            raise ModelLoadError(f"profile tone colour has {len(config.target_se)} values, converter {self.models.gin}")
        self._source = np.asarray(config.source_se, np.float32)
        self._target = np.asarray(config.target_se, np.float32)

    def stream(self) -> ConverterStream:
        return ConverterStream(self)

    def adjust_synthesis(self, syn: SynthesisConfig) -> SynthesisConfig:
        return syn

    def convert(self, audio: np.ndarray) -> np.ndarray:
        """Audio at the converter's rate in the profile's tone colour (same length)."""
        return self.models.convert(audio, self._source, self._target)


class ConverterStream:
    """One utterance through the converter, with seamless joins between chunks."""

    def __init__(self, stage: ConverterStage) -> None:
        self.rate = stage.models.sample_rate
        hop = stage.models.hop  # whole hops of context keep the spectrogram frames on the utterance's grid
        context = int(CONTEXT_S * self.rate) // hop * hop
        self._joins = JoinedTransform(stage.convert, context, int(FADE_S * self.rate))

    def process(self, chunk: AudioChunk) -> AudioChunk:
        audio = resample(chunk.audio, chunk.sample_rate, self.rate)
        out = self._joins.push(audio, chunk.is_last)
        return chunk.with_audio(np.clip(out, -1.0, 1.0), sample_rate=self.rate)


def converter_params(
    model_path: str | Path, audio: np.ndarray, sample_rate: int, base_voice, threads: int | None = None
) -> dict[str, Any]:
    """Stage parameters for a profile: the speaker's tone colour from the enrollment ``audio`` and the
    base voice's from a probe sentence it speaks (deterministically)."""
    from edge_vc.base_voice.config import SynthesisConfig

    models = ToneColorModels(model_path, threads)
    target = models.tone_color(audio, sample_rate)
    syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0)
    text = "The north wind and the sun were disputing which was the stronger, when a traveler came along."
    base_audio = np.concatenate([c.audio for c in base_voice.synthesize(text, syn)])
    source = models.tone_color(base_audio, base_voice.sample_rate)
    config = ConverterStageConfig(str(Path(model_path).resolve()), target.tolist(), source.tolist())
    config.validate()
    return config.to_dict()
