"""How often the consent check misses a spoken challenge, greedy alone and with its beam-search second listen.

    python benchmarks/consent_retry.py --trials 150

Each trial: a fresh random challenge said by the base voice 0.5-1.5 s into a 10 s window, the shipped
sample read from 7.5 s on (as in a microphone enrollment, where the reading follows the phrase), then
Whisper tiny.en greedy (beam 1) and beam 5 on the window. Prints each miss and the counts; a trial
fails the check when fewer than ``MIN_SCORE`` of its words are heard.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edge_vc.audio.io import read_audio, resample
from edge_vc.base_voice.voice import BaseVoice
from edge_vc.enroll.consent import MIN_SCORE, Challenge, ConsentChecker, score_transcript

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "en_robert.wav"
RATE = 16000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=150)
    args = parser.parse_args()
    voice, checker = BaseVoice.load(threads=1), ConsentChecker(threads=1)
    reading, _ = read_audio(SAMPLE, RATE)
    misses = {"greedy": 0, "beam 5": 0, "greedy, then beam 5 when it missed": 0}
    for i in range(args.trials):
        challenge = Challenge.new()
        speech = resample(np.concatenate([c.audio for c in voice.synthesize(challenge.text)]), voice.sample_rate, RATE)
        window = np.zeros(10 * RATE, np.float32)
        start = RATE // 2 + int(np.random.default_rng(i).integers(0, RATE))
        window[start : start + speech.size] += speech[: window.size - start]
        r0 = int(7.5 * RATE)
        n = min(window.size - r0, reading.size)
        window[r0 : r0 + n] += reading[:n]
        heard = {k: checker.transcribe(window, RATE, beam_size=k)[0] for k in (1, 5)}
        scores = {k: score_transcript(challenge, t) for k, t in heard.items()}
        misses["greedy"] += scores[1] < MIN_SCORE
        misses["beam 5"] += scores[5] < MIN_SCORE
        misses["greedy, then beam 5 when it missed"] += max(scores.values()) < MIN_SCORE
        if min(scores.values()) < MIN_SCORE:
            print(challenge.words, "| greedy:", heard[1], "| beam 5:", heard[5], flush=True)
    print(f"{args.trials} trials; misses: {misses}")


if __name__ == "__main__":
    main()
