"""Multi-speaker Piper voices as a speaker space: speak with any blend ``g`` of the table's speakers.

``ensure_g_variant`` writes (once, into the cache) the voice variant whose speaker vector ``g`` is a
graph input (``edge_vc.base_voice.g_input``; needs the ``onnx`` package) plus the speaker table.
``SpeakerSpaceVoice`` is a BaseVoice that feeds that ``g``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_vc.backends.onnx import create_session, read_metadata
from edge_vc.base_voice.catalog import VoiceFiles
from edge_vc.base_voice.config import SynthesisConfig, VoiceConfig
from edge_vc.base_voice.g_input import KIND as G_KIND
from edge_vc.base_voice.store import voice_cache_dir
from edge_vc.base_voice.voice import BaseVoice
from edge_vc.errors import ModelLoadError


def source_stamp(files: VoiceFiles) -> dict[str, int]:
    """Size and mtime of a voice's model: derived files are rebuilt when these change."""
    stat = files.model_path.stat()
    return {"size": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)}


def g_variant_paths(files: VoiceFiles) -> tuple[Path, Path, Path]:
    folder = voice_cache_dir(files.name)
    return folder / f"{files.name}.g.onnx", folder / f"{files.name}.g.speakers.npy", folder / "g-variant.json"


def ensure_g_variant(files: VoiceFiles) -> tuple[Path, Path]:
    """The cached g-input model and speaker table for a multi-speaker voice (built on first use)."""
    model_path, table_path, stamp_path = g_variant_paths(files)
    stamp = source_stamp(files)
    if model_path.is_file() and table_path.is_file() and stamp_path.is_file():
        try:
            if json.loads(stamp_path.read_text("utf-8")) == stamp:
                return model_path, table_path
        except (OSError, json.JSONDecodeError):
            pass
    from edge_vc.base_voice.g_input import SurgeryError, export_g_input_voice

    config = VoiceConfig.load(files.config_path)
    try:
        export_g_input_voice(files.model_path, model_path, num_speakers=config.num_speakers)
    except ImportError as exc:
        raise ModelLoadError(
            "blending speakers needs the 'onnx' package (pip install onnx) to prepare the voice once"
        ) from exc
    except SurgeryError as exc:
        raise ModelLoadError(f"{files.name}: cannot expose the speaker vector: {exc}") from exc
    stamp_path.write_text(json.dumps(stamp), "utf-8")
    return model_path, table_path


@dataclass
class SpeakerSpaceVoice(BaseVoice):
    """A multi-speaker voice driven by a speaker vector ``g`` instead of a speaker id."""

    table: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    g: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    @staticmethod
    def load_space(files: VoiceFiles, threads: int | None = None) -> SpeakerSpaceVoice:
        """Load (preparing once if needed) the g-input variant of the multi-speaker voice ``files``."""
        config = VoiceConfig.load(files.config_path)
        if config.num_speakers < 2:
            raise ModelLoadError(f"{files.name} has one speaker: there is no speaker space to blend")
        model_path, table_path = ensure_g_variant(files)
        session = create_session(model_path, threads=threads)
        if read_metadata(session).get("edge_vc_kind") != G_KIND:
            raise ModelLoadError(f"{model_path} is not a g-input voice variant")
        table = np.load(table_path).astype(np.float32)
        if table.shape[0] != config.num_speakers:
            raise ModelLoadError(f"{table_path} has {table.shape[0]} speakers, the voice {config.num_speakers}")
        return SpeakerSpaceVoice(config=config, session=session, name=files.name, table=table, g=table[0].copy())

    @property
    def num_speakers(self) -> int:
        return int(self.table.shape[0])

    def blend(self, weights: dict[int, float]) -> np.ndarray:
        """``g`` for speaker-id weights (normalised to sum 1)."""
        total = float(sum(weights.values()))
        if not weights or total <= 0:
            raise ValueError("weights must be positive and non-empty")
        g = np.zeros(self.table.shape[1], np.float32)
        for sid, weight in weights.items():
            g += self.table[int(sid)] * (float(weight) / total)
        return g

    def with_g(self, g: np.ndarray) -> SpeakerSpaceVoice:
        """The same loaded session speaking with another speaker vector."""
        g = np.asarray(g, np.float32).reshape(-1)
        if g.shape[0] != self.table.shape[1]:
            raise ValueError(f"g has {g.shape[0]} values, the voice expects {self.table.shape[1]}")
        return SpeakerSpaceVoice(config=self.config, session=self.session, name=self.name, table=self.table, g=g)

    def phoneme_ids_to_audio(self, ids: list[int], syn: SynthesisConfig) -> np.ndarray:
        g = self.g
        if syn.speaker_id is not None:
            g = self.table[int(syn.speaker_id)]
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([syn.noise_scale, syn.length_scale, syn.noise_w], dtype=np.float32),
            "g": np.asarray(g, np.float32).reshape(1, -1),
        }
        audio = self.session.run(None, feeds)[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)
