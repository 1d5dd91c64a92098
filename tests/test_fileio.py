"""Atomic file writes: whole or nothing, the target's suffix kept for libraries, umask or private modes."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from edge_vc.fileio import atomic_path, atomic_write_bytes, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_path_replaces_only_on_success_and_keeps_the_suffix(tmp_path, umask_022):
    target = tmp_path / "sub" / "arrays.npz"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".npz" and tmp.name.startswith(".")
        np.savez(tmp, x=np.arange(3))  # np.savez would add .npz to any other name
    assert np.load(target)["x"].tolist() == [0, 1, 2] and _mode(target) == 0o644
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        np.savez(tmp, x=np.arange(5))
        raise RuntimeError("killed mid-write")
    assert np.load(target)["x"].tolist() == [0, 1, 2]  # the old file, untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["arrays.npz"]  # no temp file left


def test_atomic_path_refuses_when_nothing_was_written(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "never.json"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writes_follow_the_umask_unless_private(tmp_path, umask_022):
    atomic_write_text(tmp_path / "report.md", "# hi\n")
    atomic_write_bytes(tmp_path / "token", b"secret", private=True)
    assert (tmp_path / "report.md").read_text() == "# hi\n" and _mode(tmp_path / "report.md") == 0o644
    assert (tmp_path / "token").read_bytes() == b"secret" and _mode(tmp_path / "token") == 0o600
    os.umask(0o077)
    atomic_write_text(tmp_path / "report.md", "again\n")  # replaces, with the new umask's mode
    assert (tmp_path / "report.md").read_text() == "again\n" and _mode(tmp_path / "report.md") == 0o600
