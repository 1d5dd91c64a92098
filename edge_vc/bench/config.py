"""Settings of one ``edge-vc bench`` run."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from edge_vc.configs import from_mapping
from edge_vc.errors import ConfigError

SENTENCES = [
    "The weather station on the hill reported light rain and a cool breeze this morning.",
    "Please remember to switch off the lights before you leave the workshop.",
    "A small robot can read the news aloud in a voice that sounds familiar.",
]

PARAGRAPH_SENTENCES = [
    "Welcome back, the kitchen timer has finished and the bread is ready to come out of the oven.",
    "Your next meeting starts in fifteen minutes, in the small room on the second floor.",
    "It will be cloudy this afternoon, with a chance of light rain after five o'clock.",
    "The front door is locked and the garden lights are on.",
    "Have a pleasant evening, and remember to water the plants before you go to bed.",
]
PARAGRAPH = " ".join(PARAGRAPH_SENTENCES)
"""Five sentences: time to first audio and end-to-end RTF are measured on this paragraph."""

COMPARABLE = ("piper-tts",)


def default_threads(cores: int | None = None) -> list[int]:
    """1..N for up to 4 cores, else 1, 2, 4, ... and N."""
    n = max(1, cores or os.cpu_count() or 1)
    if n <= 4:
        return list(range(1, n + 1))
    out, t = [], 1
    while t < n:
        out.append(t)
        t *= 2
    return out + [n]


@dataclass
class BenchConfig:
    """What to measure and how often (``quick`` gives a short run for tests and smoke checks)."""

    voice: str | None = None
    """Base voice name or .onnx path (None: the bundled voice)."""

    variants: list[str] = field(default_factory=list)
    """Extra voice model files, ``PATH`` or ``LABEL=PATH``, beside the ones found automatically."""

    encoders: list[str] = field(default_factory=list)
    """Extra speaker-encoder files beside the shipped ones."""

    threads: list[int] = field(default_factory=list)
    """Thread counts (empty: ``default_threads()``)."""

    stages: list[str] = field(default_factory=list)
    """Voice stages to build from the reference (empty: every available one)."""

    profiles: list[str] = field(default_factory=list)
    """Enrolled profiles whose voice stage is measured too."""

    reference: str | None = None
    """Reference recording for enrollment and the encoder (None: the shipped sample)."""

    reference_seconds: float = 30.0
    """The reference is tiled or cut to this length."""

    repeats: int = 5
    warmup: int = 1
    compare: list[str] = field(default_factory=list)
    """Reference implementations to run on the same voice and text (``piper-tts``)."""

    backend: str | None = None
    """Measure only the voice variants of this runtime (``onnx`` or ``litert``); None: every runtime here."""

    sentences: list[str] = field(default_factory=lambda: list(SENTENCES))
    paragraph: str = PARAGRAPH
    quick: bool = False

    def resolved_threads(self) -> list[int]:
        return sorted(set(self.threads)) if self.threads else default_threads()

    def apply_quick(self) -> BenchConfig:
        """A short run: 1 thread, 2 repetitions, one sentence, two paragraph sentences, a 10 s reference."""
        if self.quick:
            self.threads = self.threads or [1]
            self.repeats = min(self.repeats, 2)
            self.warmup = min(self.warmup, 1)
            self.sentences = self.sentences[:1]
            self.reference_seconds = min(self.reference_seconds, 10.0)
            if self.paragraph == PARAGRAPH:
                self.paragraph = " ".join(PARAGRAPH_SENTENCES[:2])
        return self

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) for settings that cannot run."""
        if self.repeats < 1 or self.warmup < 0:
            raise ConfigError("repeats must be >= 1 and warmup >= 0")
        if any(t < 1 for t in self.threads):
            raise ConfigError("thread counts must be >= 1")
        if not self.sentences or not self.paragraph.strip():
            raise ConfigError("sentences and paragraph must not be empty")
        if not 1.0 <= self.reference_seconds <= 600.0:
            raise ConfigError("reference_seconds must be within 1..600")
        if self.backend not in (None, "onnx", "litert"):
            raise ConfigError(f"unknown backend {self.backend!r}; choose onnx or litert")
        unknown = [c for c in self.compare if c not in COMPARABLE]
        if unknown:
            raise ConfigError(f"cannot compare with {', '.join(unknown)}; known: {', '.join(COMPARABLE)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> BenchConfig:
        """Settings from a mapping (other keys are ignored; types checked, ranges by ``validate``)."""
        return from_mapping(BenchConfig, data, what="bench settings", unknown="ignore", validate=False)
