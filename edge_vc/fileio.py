"""Files that appear whole: write beside the target, flush to disk, rename over it in one step.

Readers (and a crash or kill mid-write) see the old file or the new one, never a torn one.

    atomic_write_bytes(path, data)                  # bytes
    atomic_write_text(path, text)                   # UTF-8 text
    with atomic_path(path) as tmp:                  # a library that writes to a path
        np.savez(tmp, **arrays)                     # (tmp keeps the target's suffix)

New files get the mode the user's umask gives (0644 under umask 022), as other tools do; ``private``
files (tokens, secrets) stay 0600. Whole folders that appear at once (voice profiles) are
``edge_vc.profiles.atomic``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process's umask (read from /proc on Linux; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(private: bool = False) -> int:
    """The mode a new file gets: what ``open()`` would give under the user's umask (0644 under umask
    022), or 0600 for private files.

    Outputs the user shares (WAVs, .evc exports, reports, units) get it before the rename.
    """
    return 0o600 if private else 0o666 & ~current_umask()


def temp_path_for(path: str | Path) -> Path:
    """A fresh hidden name beside ``path`` that keeps its suffix (``.x.wav`` → ``.x.tmp-PID-RAND.wav``)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")


def fsync_path(path: str | Path) -> None:
    """Flush a file (or folder) to disk; silently nothing where the OS refuses."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, private: bool = False, sync: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it replaces ``path`` in one rename.

    On an exception the temporary file is removed and ``path`` is left as it was. The folder is made
    if needed. ``sync`` flushes the file to disk before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp} for {path}")
        os.chmod(tmp, new_file_mode(private))
        if sync:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (umask mode; ``private``: 0600 from the first byte on)."""
    path = Path(path)
    with atomic_path(path, private=private, sync=False) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path: str | Path, text: str, private: bool = False, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode(encoding), private=private)
