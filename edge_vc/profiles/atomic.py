"""Folders that appear all at once: build beside the target, fsync, swap in with one rename.

Used for voice profiles (``profile.py``) and profile imports (``profile_archive.py``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from edge_vc.fileio import fsync_path as fsync_dir

TMP_TAG = ".tmp-"
OLD_TAG = ".old-"


def sync_file(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        sync_file(handle)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return rc == 0


def install_dir(tmp: Path, target: Path) -> None:
    """Put the finished folder ``tmp`` at ``target``, replacing any old one in a single step."""
    if not target.exists():
        os.rename(tmp, target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old profile
    else:
        old = target.with_name(f".{target.name}{OLD_TAG}{uuid.uuid4().hex[:8]}")
        os.rename(target, old)  # a crash here is repaired by recover()
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(target.parent)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(root: Path) -> None:
    """Repair what an interrupted write left behind.

    ``.NAME.old-*`` (the previous profile, set aside by the two-rename fallback) goes back to
    ``NAME`` if ``NAME`` is missing; temporary ``.NAME.tmp-PID-*`` folders of dead writers and
    ``.NAME.rm-*`` leftovers are deleted.
    """
    if not root.is_dir():
        return
    for entry in root.iterdir():
        name = entry.name
        if not name.startswith(".") or not entry.is_dir():
            continue
        if OLD_TAG in name:
            target = root / name[1:].rsplit(OLD_TAG, 1)[0]
            if not target.exists():
                try:
                    os.rename(entry, target)
                    continue
                except OSError:
                    pass
            shutil.rmtree(entry, ignore_errors=True)
        elif TMP_TAG in name:
            pid_text = name.rsplit(TMP_TAG, 1)[1].split("-", 1)[0]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                shutil.rmtree(entry, ignore_errors=True)
        elif ".rm-" in name:
            shutil.rmtree(entry, ignore_errors=True)
