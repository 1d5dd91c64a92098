"""Where edge-vc keeps its data: voices, profiles and caches."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """Root folder for installed voices and profiles.

    ``EDGE_VC_HOME`` wins; otherwise ``$XDG_DATA_HOME/edge-vc`` or ``~/.local/share/edge-vc``.
    """
    env = os.environ.get("EDGE_VC_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "edge-vc"


def voices_dir() -> Path:
    """Folder of installed Piper voices (``NAME.onnx`` + ``NAME.onnx.json``)."""
    return data_home() / "voices"


def profiles_dir() -> Path:
    """Folder of enrolled voice profiles."""
    return data_home() / "profiles"


def cache_dir() -> Path:
    """Folder for derived files that can be rebuilt (split graphs, atlases)."""
    return data_home() / "cache"
