"""What a benchmark can measure on this install, found at run time.

- voice variants: the voice's own model (ONNX fp32) plus exported siblings (INT8 ONNX, and the
  LiteRT voice ``NAME.tflite.json`` with its three ``.tflite`` parts, labelled ``litert``) found
  beside it, in the voice store, the cache, ``edge_vc/data[/voices]`` and ``./out/voices``
  (where ``edge-vc export voice`` writes by default); or given explicitly;
- speaker encoders: every ``speaker_encoder*.onnx|.tflite`` shipped in ``edge_vc/data``;
- voice stages: ``STAGE_BUILDERS`` (stage name → builder from a reference recording), plus profiles.

A variant that cannot be loaded here (missing runtime, unknown format) is reported as skipped
with the reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from edge_vc.base_voice.catalog import resolve_voice
from edge_vc.paths import cache_dir, voices_dir
from edge_vc.stages.registry import entry, estimable_kinds, stage_from_recording

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class Variant:
    """One model file to measure, with a label such as ``onnx-fp32``."""

    label: str
    path: Path


PART_SUFFIXES = (".encoder.tflite", ".flow.tflite", ".decoder.tflite")
"""Parts of a LiteRT voice: measured together through their ``NAME.tflite.json``, never one by one."""


def is_litert_voice(path: Path) -> bool:
    return path.name.lower().endswith(".tflite.json")


def label_for(path: Path) -> str:
    """``onnx-fp32``, ``onnx-int8``, ``litert`` (a ``.tflite.json`` voice), ``tflite``/``tflite-int8`` from the name."""
    name = path.name.lower()
    if is_litert_voice(path):
        return "litert-fp32" if ".fp32." in name else "litert"
    backend = "tflite" if name.endswith(".tflite") else "onnx"
    precision = "int8" if "int8" in name or "qdq" in name or "quant" in name else "fp32"
    if backend == "tflite" and precision == "fp32" and "fp32" not in name:
        return "tflite"
    return f"{backend}-{precision}"


def files_of(variant: Variant) -> list[Path]:
    """The files a variant is made of: a LiteRT voice is its ``.tflite.json`` and its three parts."""
    if not is_litert_voice(variant.path):
        return [variant.path]
    stem = variant.path.name[: -len(".tflite.json")]
    return [variant.path] + [variant.path.with_name(stem + suffix) for suffix in PART_SUFFIXES]


def load_voice_variant(variant: Variant, files, threads: int):
    """A voice variant on the runtime its format needs: LiteRT for ``.tflite.json``, else onnxruntime."""
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.errors import ModelLoadError

    if is_litert_voice(variant.path):
        return BaseVoice.load(str(variant.path), threads=threads, backend="litert")
    if variant.path.suffix == ".tflite":
        raise ModelLoadError(
            "a single .tflite file is not a voice: a LiteRT voice is NAME.tflite.json with its "
            "encoder/flow/decoder .tflite parts (edge-vc export voice --format tflite)"
        )
    return BaseVoice.load(files, threads=threads, backend="onnx")


def backend_of(variant: Variant) -> str:
    """``litert`` for a LiteRT voice (or another ``.tflite``), else ``onnx``."""
    return "litert" if is_litert_voice(variant.path) or variant.path.suffix == ".tflite" else "onnx"


def voice_variants(
    voice: str | None = None, extra: list[str] | None = None, backend: str | None = None
) -> list[Variant]:
    """The voice's model plus exported siblings; ``extra`` entries are ``PATH`` or ``LABEL=PATH``.

    ``backend`` (``onnx`` or ``litert``) keeps only the variants that runtime runs.
    """
    files = resolve_voice(voice)
    base = files.model_path
    stem = base.name[: -len(".onnx")] if base.name.endswith(".onnx") else base.stem
    found: dict[Path, Variant] = {base.absolute(): Variant(label_for(base), base)}
    folders = (base.parent, voices_dir(), cache_dir(), DATA_DIR, DATA_DIR / "voices", Path.cwd() / "out" / "voices")
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"{stem}*")):
            model = path.suffix in (".onnx", ".tflite") and not path.name.lower().endswith(PART_SUFFIXES)
            if (model or is_litert_voice(path)) and path.absolute() not in found and path.is_file():
                found[path.absolute()] = Variant(label_for(path), path)
    for item in extra or []:
        label, _, raw = item.rpartition("=") if "=" in item else ("", "", item)
        path = Path(raw).expanduser()
        found[path.absolute()] = Variant(label or label_for(path), path)
    variants = [v for v in found.values() if backend is None or backend_of(v) == backend]
    return _unique_labels(variants)


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

STAGE_BUILDERS: dict[str, StageBuilder] = {kind: partial(stage_from_recording, kind) for kind in estimable_kinds(True)}
"""Voice stages the bench and ``edge-vc eval`` can build from a reference recording: every registry kind
(``edge_vc.stages.registry``) whose estimate needs nothing but the recording. A builder that raises
ImportError is reported as unavailable."""


def available_stages(names: list[str] | None = None) -> list[str]:
    """Stage names whose modules import here (all registered ones when ``names`` is None)."""
    return [name for name in names or list(STAGE_BUILDERS) if name in STAGE_BUILDERS and entry(name).available()]


def build_stage(name: str, audio: np.ndarray, rate: int, voice, encoder=None):
    """A voice stage of kind ``name`` enrolled from ``audio``."""
    if name not in STAGE_BUILDERS:
        raise KeyError(f"unknown voice stage {name!r}; known: {', '.join(STAGE_BUILDERS)}")
    return STAGE_BUILDERS[name](audio, rate, voice, encoder)
