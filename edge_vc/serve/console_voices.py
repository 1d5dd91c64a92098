"""Console voice management: profile archives (``.evc``) and installed Piper voices (export, import, remove).

Profiles go through :mod:`edge_vc.profiles.archive`, Piper voices through :mod:`edge_vc.base_voice.store`
(an imported voice is installed only after it loads and speaks). A voice travels as an uncompressed
tar of ``NAME.onnx`` and ``NAME.onnx.json`` (ONNX weights do not compress).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from edge_vc.errors import EdgeVCError, ProfileError
from edge_vc.serve.http_transport import Handler, HttpError, Request

CHUNK = 1024 * 1024


def voice_name(name: str) -> str:
    """A voice named by a request: never a path (400)."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or name.endswith(".onnx") or len(name) > 100:
        raise HttpError(400, f"invalid voice name {name[:60]!r}: name a voice, never a path", field="name")
    return name


def export_profile_bytes(name: str) -> bytes:
    from edge_vc.profiles.archive import SUFFIX, export_profile

    with tempfile.TemporaryDirectory(prefix="edge-vc-export-") as folder:
        return export_profile(name, Path(folder) / f"{name}{SUFFIX}").read_bytes()


def import_profile_upload(request: Request, name: str | None, force: bool) -> str:
    """Install an uploaded ``.evc``; returns the profile's name (400 damaged, 409 exists)."""
    from edge_vc.profiles.archive import import_profile

    if not request.body:
        raise HttpError(400, "the body must be an .evc archive (edge-vc voices export)")
    with tempfile.TemporaryDirectory(prefix="edge-vc-import-") as folder:
        archive = Path(folder) / "upload.evc"
        archive.write_bytes(request.body)
        try:
            return import_profile(archive, name=name or None, force=force).name
        except ProfileError as exc:
            message = str(exc).replace(str(archive), "the upload").replace("pass --force", "add ?force=1")
            message = message.replace("--name NEW", "?name=NEW")
            raise HttpError(409 if "exists" in message else 400, message) from None


def remove_piper_voice(name: str) -> dict[str, Any]:
    from edge_vc.base_voice.store import remove_voice

    try:
        files = remove_voice(voice_name(name))
    except EdgeVCError as exc:
        raise HttpError(404 if "no installed voice" in str(exc) else 400, str(exc)) from exc
    return {"removed": name, "model": files.model_path.name}


def export_piper_voice(handler: Handler, name: str) -> None:
    """Stream ``NAME.tar`` (the model and its sidecar) from a temporary file."""
    from edge_vc.base_voice.catalog import resolve_voice

    try:
        files = resolve_voice(voice_name(name))
    except EdgeVCError as exc:
        raise HttpError(404, f"no voice named {name!r}") from exc
    with tempfile.TemporaryFile(prefix="edge-vc-voice-") as handle:
        with tarfile.open(fileobj=handle, mode="w") as tar:
            tar.add(files.model_path, arcname=f"{files.name}.onnx", recursive=False)
            tar.add(files.config_path, arcname=f"{files.name}.onnx.json", recursive=False)
        size = handle.tell()
        handle.seek(0)
        handler.head(200, {"Content-Type": "application/x-tar", "Content-Length": str(size),
                           "Content-Disposition": f'attachment; filename="{files.name}.tar"'})  # fmt: skip
        while block := handle.read(CHUNK):
            handler.write(block)


def import_piper_voice(request: Request, name: str | None, force: bool) -> dict[str, Any]:
    """Install a voice from an uploaded tar of ``X.onnx`` + ``X.onnx.json`` (validated, then installed)."""
    from edge_vc.base_voice.store import install_voice

    if name:
        voice_name(name)
    if not request.body:
        raise HttpError(400, "the body must be a tar of NAME.onnx and NAME.onnx.json")
    with tempfile.TemporaryDirectory(prefix="edge-vc-voice-import-") as folder:
        upload = Path(folder) / "upload.tar"
        upload.write_bytes(request.body)
        model = _unpack_voice(upload, Path(folder) / "voice")
        try:
            info = install_voice(model, name=name or None, force=force)
        except EdgeVCError as exc:
            message = str(exc).replace(str(model.parent), "the upload").replace("--force", "?force=1")
            raise HttpError(409 if "already installed" in message else 400, message) from None
    return {"imported": info.name, "speakers": info.num_speakers, "sample_rate": info.sample_rate,
            "bytes": info.size_bytes}  # fmt: skip


def _unpack_voice(upload: Path, into: Path) -> Path:
    try:
        with tarfile.open(upload, mode="r:*") as tar:
            members = tar.getmembers()
            models = [m for m in members if m.name.endswith(".onnx")]
            if len(members) != 2 or len(models) != 1 or not all(m.isfile() for m in members):
                raise HttpError(400, "the tar must hold exactly NAME.onnx and NAME.onnx.json (plain files)")
            stem = Path(models[0].name).name
            if {Path(m.name).name for m in members} != {stem, f"{stem}.json"}:
                raise HttpError(400, "the tar must hold exactly NAME.onnx and NAME.onnx.json (plain files)")
            into.mkdir()
            for member in members:
                source = tar.extractfile(member)
                assert source is not None  # a plain file (checked above)
                with source, open(into / Path(member.name).name, "wb") as out:
                    while block := source.read(CHUNK):
                        out.write(block)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise HttpError(400, f"the upload is not a voice archive ({exc})") from None
    return into / stem
