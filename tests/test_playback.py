"""Playback through a real PortAudio device: PulseAudio's null sink, recorded back from its monitor."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge_vc.audio.io import resample
from edge_vc.audio.sinks import DeviceSink
from edge_vc.base_voice.config import SynthesisConfig

pytestmark = pytest.mark.device
RECORD_RATE = 16000


def _record_while(play, seconds: float, device: str = "pulse") -> np.ndarray:
    import sounddevice as sd

    frames: list[np.ndarray] = []
    started = threading.Event()

    def callback(indata, frame_count, time_info, status):
        frames.append(indata[:, 0].copy())
        started.set()

    with sd.InputStream(device=device, samplerate=RECORD_RATE, channels=1, dtype="float32", callback=callback):
        started.wait(5)
        sd.sleep(300)
        play()
        sd.sleep(int(seconds * 1000))
    return np.concatenate(frames) if frames else np.zeros(0, np.float32)


def _envelope(audio: np.ndarray, rate: int, hop_s: float = 0.02) -> np.ndarray:
    hop = int(rate * hop_s)
    n = len(audio) // hop
    return np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1))


def _best_envelope_correlation(played: np.ndarray, recorded: np.ndarray) -> float:
    a, b = _envelope(played, RECORD_RATE), _envelope(recorded, RECORD_RATE)
    if len(b) < len(a):
        return 0.0
    a = (a - a.mean()) / (a.std() + 1e-9)
    best = -1.0
    for lag in range(0, len(b) - len(a) + 1):
        seg = b[lag : lag + len(a)]
        seg = (seg - seg.mean()) / (seg.std() + 1e-9)
        best = max(best, float(np.mean(a * seg)))
    return best


@pytest.mark.parametrize("device_rate", [None, 48000])
def test_playback_reaches_the_device(pulse_audio, base_voice, device_rate):
    text = "Testing the speaker. One, two, three."
    chunks = list(base_voice.synthesize(text, SynthesisConfig(noise_scale=0, noise_w=0)))
    played = np.concatenate([c.audio for c in chunks])
    sink = DeviceSink("pulse", sample_rate=device_rate)

    def play():
        for chunk in chunks:
            sink.write(chunk)
        sink.close()

    recorded = _record_while(play, 1.0)
    expected_rate = device_rate or 22050
    assert sink.device_rate == expected_rate
    reference = resample(played, 22050, RECORD_RATE)
    assert float(np.sqrt(np.mean(recorded**2))) > 0.01, "nothing came back from the monitor"
    assert _best_envelope_correlation(reference, recorded) > 0.8


@pytest.mark.slow
def test_cli_plays_on_named_device(pulse_audio, run_cli, tmp_path):
    import sounddevice as sd

    frames: list[np.ndarray] = []
    result_box = {}

    def play():
        result_box["r"] = run_cli("say", "Hello from the command line.", "--device", "pulse", "--device-rate", "48000")

    def callback(indata, frame_count, time_info, status):
        frames.append(indata[:, 0].copy())

    with sd.InputStream(device="pulse", samplerate=RECORD_RATE, channels=1, dtype="float32", callback=callback):
        sd.sleep(300)
        play()
        sd.sleep(500)
    result = result_box["r"]
    assert result.returncode == 0, result.stderr.decode()
    recorded = np.concatenate(frames)
    assert float(np.sqrt(np.mean(recorded**2))) > 0.01
