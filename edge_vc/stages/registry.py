"""One entry per voice-stage kind: how its stored parameters are parsed, estimated and built.

The kinds are ``none``, ``dsp``, ``learned`` and ``converter``. Each entry names the functions for

- ``parse``: a profile's stored parameters → the kind's validated config (ProfileError);
- ``estimate``: an enrollment recording → the parameters a profile stores, and why (None: the kind is
  made later, as the learned stage is by ``edge-vc adapt``);
- ``build``: stored parameters → the immutable stage (``stage.stream()`` per utterance).

Each entry's module is imported only when its kind is parsed, estimated or built, so a base-voice or
DSP profile never loads the learned stage's models. This file is the only place that dispatches on a kind:
enrollment (``enroll/flow.py``), profile checks (``profiles/``), the loader and the bench all go through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_vc.errors import EnrollmentError, ProfileError
from edge_vc.stages.base import IdentityStage, VoiceStage


@dataclass(frozen=True)
class BuildContext:
    """What a stage may need besides its parameters."""

    sample_rate: int | None = None
    """The base voice's output rate."""

    profile_dir: str | Path | None = None
    """The profile folder (files of the learned stage live there)."""

    threads: int | None = None


@dataclass(frozen=True)
class EstimateInput:
    """What estimating a stage from an enrollment may use."""

    audio: Any
    """The enrollment recording (mono float32)."""

    sample_rate: int
    base_voice: Any
    """The chosen base voice (``BaseVoice``)."""

    encoder: Any = None
    """The speaker encoder (refines the DSP estimate; None: no refinement)."""

    converter: str | None = None
    """An exported tone-colour converter model (the ``converter`` kind needs one)."""

    threads: int | None = None


@dataclass(frozen=True)
class Estimate:
    """The parameters a profile stores for a kind, and a sentence saying what was estimated."""

    params: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class StageEntry:
    """One voice-stage kind."""

    kind: str
    module: str
    """The module the kind's code lives in (imported lazily; ``available`` tries it)."""

    parse: Callable[[dict[str, Any]], Any]
    build: Callable[[dict[str, Any], BuildContext], VoiceStage]
    estimate: Callable[[EstimateInput], Estimate] | None = None
    needs: tuple[str, ...] = ()
    """Fields of ``EstimateInput`` the estimate needs besides the recording (``converter``)."""

    def available(self) -> bool:
        """True when the kind's module imports in this install."""
        import importlib

        try:
            importlib.import_module(self.module)
        except ImportError:
            return False
        return True


# ---------------------------------------------------------------- none


def _parse_none(params: dict[str, Any]) -> None:
    return None


def _build_none(params: dict[str, Any], ctx: BuildContext) -> VoiceStage:
    return IdentityStage()


def _estimate_none(inputs: EstimateInput) -> Estimate:
    return Estimate({}, "no voice stage requested at enrollment (--stage none): the base voice speaks unchanged")


# ---------------------------------------------------------------- dsp


def _parse_dsp(params: dict[str, Any]):
    from edge_vc.stages.dsp import DSPParams

    return DSPParams.from_dict(params)


def _build_dsp(params: dict[str, Any], ctx: BuildContext) -> VoiceStage:
    from edge_vc.stages.dsp import DSPStage

    return DSPStage(_parse_dsp(params), ctx.sample_rate)


def _estimate_dsp(inputs: EstimateInput) -> Estimate:
    from edge_vc.stages.dsp_estimate import estimate_params

    audio, rate = inputs.audio, inputs.sample_rate
    params = estimate_params(audio, rate, inputs.base_voice, encoder=inputs.encoder)
    reason = (
        f"DSP stage estimated from {len(audio) / rate:.0f} s: pitch {params.pitch_shift_semitones:+.1f} st, "
        f"formant warp {params.formant_warp:.3f}, {len(params.eq_gains_db)}-band EQ"
    )
    if "refine_similarity" in params.stats:
        reason += f", encoder similarity {params.stats['refine_similarity']:.3f}"
    return Estimate(params.to_dict(), reason)


# ---------------------------------------------------------------- learned


def _parse_learned(params: dict[str, Any]):
    """Empty parameters mean the profile's own ``learned/`` folder."""
    if not params:
        return None
    from edge_vc.stages.learned import LearnedStageConfig

    return LearnedStageConfig.from_dict(params)


def _build_learned(params: dict[str, Any], ctx: BuildContext) -> VoiceStage:
    from edge_vc.stages.learned import LearnedStage

    config = _parse_learned(params)
    if config is None:
        if ctx.profile_dir is None:
            raise ProfileError("the learned stage needs its profile folder or decoder_path")
        return LearnedStage.for_profile(ctx.profile_dir, threads=ctx.threads)
    return LearnedStage(config, base_dir=ctx.profile_dir, threads=ctx.threads)


# ---------------------------------------------------------------- converter


def _parse_converter(params: dict[str, Any]):
    from edge_vc.stages.converter import ConverterStageConfig

    return ConverterStageConfig.from_dict(params)


def _build_converter(params: dict[str, Any], ctx: BuildContext) -> VoiceStage:
    from edge_vc.stages.converter import ConverterStage

    return ConverterStage(_parse_converter(params), threads=ctx.threads)


def _estimate_converter(inputs: EstimateInput) -> Estimate:
    from edge_vc.stages.converter import converter_params

    model = str(inputs.converter)
    params = converter_params(model, inputs.audio, inputs.sample_rate, inputs.base_voice, threads=inputs.threads)
    seconds = len(inputs.audio) / inputs.sample_rate
    return Estimate(params, f"tone-colour converter {Path(model).name} (tone colour from {seconds:.0f} s)")


# ---------------------------------------------------------------- the registry

STAGES: dict[str, StageEntry] = {
    "none": StageEntry("none", "edge_vc.stages.base", _parse_none, _build_none, _estimate_none),
    "dsp": StageEntry("dsp", "edge_vc.stages.dsp", _parse_dsp, _build_dsp, _estimate_dsp),
    "learned": StageEntry("learned", "edge_vc.stages.learned", _parse_learned, _build_learned),
    "converter": StageEntry(
        "converter", "edge_vc.stages.converter", _parse_converter, _build_converter, _estimate_converter, ("converter",)
    ),
}
"""Stage kind → entry. The only place that dispatches on a kind."""

STAGE_KINDS = tuple(STAGES)


def check_kind(kind: str) -> str:
    """``kind`` if it is a known stage kind, else a ProfileError naming the known ones."""
    if kind not in STAGES:
        raise ProfileError(f"unknown voice-stage kind {kind!r} (known: {', '.join(STAGE_KINDS)})")
    return kind


def entry(kind: str) -> StageEntry:
    """The registry entry of ``kind`` (ProfileError for an unknown kind)."""
    return STAGES[check_kind(kind)]


def estimable_kinds(from_recording_only: bool = False) -> tuple[str, ...]:
    """Kinds that enrollment can estimate (``from_recording_only``: those needing nothing but the recording)."""
    return tuple(k for k, e in STAGES.items() if e.estimate is not None and not (from_recording_only and e.needs))


def parse_params(kind: str, params: dict[str, Any] | None = None) -> Any:
    """The validated config of ``kind``'s stored ``params`` (ProfileError when they are unusable)."""
    return entry(kind).parse(dict(params or {}))


def estimate_stage(kind: str, inputs: EstimateInput) -> Estimate:
    """The parameters and reason of ``kind`` for an enrollment (EnrollmentError when it cannot be estimated).

    ImportError propagates when the kind's code is not installed (enrollment may then fall back).
    """
    stage = entry(kind)
    if stage.estimate is None:
        raise EnrollmentError(f"the {kind} voice stage is not estimated at enrollment")
    missing = [name for name in stage.needs if not getattr(inputs, name)]
    if missing:
        raise EnrollmentError(f"the {kind} voice stage needs {', '.join(missing)}")
    return stage.estimate(inputs)


def build_stage(
    kind: str,
    params: dict[str, Any] | None = None,
    sample_rate: int | None = None,
    profile_dir: str | Path | None = None,
    threads: int | None = None,
) -> VoiceStage:
    """The voice stage a profile describes (``kind`` and its stored ``params``)."""
    return entry(kind).build(dict(params or {}), BuildContext(sample_rate, profile_dir, threads))


def stage_from_recording(kind: str, audio, sample_rate: int, base_voice, encoder=None, threads=None) -> VoiceStage:
    """Estimate ``kind`` from a recording and build it for ``base_voice`` (the bench and ``edge-vc eval``)."""
    estimate = estimate_stage(kind, EstimateInput(audio, sample_rate, base_voice, encoder, threads=threads))
    return build_stage(kind, estimate.params, sample_rate=base_voice.sample_rate, threads=threads)
