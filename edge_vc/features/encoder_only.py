"""An encoder-only copy of the bundled whisper tiny.en CTranslate2 model, for the content encoder.

The learned stage uses only whisper's encoder (~8 M of tiny.en's 39 M parameters), but CTranslate2
loads the whole model: +78 MiB resident and ~90 MiB more while it quantizes the float16 file to
int8 (measured, docs/learned-stage.md). CTranslate2 still needs a decoder to build a Whisper model,
so the copy keeps the decoder's settings, its first layer and 8 rows of its token embedding
(21.5 MB instead of 75.5 MB); the encoder's variables are copied byte for byte, so its output is
identical (tested). Written once to ``<EDGE_VC_HOME>/cache/content/`` and rebuilt when the bundled
file changes. Any failure means "no copy": the caller loads the bundled model.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
from pathlib import Path

from edge_vc.fileio import atomic_path, atomic_write_text
from edge_vc.paths import cache_dir

_LOGGER = logging.getLogger(__name__)
BINARY_VERSION = 6
"""The CTranslate2 model.bin layout this reader knows (``ctranslate2.specs.model_spec``)."""
EMBEDDING_ROWS = 8
"""Token-embedding rows kept (the encoder never reads them; CTranslate2 needs the variable)."""


def encoder_only_model(model_dir: Path) -> Path | None:
    """Folder of the encoder-only copy of the CTranslate2 Whisper model in ``model_dir`` (built on
    first use), or None when it cannot be made here (the caller then loads ``model_dir`` itself)."""
    try:
        return _encoder_only(Path(model_dir))
    except Exception as exc:  # noqa: BLE001 - a missing copy only costs memory
        _LOGGER.debug("no encoder-only copy of %s: %s", model_dir, exc)
        return None


def _encoder_only(model_dir: Path) -> Path:
    source = model_dir / "model.bin"
    stat = source.stat()
    stamp = {"source": str(source), "size": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)}
    folder = cache_dir() / "content" / "whisper-encoder-only"
    stamp_file = folder / "source.json"
    if stamp_file.is_file() and (folder / "model.bin").is_file():
        try:
            if json.loads(stamp_file.read_text("utf-8")) == stamp:
                return folder
        except (OSError, ValueError):
            pass
    folder.mkdir(parents=True, exist_ok=True)
    for extra in model_dir.iterdir():  # config, vocabulary, tokenizer: small, read at load
        if extra.is_file() and extra.name != "model.bin":
            with atomic_path(folder / extra.name) as tmp:
                shutil.copyfile(extra, tmp)
    with atomic_path(folder / "model.bin") as tmp:
        Path(tmp).write_bytes(trim(source.read_bytes()))
    atomic_write_text(stamp_file, json.dumps(stamp))
    return folder


def trim(data: bytes) -> bytes:
    """A Whisper model.bin without decoder layers 1+ and with ``EMBEDDING_ROWS`` embedding rows."""
    pos = 0

    def take(fmt: str):
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def text() -> str:
        nonlocal pos
        n = take("H")
        value = data[pos : pos + n - 1].decode("utf-8")
        pos += n
        return value

    version = take("I")
    if version != BINARY_VERSION:
        raise ValueError(f"model.bin version {version}, expected {BINARY_VERSION}")
    name, revision = text(), take("I")
    if name != "WhisperSpec":
        raise ValueError(f"not a Whisper model: {name}")
    variables = []
    for _ in range(take("I")):
        var, shape = text(), [take("I") for _ in range(take("B"))]
        dtype, size = take("B"), take("I")
        variables.append((var, shape, dtype, data[pos : pos + size]))
        pos += size
    aliases = [(text(), text()) for _ in range(take("I"))]
    if pos != len(data):
        raise ValueError("unexpected bytes after the aliases")
    kept = []
    for var, shape, dtype, raw in variables:
        if var.startswith("decoder/layer_") and not var.startswith("decoder/layer_0/"):
            continue
        if var == "decoder/embeddings/weight":
            rows = min(EMBEDDING_ROWS, shape[0])
            raw, shape = raw[: len(raw) // shape[0] * rows], [rows, *shape[1:]]
        kept.append((var, shape, dtype, raw))
    out = bytearray()

    def put_text(value: str) -> None:
        encoded = value.encode("utf-8")
        out.extend(struct.pack("<H", len(encoded) + 1) + encoded + b"\0")

    out.extend(struct.pack("<I", version))
    put_text(name)
    out.extend(struct.pack("<II", revision, len(kept)))
    for var, shape, dtype, raw in kept:
        put_text(var)
        out.extend(struct.pack("<B", len(shape)) + b"".join(struct.pack("<I", d) for d in shape))
        out.extend(struct.pack("<BI", dtype, len(raw)) + raw)  # "<": no alignment padding
    out.extend(struct.pack("<I", len(aliases)))
    for alias, target in aliases:
        put_text(alias)
        put_text(target)
    return bytes(out)
