"""Hook from the pipeline to voice profiles: returns a Speaker for a profile name, or None.

A name with no profile (or that is not a valid profile name, e.g. a path) returns None, and the
caller resolves it as a plain voice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ProfileError


def stage_choice(profile) -> tuple[str, dict[str, Any], str]:
    """(kind, params, reason): which voice stage a profile speaks through, and why.

    A learned stage that ``edge-vc adapt`` finished and that passed its quality gate wins;
    otherwise the stage stored at enrollment (dsp, or none when no DSP estimate was possible).
    """
    from .stages.learned import learned_ready, learned_status

    folder = Path(profile.path) if profile.path else None
    if folder is not None and profile.stage_kind != "learned" and learned_ready(folder):
        status = learned_status(folder) or {}
        message = status.get("message") or "adapted with edge-vc adapt and passed its quality gate"
        return "learned", {}, f"learned stage ({status.get('vocoder') or 'fp32'} vocoder): {message}"
    if folder is not None and profile.stage_kind != "learned":
        status = learned_status(folder)
        if status and status.get("status") in ("rejected", "partial"):
            why = status.get("message") or status["status"]
            return profile.stage_kind, profile.stage_params, f"{profile.stage_reason} (learned stage {why})"
    return profile.stage_kind, profile.stage_params, profile.stage_reason


def load_speaker(name: str | None, threads: int | None = None):
    """A Speaker for the enrolled profile ``name``, or None if no such profile exists."""
    from .profile import PROFILE_FILE, VoiceProfile, profiles_root, validate_name

    if not name:
        return None
    try:
        validate_name(name)
    except ProfileError:
        return None
    if not (profiles_root() / name / PROFILE_FILE).is_file():
        return None
    from ..pipeline import Speaker
    from .base_select import load_base_voice
    from .stages import build_stage

    profile = VoiceProfile.load(name)
    voice = load_base_voice(profile.base, threads=threads)
    kind, params, _ = stage_choice(profile)
    stage = build_stage(kind, params, sample_rate=voice.sample_rate, profile_dir=profile.path, threads=threads)
    return Speaker(voice, stage, profile_name=profile.name)
