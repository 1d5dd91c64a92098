"""What a benchmark can measure on this install, found at run time.

- voice variants: the voice's own model (ONNX fp32) plus exported siblings (INT8 ONNX, TFLite)
  found beside it, in the voice store, the cache, ``edge_vc/data[/voices]`` and ``./out/voices``
  (where ``edge-vc export voice`` writes by default); or given explicitly;
- speaker encoders: every ``speaker_encoder*.onnx|.tflite`` shipped in ``edge_vc/data``;
- voice stages: ``STAGE_BUILDERS`` (stage name → builder from a reference recording), plus profiles.

A variant that cannot be loaded here (missing runtime, unknown format) is reported as skipped
with the reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import cache_dir, voices_dir
from ..tts.catalog import resolve_voice

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Variant:
    """One model file to measure, with a label such as ``onnx-fp32``."""

    label: str
    path: Path


def label_for(path: Path) -> str:
    """``onnx-fp32``, ``onnx-int8``, ``tflite``/``tflite-int8`` from the file name."""
    name = path.name.lower()
    backend = "tflite" if name.endswith(".tflite") else "onnx"
    precision = "int8" if "int8" in name or "qdq" in name or "quant" in name else "fp32"
    if backend == "tflite" and precision == "fp32" and "fp32" not in name:
        return "tflite"
    return f"{backend}-{precision}"


def voice_variants(voice: str | None = None, extra: list[str] | None = None) -> list[Variant]:
    """The voice's model plus exported siblings; ``extra`` entries are ``PATH`` or ``LABEL=PATH``."""
    files = resolve_voice(voice)
    base = files.model_path
    stem = base.name[: -len(".onnx")] if base.name.endswith(".onnx") else base.stem
    found: dict[Path, Variant] = {base.absolute(): Variant(label_for(base), base)}
    folders = (base.parent, voices_dir(), cache_dir(), DATA_DIR, DATA_DIR / "voices", Path.cwd() / "out" / "voices")
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"{stem}*")):
            if path.suffix in (".onnx", ".tflite") and path.absolute() not in found and path.is_file():
                found[path.absolute()] = Variant(label_for(path), path)
    for item in extra or []:
        label, _, raw = item.rpartition("=") if "=" in item else ("", "", item)
        path = Path(raw).expanduser()
        found[path.absolute()] = Variant(label or label_for(path), path)
    return _unique_labels(list(found.values()))


def encoder_variants(extra: list[str] | None = None) -> list[Variant]:
    """Speaker-encoder files shipped with edge-vc (and any given)."""
    paths = sorted(DATA_DIR.glob("speaker_encoder*.onnx")) + sorted(DATA_DIR.glob("speaker_encoder*.tflite"))
    paths += [Path(p).expanduser() for p in extra or []]
    return _unique_labels([Variant(label_for(p), p) for p in paths])


def _unique_labels(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, int] = {}
    out = []
    for v in variants:
        seen[v.label] = seen.get(v.label, 0) + 1
        out.append(v if seen[v.label] == 1 else Variant(f"{v.label}#{seen[v.label]}", v.path))
    return out


# ---------------------------------------------------------------- voice stages

StageBuilder = Callable[[np.ndarray, int, object, object], object]
"""(reference audio, its rate, BaseVoice, SpeakerEncoder or None) -> VoiceStage."""


def _none_stage(audio, rate, voice, encoder):
    from ..clone.stages.base import IdentityStage

    return IdentityStage()


def _dsp_stage(audio, rate, voice, encoder):
    from ..clone.stages.dsp import DSPStage

    return DSPStage.from_params(DSPStage.estimate(audio, rate, voice, encoder=encoder), voice.sample_rate)


STAGE_BUILDERS: dict[str, StageBuilder] = {
    "none": _none_stage,
    "dsp": _dsp_stage,
}
"""Voice stages the bench and ``edge-vc eval`` can build from a reference recording.
Add one line per new stage kind; a builder that raises ImportError is reported as unavailable."""


def available_stages(names: list[str] | None = None) -> list[str]:
    """Stage names whose modules import here (all registered ones when ``names`` is None)."""
    import importlib

    modules = {"none": "edge_vc.clone.stages.base", "dsp": "edge_vc.clone.stages.dsp"}
    out = []
    for name in names or list(STAGE_BUILDERS):
        if name not in STAGE_BUILDERS:
            continue
        try:
            if name in modules:
                importlib.import_module(modules[name])
        except ImportError:
            continue
        out.append(name)
    return out


def build_stage(name: str, audio: np.ndarray, rate: int, voice, encoder=None):
    """A voice stage of kind ``name`` enrolled from ``audio``."""
    if name not in STAGE_BUILDERS:
        raise KeyError(f"unknown voice stage {name!r}; known: {', '.join(STAGE_BUILDERS)}")
    return STAGE_BUILDERS[name](audio, rate, voice, encoder)
