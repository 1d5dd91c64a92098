"""Choose the base voice for an enrolled speaker, by measured similarity.

Every candidate base voice says the same probe sentence; the product's speaker encoder compares it
with the enrollment. A single-speaker voice (the bundled joe) is used as it is — no atlas; the DSP
stage adapts it afterwards. A multi-speaker voice is searched through its speaker atlas
(``edge_vc.speaker.atlas``): nearest speakers, blended ``g``, verified on the probe. The best measured
candidate wins, and the choice says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_vc.base_voice.catalog import VoiceFiles, bundled_voice, installed_voices, resolve_voice
from edge_vc.base_voice.config import VoiceConfig
from edge_vc.configs import from_mapping
from edge_vc.errors import ModelLoadError, ProfileError
from edge_vc.speaker.atlas import PROBE_TEXT, Embedder, SpaceMatch, build_atlas, match_speaker, speak


@dataclass
class BaseChoice:
    """One evaluated base voice."""

    voice: str
    num_speakers: int
    similarity: float
    """Measured encoder cosine between the enrollment and the probe sentence in this base."""

    weights: dict[int, float] = field(default_factory=dict)
    g: list[float] = field(default_factory=list)
    method: str = ""
    note: str = ""

    @property
    def uses_speaker_space(self) -> bool:
        return bool(self.g)

    def to_dict(self) -> dict[str, Any]:
        """What a profile stores under ``base``."""
        data: dict[str, Any] = {
            "voice": self.voice,
            "num_speakers": self.num_speakers,
            "similarity": round(float(self.similarity), 4),
        }
        if self.g:
            data.update({"weights": {str(k): float(v) for k, v in self.weights.items()}, "g": self.g})
            data["method"] = self.method
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> BaseChoice:
        """A profile's ``base`` record (other keys ignored); ProfileError for a missing or unusable one."""
        if isinstance(data, dict):  # older profiles: no speaker count or similarity; null lists
            data = {"num_speakers": 1, "similarity": 0.0, **{k: v for k, v in data.items() if v is not None}}
        return from_mapping(BaseChoice, data, what="base-voice choice", error=ProfileError, unknown="ignore")

    def validate(self) -> None:
        """Raise ProfileError (a ValueError) for an empty voice name or a speaker vector without speakers."""
        if not self.voice:
            raise ProfileError("invalid base-voice choice: base voice name is empty")
        if self.g and self.num_speakers < 2:
            raise ProfileError("invalid base-voice choice: a speaker vector g needs a multi-speaker base voice")


def evaluate_base(
    files: VoiceFiles,
    target: np.ndarray,
    embed: Embedder,
    encoder_id: str,
    threads: int | None = None,
    top_k: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> BaseChoice:
    """Measure how close ``files`` can get to the enrolled embedding ``target``."""
    from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice
    from edge_vc.base_voice.voice import BaseVoice

    config = VoiceConfig.load(files.config_path)
    t = np.asarray(target, np.float32).reshape(-1)
    t = t / max(float(np.linalg.norm(t)), 1e-9)
    if config.num_speakers < 2:
        voice = BaseVoice.load(files, threads=threads)
        audio, rate = speak(voice, PROBE_TEXT)
        e = np.asarray(embed(audio, rate), np.float32).reshape(-1)
        sim = float(e @ t / max(float(np.linalg.norm(e)), 1e-9))
        return BaseChoice(files.name, 1, sim, note="single-speaker voice: no atlas, DSP stage only")
    space = SpeakerSpaceVoice.load_space(files, threads=threads)
    atlas = build_atlas(files, space, embed, encoder_id, progress=progress)
    match: SpaceMatch = match_speaker(atlas, space, t, embed, top_k=top_k)
    names = match.speaker_names(config.speaker_id_map)
    mix = ", ".join(f"{names[k]} {w:.2f}" for k, w in sorted(match.weights.items(), key=lambda kv: -kv[1]))
    return BaseChoice(
        files.name,
        config.num_speakers,
        match.similarity,
        weights=match.weights,
        g=[float(x) for x in match.g],
        method=match.chosen,
        note=f"{match.chosen} of {mix} (nearest of {config.num_speakers} speakers)",
    )


def candidate_voices(base: str | None) -> list[VoiceFiles]:
    """``base`` alone, or every base voice (bundled + installed)."""
    if base:
        return [resolve_voice(base)]
    return [bundled_voice(), *installed_voices()]


def choose_base(
    target: np.ndarray,
    embed: Embedder,
    encoder_id: str,
    base: str | None = None,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
    progress_factory: Callable[[str, int], Callable[[int, int], None]] | None = None,
) -> tuple[BaseChoice, list[BaseChoice]]:
    """(best, all evaluated) base voices for the enrollment embedding ``target``."""
    evaluated: list[BaseChoice] = []
    candidates = candidate_voices(base)
    for files in candidates:
        progress = None
        if progress_factory is not None:
            n = VoiceConfig.load(files.config_path).num_speakers
            progress = progress_factory(files.name, n) if n > 1 else None
        try:
            choice = evaluate_base(files, target, embed, encoder_id, threads=threads, progress=progress)
        except ModelLoadError as exc:
            if base:
                raise
            if log:
                log(f"skipped base voice {files.name}: {exc}")
            continue
        evaluated.append(choice)
        if log and len(candidates) > 1:  # with one candidate the final explanation says it all
            log(f"base voice {choice.voice}: similarity {choice.similarity:.3f} ({choice.note})")
    if not evaluated:
        raise ModelLoadError("no usable base voice")
    best = max(evaluated, key=lambda c: c.similarity)
    return best, evaluated


def explain(best: BaseChoice, evaluated: list[BaseChoice]) -> str:
    """One line for the user: which base voice, and why."""
    others = [c for c in evaluated if c is not best]
    why = f"measured similarity {best.similarity:.3f}"
    if others:
        runner = max(others, key=lambda c: c.similarity)
        why += f", ahead of {runner.voice} ({runner.similarity:.3f})"
    return f"base voice: {best.voice} — {best.note}; {why}"


def load_base_voice(data: dict[str, Any], threads: int | None = None):
    """The BaseVoice a profile's ``base`` entry describes (a blended speaker-space voice when it has ``g``)."""
    from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice
    from edge_vc.base_voice.voice import BaseVoice

    choice = BaseChoice.from_dict(data)
    files = resolve_voice(choice.voice)
    if not choice.g:
        return BaseVoice.load(files, threads=threads)
    return SpeakerSpaceVoice.load_space(files, threads=threads).with_g(np.asarray(choice.g, np.float32))
