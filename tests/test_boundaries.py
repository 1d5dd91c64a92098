"""The import-boundary check (.ci/check_boundaries.py): the repo passes it, and it catches each kind of breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / ".ci" / "check_boundaries.py"), "--no-run"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_repo_keeps_its_boundaries():
    done = _check(REPO)
    assert done.returncode == 0, done.stderr
    assert "check_boundaries: ok" in done.stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_each_breach_is_reported(tmp_path):
    (tmp_path / ".ci").mkdir()
    for script in (REPO / ".ci").glob("*.py"):
        shutil.copy(script, tmp_path / ".ci" / script.name)
    _write(
        tmp_path,
        {
            "pyproject.toml": (
                '[tool.setuptools]\npackages = ["edge_vc", "edge_vc.export", "edge_vc.gone"]\n'
                '[tool.setuptools.package-dir]\n"edge_vc" = "edge_vc"\n"edge_vc.export" = "export"\n'
                '[tool.setuptools.package-data]\n"*" = ["*.md"]\n'
            ),
            "edge_vc/__init__.py": "",
            "edge_vc/sub/__init__.py": "",
            "edge_vc/sub/data.bin": "x",
            "edge_vc/orphan/x.py": "",
            "export/__init__.py": "",
            "edge_vc/a.py": "def f():\n    from edge_vc import b\n",
            "edge_vc/b.py": (
                "from pathlib import Path\nROOT = Path(__file__).resolve().parents[1]\n\n\n"
                "def g():\n    import edge_vc.a\n    import torch\n"
            ),
            "edge_vc/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from edge_vc.d import f\n"
                "import scripts.fetch_dev_data\n"
            ),
            "edge_vc/d.py": "import edge_vc.c\n",
            "edge_vc/sub/uses.py": "from edge_vc.export import voice\n",
            "export/voice.py": "def run():\n    import edge_vc.sub.uses\n",
        },
    )
    done = _check(tmp_path)
    assert done.returncode == 1
    report = done.stderr
    assert "edge_vc/sub (edge_vc.sub) is missing from [tool.setuptools] packages" in report
    assert "packages lists edge_vc.gone" in report
    assert "edge_vc/orphan: has .py files but no __init__.py" in report
    assert "data.bin match no [tool.setuptools.package-data] pattern" in report
    assert "edge_vc/c.py:4: packaged module edge_vc.c imports 'scripts'" in report
    assert "edge_vc/b.py:2: path climbs 2 folders from __file__" in report
    assert "import cycle among edge_vc.a, edge_vc.b" in report  # both sides lazy: still a cycle
    assert "import cycle among edge_vc.export.voice, edge_vc.sub.uses" in report
    assert "runtime module edge_vc.b imports torch (lazily)" in report
    assert "runtime module edge_vc.sub.uses imports the toolchain module edge_vc.export.voice" in report
    assert "edge_vc.c, edge_vc.d" not in report  # an import under TYPE_CHECKING does not count
    assert report.count("check_boundaries [") == 10
