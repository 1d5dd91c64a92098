"""One loader turns a name into a voice pipeline: a profile, an installed voice, or a ``.onnx`` path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_vc.base_voice.voice import BaseVoice
from edge_vc.errors import ProfileError
from edge_vc.pipeline import VoicePipeline
from edge_vc.profiles.profile import PROFILE_FILE, VoiceProfile, profiles_root, validate_name


def stage_choice(profile: VoiceProfile) -> tuple[str, dict[str, Any], str]:
    """(kind, params, reason): which voice stage a profile speaks through, and why.

    A learned stage that ``edge-vc adapt`` finished and that passed its quality gate wins;
    otherwise the stage stored at enrollment (dsp, or none when no DSP estimate was possible).
    """
    from edge_vc.stages.learned import learned_ready, learned_status

    folder = Path(profile.path) if profile.path else None
    if folder is not None and profile.stage_kind != "learned" and learned_ready(folder):
        status = learned_status(folder) or {}
        message = status.get("message") or "adapted with edge-vc adapt and passed its quality gate"
        return "learned", {}, f"learned stage ({status.get('vocoder') or 'fp32'} vocoder): {message}"
    if folder is not None and profile.stage_kind != "learned":
        gate = learned_status(folder)
        if gate and gate.get("status") in ("rejected", "partial"):
            why = gate.get("message") or gate["status"]
            return profile.stage_kind, profile.stage_params, f"{profile.stage_reason} (learned stage {why})"
    return profile.stage_kind, profile.stage_params, profile.stage_reason


def profile_exists(name: str | None) -> bool:
    """Whether ``name`` names an enrolled profile (a path or an invalid name never does)."""
    if not name:
        return False
    try:
        validate_name(name)
    except ProfileError:
        return False
    return (profiles_root() / name / PROFILE_FILE).is_file()


def load_profile_pipeline(name: str, threads: int | None = None) -> VoicePipeline:
    """The pipeline of the enrolled profile ``name``: its base voice and the stage it speaks through."""
    from edge_vc.speaker.base_select import load_base_voice
    from edge_vc.stages.registry import build_stage

    profile = VoiceProfile.load(name)
    voice = load_base_voice(profile.base, threads=threads)
    kind, params, _ = stage_choice(profile)
    stage = build_stage(kind, params, sample_rate=voice.sample_rate, profile_dir=profile.path, threads=threads)
    return VoicePipeline(voice, stage, profile_name=profile.name)


def load(name_or_path: str | None = None, threads: int | None = None) -> VoicePipeline:
    """A voice pipeline for a profile name, an installed voice name or a Piper ``.onnx`` path.

    ``None`` is the bundled base voice. A profile wins over a voice of the same name.
    """
    if profile_exists(name_or_path):
        assert name_or_path is not None
        return load_profile_pipeline(name_or_path, threads=threads)
    return VoicePipeline(BaseVoice.load(name_or_path, threads=threads))
