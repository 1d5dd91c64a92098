"""Linear-phase FIR design and filtering that streams across chunks with sample-exact joins."""

from __future__ import annotations

import numpy as np

FIR_TAPS = 513
"""Length of the DSP stage's linear-phase EQ filter (delay (taps-1)/2 samples, 11.6 ms at 22 050 Hz)."""


def design_eq(freqs_hz: list[float], gains_db: list[float], sample_rate: int, taps: int = FIR_TAPS) -> np.ndarray:
    """Linear-phase FIR whose magnitude follows the band gains (interpolated in log-frequency)."""
    n_fft = 4096
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    if not freqs_hz:
        h = np.zeros(taps)
        h[taps // 2] = 1.0
        return h
    logf = np.log2(np.maximum(bins, 1.0))
    gain_db = np.interp(logf, np.log2(freqs_hz), gains_db)  # flat beyond the end bands
    impulse = np.fft.irfft(10.0 ** (gain_db / 20.0), n_fft)
    impulse = np.roll(impulse, taps // 2)[:taps] * np.hanning(taps + 2)[1:-1]
    return impulse


class StreamingFIR:
    """FIR filtering across chunks; the output is the zero-delay filtered stream, cut where it is ready.

    Output lags input by (taps-1)/2 samples inside an utterance; the last chunk flushes, so the total
    length and every sample equal filtering the whole utterance at once.
    """

    def __init__(self, h: np.ndarray) -> None:
        self.h = np.asarray(h, dtype=np.float64)
        self.delay = (len(self.h) - 1) // 2
        self.tail = np.zeros(len(self.h) - 1)
        self.skip = self.delay

    def process(self, x: np.ndarray, last: bool) -> np.ndarray:
        n = len(x)
        size = 1 << int(np.ceil(np.log2(max(n + len(self.h) - 1, 2))))
        y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(self.h, size), size)[: n + len(self.h) - 1]
        y[: len(self.tail)] += self.tail  # len(y) = n + taps - 1 >= len(tail)
        ready, carry = y[:n], y[n:]
        self.tail = carry
        if last:
            ready = np.concatenate([ready, carry[: self.delay]])
        if self.skip:
            cut = min(self.skip, len(ready))
            ready = ready[cut:]
            self.skip -= cut
        if last:
            self.tail = np.zeros(len(self.h) - 1)
            self.skip = self.delay
        return ready
