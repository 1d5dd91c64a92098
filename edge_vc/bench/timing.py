"""Repeated timings summarised as median and spread."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Stats:
    """Median, quartiles, extremes and count of a list of samples."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @staticmethod
    def of(samples: list[float]) -> Stats:
        values = np.asarray([s for s in samples if math.isfinite(s)], dtype=np.float64)
        if values.size == 0:
            raise ValueError("no finite samples to summarise")
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        return Stats(float(med), float(q1), float(q3), float(values.min()), float(values.max()), int(values.size))

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (0.05 = ±2.5 %)."""
        return (self.q3 - self.q1) / self.median if self.median else 0.0

    def to_dict(self, digits: int = 4) -> dict[str, float]:
        """Values rounded to ``digits`` significant digits."""

        def sig(x: float) -> float:
            return float(f"{x:.{digits}g}")

        return {
            "median": sig(self.median),
            "q1": sig(self.q1),
            "q3": sig(self.q3),
            "min": sig(self.min),
            "max": sig(self.max),
            "n": self.n,
        }
