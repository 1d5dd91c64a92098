"""Export a profile as one ``.evc`` file (a gzip tar of its folder) and import one safely.

Import extracts into a temporary folder beside the profiles, refuses links, absolute paths, ``..``
and oversized archives, parses and validates the profile (schema, encoder, arrays, enrollment
audio) and only then installs it with the same atomic swap as enrollment.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
import zlib
from pathlib import Path

import yaml

from edge_vc.errors import ProfileError
from edge_vc.fileio import atomic_write_bytes
from edge_vc.profiles.atomic import TMP_TAG, fsync_dir, install_dir, recover, sync_file
from edge_vc.profiles.profile import (
    ENROLLMENT_FILE,
    MAX_ENROLLMENT_SECONDS,
    PROFILE_FILE,
    check_encoder_compatible,
    profile_path,
    profiles_root,
    read_profile_dir,
    validate_name,
)
from edge_vc.stages.registry import parse_params

SUFFIX = ".evc"
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
"""Refuse archives that unpack to more than this."""
SKIP_SUFFIXES = (".ckpt", ".tmp")
"""Resumable training checkpoints and temp files stay behind on export."""


def export_profile(name: str, out: str | Path | None = None, root: str | Path | None = None) -> Path:
    """Write profile ``name`` to ``out`` (default ``NAME.evc`` in the current folder)."""
    from edge_vc.profiles.profile import VoiceProfile

    profile = VoiceProfile.load(name, root=root, check_encoder=False)
    assert profile.path is not None  # set by VoiceProfile.load
    folder = Path(profile.path)
    target = Path(out) if out else Path(f"{name}{SUFFIX}")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_symlink() or any(part.startswith(".") for part in rel.parts):
                continue
            if path.is_file() and path.suffix in SKIP_SUFFIXES:
                continue
            tar.add(path, arcname=str(Path(name) / rel), recursive=False)
    atomic_write_bytes(target, buffer.getvalue())
    return target


def _safe_members(tar: tarfile.TarFile) -> tuple[str, list[tarfile.TarInfo]]:
    members = tar.getmembers()
    if not members:
        raise ProfileError("the archive is empty")
    total = 0
    tops = set()
    for m in members:
        parts = Path(m.name).parts
        if m.name.startswith("/") or ".." in parts or not parts:
            raise ProfileError(f"the archive has an unsafe path: {m.name!r}")
        if not (m.isfile() or m.isdir()):
            raise ProfileError(f"the archive has a link or special file: {m.name!r}")
        total += max(m.size, 0)
        tops.add(parts[0])
    if total > MAX_ARCHIVE_BYTES:
        raise ProfileError(f"the archive unpacks to {total / 1e6:.0f} MB; profiles are far smaller")
    if len(tops) != 1:
        raise ProfileError(f"the archive should hold one profile folder, found {sorted(tops)}")
    return tops.pop(), members


def import_profile(
    archive: str | Path, name: str | None = None, force: bool = False, root: str | Path | None = None
) -> Path:
    """Validate and install a ``.evc`` archive; returns the installed folder."""
    archive = Path(archive)
    if not archive.is_file():
        raise ProfileError(f"archive not found: {archive}")
    try:
        tar = tarfile.open(archive, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ProfileError(f"{archive} is not an edge-vc profile archive ({exc})") from exc
    with tar:
        try:
            top, members = _safe_members(tar)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ProfileError(f"{archive} is damaged ({exc})") from exc
        final = validate_name(name or top)
        dest = profile_path(final, root)
        if dest.exists() and not force:
            raise ProfileError(f"a profile named {final!r} exists; pass --force to replace it (or --name NEW)")
        base = profiles_root(root)
        base.mkdir(parents=True, exist_ok=True)
        recover(base)
        tmp = base / f".{final}{TMP_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(mode=0o700)  # private on purpose: a profile holds a person's voice (owner only)
        try:
            for m in members:
                rel = Path(*Path(m.name).parts[1:]) if len(Path(m.name).parts) > 1 else None
                if rel is None:
                    continue
                target = tmp / rel
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(m)
                if source is None:
                    raise ProfileError(f"cannot read {m.name!r} from the archive")
                with source, open(target, "wb") as handle:
                    shutil.copyfileobj(source, handle)
                    sync_file(handle)
            _validate_unpacked(tmp, final)
            fsync_dir(tmp)
            install_dir(tmp, dest)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ProfileError(f"{archive} is damaged ({exc})") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def _validate_unpacked(folder: Path, name: str) -> None:
    """Parse everything the profile holds; rename it to ``name`` inside profile.yaml if needed."""
    if not (folder / PROFILE_FILE).is_file():
        raise ProfileError(f"the archive has no {PROFILE_FILE}")
    profile = read_profile_dir(folder)
    check_encoder_compatible(profile)
    wav = folder / ENROLLMENT_FILE
    if wav.exists():
        from edge_vc.audio.io import read_audio

        try:
            read_audio(wav, max_seconds=MAX_ENROLLMENT_SECONDS + 1)
        except Exception as exc:
            raise ProfileError(f"the archive's {ENROLLMENT_FILE} is unusable: {exc}") from exc
    parse_params(profile.stage_kind, profile.stage_params)
    if profile.name != name:
        data = yaml.safe_load((folder / PROFILE_FILE).read_text(encoding="utf-8"))
        data["name"] = name
        (folder / PROFILE_FILE).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
