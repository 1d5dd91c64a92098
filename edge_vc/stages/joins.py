"""Seamless joins for stages that transform audio piece by piece (DSP shaping, the converter).

A transform that sees only one chunk at a time leaves a discontinuity where two chunks meet (the
base voice streams its first sentence in growing decoder windows). :class:`JoinedTransform` runs it
on each chunk together with some earlier input (left context), holds back the tail of every result
until the next chunk has been transformed too, and cross-fades that tail into its re-transform, which
had right context. Output length always equals input length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class JoinedTransform:
    """Per-utterance state of a length-preserving transform applied chunk by chunk."""

    def __init__(self, transform: Callable[[np.ndarray], np.ndarray], context: int, fade: int) -> None:
        self.transform = transform
        self.context = int(context)
        self.fade = int(fade)
        self._context = np.zeros(0, dtype=np.float32)
        self._held = np.zeros(0, dtype=np.float64)

    def push(self, audio: np.ndarray, last: bool) -> np.ndarray:
        """Transformed samples ready to go out: the held tail (faded into its re-transform), then
        ``audio``'s, less the new tail held back (nothing is held on the ``last`` chunk)."""
        x = np.concatenate([self._context, np.asarray(audio, dtype=np.float32)])
        out = np.asarray(self.transform(x), dtype=np.float64) if x.size else np.zeros(0)
        start = self._context.size - self._held.size  # first sample not yet emitted
        ready = out[start:].copy()
        if self._held.size:
            fade = self._held.size
            ramp = np.linspace(0.0, 1.0, fade + 2)[1:-1]
            ready[:fade] = self._held * (1.0 - ramp) + ready[:fade] * ramp
        if last:
            self._context = np.zeros(0, dtype=np.float32)
            self._held = np.zeros(0, dtype=np.float64)
            return ready
        self._context = x[max(0, x.size - self.context) :]
        hold = min(self.fade, len(audio), ready.size)
        self._held = ready[ready.size - hold :]
        return ready[: ready.size - hold]
