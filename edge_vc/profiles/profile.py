"""Voice profiles: a small versioned folder per enrolled speaker, written atomically.

``profiles_dir()/NAME/`` holds ``profile.yaml`` (everything readable), ``embedding.npz`` (the
speaker embedding and per-window embeddings) and optionally ``enrollment.wav`` (16-bit, at most
60 s, kept for later adaptation of the learned stage). A profile is built in a temporary folder
beside the target and swapped in with one rename (``renameat2(RENAME_EXCHANGE)`` where Linux has
it), so a crash or kill mid-write leaves the previous profile as it was. See docs/enrollment.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.configs import from_mapping
from edge_vc.errors import ProfileError
from edge_vc.profiles import atomic as atomic_dir
from edge_vc.profiles.atomic import TMP_TAG, install_dir, recover
from edge_vc.stages.registry import check_kind

SCHEMA_VERSION = 1
PROFILE_FILE = "profile.yaml"
EMBEDDING_FILE = "embedding.npz"
ENROLLMENT_FILE = "enrollment.wav"
MAX_ENROLLMENT_SECONDS = 60.0
NO_CONSENT = "no-consent import"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_name(name: str) -> str:
    """A profile name: 1-64 of letters, digits, ``_ . -``, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or ".." in name:
        raise ProfileError(
            f"invalid profile name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (no path separators)"
        )
    return name


def profiles_root(root: str | Path | None = None) -> Path:
    from edge_vc.paths import profiles_dir

    return Path(root) if root is not None else profiles_dir()


def profile_path(name: str, root: str | Path | None = None) -> Path:
    return profiles_root(root) / validate_name(name)


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class ConsentRecord:
    """How the speaker agreed: a spoken challenge phrase checked by ASR, or an import without consent."""

    mode: str
    """``challenge`` or ``no-consent import``."""

    result: str
    """``passed`` for a checked challenge; ``not checked`` for imports."""

    time: str = field(default_factory=now_utc)
    phrase: str = ""
    transcript: str = ""
    score: float | None = None
    """Share of challenge words the ASR heard (challenge mode)."""

    def validate(self) -> None:
        if self.mode not in ("challenge", NO_CONSENT):
            raise ProfileError(f"consent mode must be 'challenge' or '{NO_CONSENT}', got {self.mode!r}")
        if self.mode == "challenge" and (not self.phrase or self.result != "passed"):
            raise ProfileError("a challenge consent record needs its phrase and result 'passed'")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": self.mode, "result": self.result, "time": self.time}
        if self.mode == "challenge":
            data.update(phrase=self.phrase, transcript=self.transcript, score=self.score)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ConsentRecord:
        """A stored consent record (other keys ignored; nulls read as absent); ProfileError."""
        if isinstance(data, dict):  # no stored time stays unknown, never "now"
            data = {"time": "", **{k: v for k, v in data.items() if v is not None}}
        return from_mapping(ConsentRecord, data, what="consent record", error=ProfileError, unknown="ignore")


@dataclass
class VoiceProfile:
    """One enrolled speaker."""

    name: str
    base: dict[str, Any]
    """The base voice (``edge_vc.speaker.base_select.BaseChoice.to_dict``; at least ``voice``)."""

    stage_kind: str
    stage_params: dict[str, Any]
    stage_reason: str
    encoder: dict[str, Any]
    """``name``, ``version``, ``sha256`` of the speaker encoder that made ``embedding``."""

    enrollment: dict[str, Any]
    """Source stats: files or device, seconds, speech seconds, sample rate."""

    coach: dict[str, Any]
    consent: ConsentRecord
    embedding: np.ndarray
    window_embeddings: np.ndarray | None = None
    created: str = field(default_factory=now_utc)
    schema_version: int = SCHEMA_VERSION
    path: Path | None = None
    """Folder the profile was loaded from (None before saving)."""

    def validate(self) -> None:
        validate_name(self.name)
        try:
            check_kind(self.stage_kind)
        except ProfileError as exc:
            raise ProfileError(f"profile {self.name}: {exc}") from exc
        if not isinstance(self.base, dict) or not self.base.get("voice"):
            raise ProfileError(f"profile {self.name}: base voice is missing")
        for key in ("name", "version", "sha256"):
            if key not in self.encoder:
                raise ProfileError(f"profile {self.name}: encoder record lacks {key!r}")
        emb = np.asarray(self.embedding)
        if emb.ndim != 1 or emb.size == 0 or not np.all(np.isfinite(emb)):
            raise ProfileError(f"profile {self.name}: embedding must be a finite vector, got shape {emb.shape}")
        self.consent.validate()

    def to_dict(self) -> dict[str, Any]:
        """The YAML document (arrays are stored beside it)."""
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "created": self.created,
            "base": self.base,
            "stage": {"kind": self.stage_kind, "reason": self.stage_reason, "params": self.stage_params},
            "encoder": self.encoder,
            "enrollment": self.enrollment,
            "coach": self.coach,
            "consent": self.consent.to_dict(),
            "files": {"embedding": EMBEDDING_FILE},
        }

    @staticmethod
    def from_dict(data: Any, arrays: dict[str, np.ndarray], path: Path | None = None) -> VoiceProfile:
        """Parse a profile.yaml document; ProfileError for unknown schemas or missing parts."""
        where = str(path) if path else "profile"
        if not isinstance(data, dict):
            raise ProfileError(f"{where}: {PROFILE_FILE} is not a mapping")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise ProfileError(f"{where}: {PROFILE_FILE} has no integer schema_version")
        if version > SCHEMA_VERSION:
            raise ProfileError(
                f"{where}: profile schema {version} is newer than this edge-vc understands ({SCHEMA_VERSION}); "
                "upgrade edge-vc"
            )
        if version < 1:
            raise ProfileError(f"{where}: unknown profile schema {version}")
        try:
            stage = data["stage"]
            profile = VoiceProfile(
                name=str(data["name"]),
                base=dict(data["base"]),
                stage_kind=str(stage["kind"]),
                stage_params=dict(stage.get("params") or {}),
                stage_reason=str(stage.get("reason", "")),
                encoder=dict(data["encoder"]),
                enrollment=dict(data.get("enrollment") or {}),
                coach=dict(data.get("coach") or {}),
                consent=ConsentRecord.from_dict(dict(data["consent"])),
                embedding=np.asarray(arrays["embedding"], dtype=np.float32),
                window_embeddings=arrays.get("window_embeddings"),
                created=str(data.get("created", "")),
                schema_version=version,
                path=path,
            )
        except ProfileError as exc:
            raise ProfileError(f"{where}: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{where}: {PROFILE_FILE} is incomplete or malformed ({exc!r})") from exc
        profile.validate()
        return profile

    # ------------------------------------------------------------------ storage

    @staticmethod
    def load(name: str, root: str | Path | None = None, check_encoder: bool = True) -> VoiceProfile:
        """Read profile ``name``; ProfileError if it is missing, corrupt or from another encoder."""
        folder = profile_path(name, root)
        recover(folder.parent)
        if not (folder / PROFILE_FILE).is_file():
            raise ProfileError(f"no profile named {name!r} in {folder.parent}")
        profile = read_profile_dir(folder)
        if profile.name != name:
            raise ProfileError(f"{folder}: the profile inside is named {profile.name!r}, not {name!r}")
        if check_encoder:
            check_encoder_compatible(profile)
        return profile

    @property
    def enrollment_path(self) -> Path | None:
        if self.path is None or not (self.path / ENROLLMENT_FILE).is_file():
            return None
        return self.path / ENROLLMENT_FILE

    def save(
        self,
        root: str | Path | None = None,
        enrollment_audio: tuple[np.ndarray, int] | None = None,
        overwrite: bool = False,
        extra_files: dict[str, Path] | None = None,
    ) -> Path:
        """Write the whole profile atomically; returns its folder.

        ``enrollment_audio`` (audio, rate) is stored as 16-bit ``enrollment.wav`` (at most 60 s).
        Without ``overwrite`` an existing profile of the same name raises ProfileError.
        """
        import yaml

        from edge_vc.audio.io import wav_bytes

        self.validate()
        folder = profile_path(self.name, root)
        folder.parent.mkdir(parents=True, exist_ok=True)
        recover(folder.parent)
        if folder.exists() and not overwrite:
            raise ProfileError(f"a profile named {self.name!r} exists; pass --force to replace it")
        tmp = folder.with_name(f".{self.name}{TMP_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(mode=0o700)  # private on purpose: a profile holds a person's voice (owner only)
        try:
            arrays = {"embedding": np.asarray(self.embedding, np.float32)}
            if self.window_embeddings is not None:
                arrays["window_embeddings"] = np.asarray(self.window_embeddings, np.float32)
            with open(tmp / EMBEDDING_FILE, "wb") as handle:
                np.savez(handle, allow_pickle=False, **arrays)
                atomic_dir.sync_file(handle)
            if enrollment_audio is not None:
                audio, rate = enrollment_audio
                audio = np.asarray(audio, np.float32)[: int(MAX_ENROLLMENT_SECONDS * rate)]
                atomic_dir.write_synced(tmp / ENROLLMENT_FILE, wav_bytes(audio, int(rate)))
            for rel, source in (extra_files or {}).items():
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest)
            text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
            atomic_dir.write_synced(tmp / PROFILE_FILE, text.encode("utf-8"))
            atomic_dir.fsync_dir(tmp)
            install_dir(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = folder
        return folder


def read_profile_dir(folder: Path) -> VoiceProfile:
    """Parse a profile folder (used for installed profiles and for imports before installing)."""
    import yaml

    try:
        data = yaml.safe_load((folder / PROFILE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{folder}: cannot read {PROFILE_FILE} ({exc})") from exc
    try:
        with np.load(folder / EMBEDDING_FILE, allow_pickle=False) as npz:
            arrays = {key: np.asarray(npz[key]) for key in npz.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ProfileError(f"{folder}: cannot read {EMBEDDING_FILE} ({exc})") from exc
    return VoiceProfile.from_dict(data, arrays, path=folder)


def list_profiles(root: str | Path | None = None) -> list[str]:
    """Names of installed profiles (folders with a profile.yaml), sorted."""
    folder = profiles_root(root)
    if not folder.is_dir():
        return []
    recover(folder)
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / PROFILE_FILE).is_file())


def remove_profile(name: str, root: str | Path | None = None) -> Path:
    """Delete profile ``name`` (renamed aside first, so a crash never leaves half a profile)."""
    folder = profile_path(name, root)
    if not (folder / PROFILE_FILE).is_file():
        raise ProfileError(f"no profile named {name!r} in {folder.parent}")
    trash = folder.with_name(f".{name}.rm-{uuid.uuid4().hex[:8]}")
    os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return folder


# ---------------------------------------------------------------- encoder identity

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


def encoder_record(encoder) -> dict[str, Any]:
    """What a profile stores about the SpeakerEncoder that made its embedding."""
    meta = encoder.metadata
    # a bundled TFLite conversion records its ONNX twin, so the profile loads on either backend
    name, sha = encoder.identity() if hasattr(encoder, "identity") else (Path(encoder.path).name, None)
    return {
        "name": str(meta.source),
        "version": int(meta.export_version),
        "precision": str(meta.precision),
        "file": name,
        "sha256": sha or file_sha256(Path(encoder.path)),
        "embedding_size": int(meta.embedding_size),
    }


def check_encoder_compatible(profile: VoiceProfile, encoder_path: Path | None = None) -> None:
    """ProfileError when the installed speaker encoder differs from the one the profile was made with.

    Compares the export version and the model file's sha256 with the bundled encoder (or
    ``encoder_path``); skipped when no encoder file is installed.
    """
    from edge_vc.speaker.encoder import BUNDLED_MODEL, EXPORT_VERSION

    path = Path(encoder_path) if encoder_path else BUNDLED_MODEL
    stored = profile.encoder
    fix = f"re-enroll it (edge-vc enroll {profile.name} ... --force)"
    if int(stored.get("version", -1)) != EXPORT_VERSION:
        raise ProfileError(
            f"profile {profile.name} was made with speaker-encoder version {stored.get('version')}; "
            f"this edge-vc uses version {EXPORT_VERSION}: {fix}"
        )
    if not path.is_file():
        return
    if stored.get("sha256") != file_sha256(path):
        raise ProfileError(
            f"profile {profile.name} was made with a different speaker encoder ({stored.get('file')} "
            f"sha256 {str(stored.get('sha256'))[:12]}…, this edge-vc has {path.name} {file_sha256(path)[:12]}…): {fix}"
        )
