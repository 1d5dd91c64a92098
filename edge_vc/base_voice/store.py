"""The voice store: install, validate, list and remove local Piper voices (no network).

A voice is installed only after it loads and speaks: the sidecar must parse, its speaker count must
match the model's inputs (and speaker table, when ``onnx`` is available to read it), and every
phoneme id of the sidecar must fit the model's phoneme table. Any failure leaves the store unchanged.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_vc.base_voice.catalog import DEFAULT_VOICE, VoiceFiles, installed_voices
from edge_vc.base_voice.config import VoiceConfig
from edge_vc.errors import ModelLoadError, VoiceConfigError, VoiceNotFoundError
from edge_vc.fileio import atomic_path
from edge_vc.paths import cache_dir, voices_dir

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$")


@dataclass(frozen=True)
class VoiceInfo:
    """A validated voice: its files, speaker count and rate."""

    files: VoiceFiles
    num_speakers: int
    sample_rate: int
    size_bytes: int

    @property
    def name(self) -> str:
        return self.files.name


def _static_checks(model_path: Path, config: VoiceConfig) -> None:
    """Compare the sidecar with the graph's tables (needs ``onnx``; skipped without it)."""
    try:
        import onnx
    except ImportError:
        return
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # onnx raises DecodeError and others
        raise ModelLoadError(f"{model_path} is not a readable ONNX model: {exc}") from exc
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Gather" or node.input[0] not in inits:
            continue
        dims = list(inits[node.input[0]].dims)
        if len(dims) != 2:
            continue
        if node.input[1] == "input":
            top = max(i for ids in config.phoneme_id_map.values() for i in ids)
            if top >= dims[0]:
                raise VoiceConfigError(
                    f"the sidecar's phoneme ids go up to {top} but the model's phoneme table has {dims[0]} rows"
                )
        if node.input[1] == "sid" and config.num_speakers != dims[0]:
            raise VoiceConfigError(
                f"the sidecar says {config.num_speakers} speakers but the model's speaker table has {dims[0]}"
            )


def validate_voice(model_path: str | Path, threads: int | None = 1) -> VoiceInfo:
    """Load and smoke-test a Piper voice; raise a clear EdgeVCError if it cannot be used."""
    from edge_vc.base_voice.voice import BaseVoice

    model_path = Path(model_path).expanduser()
    if not model_path.is_file():
        raise VoiceNotFoundError(f"voice model not found: {model_path}")
    if model_path.suffix != ".onnx":
        raise VoiceConfigError(f"{model_path} is not a .onnx file")
    sidecar = model_path.with_name(model_path.name + ".json")
    if not sidecar.is_file():
        raise VoiceNotFoundError(
            f"{model_path.name} has no sidecar: expected {sidecar.name} beside it (Piper voices ship both files)"
        )
    name = model_path.name.removesuffix(".onnx")
    files = VoiceFiles(name, model_path, sidecar)
    voice = BaseVoice.load(files, threads=threads)
    config = voice.config
    inputs = {i.name for i in voice.session.get_inputs()}
    if config.num_speakers == 1 and "sid" in inputs:
        raise VoiceConfigError(f"{sidecar.name} says 1 speaker but the model takes a speaker id ('sid')")
    if config.speaker_id_map and max(config.speaker_id_map.values()) >= config.num_speakers:
        raise VoiceConfigError(f"{sidecar.name}: speaker_id_map has ids beyond num_speakers={config.num_speakers}")
    _static_checks(model_path, config)
    _smoke_run(voice)
    return VoiceInfo(files, config.num_speakers, config.sample_rate, model_path.stat().st_size)


def _smoke_run(voice) -> None:
    """Run every phoneme id (and the last speaker) once: out-of-range tables fail here."""
    from edge_vc.base_voice.config import BOS, EOS, PAD

    id_map = voice.config.phoneme_id_map
    body = sorted({i for key, ids in id_map.items() if key not in (BOS, EOS) for i in ids})
    ids = [*id_map[BOS], *id_map[PAD], *body, *id_map[EOS]]
    syn = voice.config.default_synthesis()
    syn.noise_scale = syn.noise_w = 0.0
    syn.speaker_id = voice.config.num_speakers - 1 if voice.config.num_speakers > 1 else None
    try:
        audio = voice.phoneme_ids_to_audio(ids, syn)
    except Exception as exc:  # onnxruntime errors on out-of-range Gather indices and bad shapes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VoiceConfigError(f"the model does not match its sidecar (test synthesis failed): {first}") from exc
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise ModelLoadError("the model produced no usable audio in a test synthesis")


def _copy_atomic(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def install_voice(model_path: str | Path, name: str | None = None, force: bool = False) -> VoiceInfo:
    """Validate, then copy ``NAME.onnx`` + ``NAME.onnx.json`` into the store; returns the installed voice."""
    info = validate_voice(model_path)
    name = name or info.name
    if not _NAME_RE.match(name):
        raise VoiceConfigError(f"'{name}' is not a valid voice name (letters, digits, . _ + -)")
    if name in (DEFAULT_VOICE, "joe", "default"):
        raise VoiceConfigError(f"'{name}' is the bundled voice's name; pick another with --name")
    folder = voices_dir()
    dst_model = folder / f"{name}.onnx"
    dst_config = folder / f"{name}.onnx.json"
    if (dst_model.exists() or dst_config.exists()) and not force:
        raise VoiceConfigError(f"a voice named '{name}' is already installed (use --force to replace it)")
    folder.mkdir(parents=True, exist_ok=True)
    _copy_atomic(info.files.config_path, dst_config)
    try:
        _copy_atomic(info.files.model_path, dst_model)
    except BaseException:
        dst_config.unlink(missing_ok=True)
        raise
    clear_voice_cache(name)
    files = VoiceFiles(name, dst_model, dst_config)
    return VoiceInfo(files, info.num_speakers, info.sample_rate, info.size_bytes)


def voice_cache_dir(name: str) -> Path:
    """Derived files of an installed voice (speaker atlas, g-input variant)."""
    return cache_dir() / "voices" / name


def clear_voice_cache(name: str) -> None:
    folder = voice_cache_dir(name)
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


def remove_voice(name: str) -> VoiceFiles:
    """Delete an installed voice and its derived files; the bundled voice cannot be removed."""
    if name in (DEFAULT_VOICE, "joe", "default"):
        raise VoiceConfigError(f"'{name}' is the bundled voice; it cannot be removed")
    for voice in installed_voices():
        if voice.name == name:
            voice.model_path.unlink(missing_ok=True)
            voice.config_path.unlink(missing_ok=True)
            clear_voice_cache(name)
            return voice
    raise VoiceNotFoundError(f"no installed voice named '{name}'")


def list_voices(include_bundled: bool = True) -> list[VoiceInfo]:
    """Installed (and bundled) voices with their speaker counts, from the sidecars (no model load)."""
    from edge_vc.base_voice.catalog import bundled_voice

    files = ([bundled_voice()] if include_bundled else []) + installed_voices()
    found = []
    for item in files:
        try:
            config = VoiceConfig.load(item.config_path)
        except VoiceConfigError:
            continue
        found.append(VoiceInfo(item, config.num_speakers, config.sample_rate, item.model_path.stat().st_size))
    return found
