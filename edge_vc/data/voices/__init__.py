"""Voices exported by ``edge-vc export voice`` and shipped with edge-vc (see README.md here)."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
JOE_INT8 = FOLDER / "en_US-joe-medium.int8.onnx"
"""INT8 export of the bundled en_US-joe-medium voice; load with ``BaseVoice.load(str(JOE_INT8))``."""
