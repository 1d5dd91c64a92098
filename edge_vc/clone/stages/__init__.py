"""Voice stages: turn base-voice audio into the enrolled speaker's voice, chunk by chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import IdentityStage, VoiceStage

__all__ = ["IdentityStage", "VoiceStage", "build_stage"]


def build_stage(
    kind: str,
    params: dict[str, Any] | None = None,
    sample_rate: int | None = None,
    profile_dir: str | Path | None = None,
    threads: int | None = None,
) -> VoiceStage:
    """The voice stage a profile describes (``kind`` and its stored ``params``).

    ``none`` → IdentityStage; ``dsp`` → DSPStage.from_params; ``learned`` → LearnedStage (files
    relative to ``profile_dir``, made by ``edge-vc adapt``); ``converter`` → ConverterStage.
    Heavy modules are imported only for the kind asked for.
    """
    from ...errors import ProfileError

    params = dict(params or {})
    if kind == "none":
        return IdentityStage()
    if kind == "dsp":
        from .dsp import DSPParams, DSPStage

        return DSPStage.from_params(DSPParams.from_dict(params), sample_rate)
    if kind == "learned":
        from .learned import LearnedStage, LearnedStageConfig

        if not params:
            if profile_dir is None:
                raise ProfileError("the learned stage needs its profile folder or decoder_path")
            return LearnedStage.for_profile(profile_dir, threads=threads)
        try:
            config = LearnedStageConfig.from_dict(params)
        except ValueError as exc:
            raise ProfileError(f"invalid learned-stage parameters: {exc}") from exc
        return LearnedStage(config, base_dir=profile_dir, threads=threads)
    if kind == "converter":
        from .converter import ConverterStage, ConverterStageConfig

        try:
            config = ConverterStageConfig.from_dict(params)
        except ValueError as exc:
            raise ProfileError(f"invalid converter-stage parameters: {exc}") from exc
        return ConverterStage(config, threads=threads)
    raise ProfileError(f"unknown voice-stage kind {kind!r} (known: none, dsp, learned, converter)")
