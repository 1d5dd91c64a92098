"""Source-filter renderer: the light vocoder option of the learned stage (numpy only, no model file).

A WORLD-style rendering of the decoder's predicted log-mel. The excitation comes from the stage's
pitch input (the speaker's mapped F0 and voicing): harmonics of F0 up to 8 kHz in voiced frames,
white noise everywhere, with a noise share that rises with frequency. Each STFT frame of it is
filtered to the predicted mel's spectral envelope: the mel averaged over about one F0 spacing
(``ENVELOPE_REACH``), so the harmonics come from the excitation and the timbre from the decoder.
The filter is minimum-phase (real-cepstrum folding), as a vocal tract's response is. Overlap-add
smears the frames a little, so the filter is refined by analysis-by-synthesis: render, measure the
output's mel envelope, correct the gains, ``iterations`` times.

It needs no model file and costs a small fraction of HiFi-GAN V1's time; the measured trade-off
(similarity, WER, DNSMOS, RTF) is in docs/learned-stage.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_vc.features.hifigan_mel import HIFIGAN_HOP, HIFIGAN_RATE, hifigan_mel_config
from edge_vc.features.mel import hz_to_mel, mel_filterbank, mel_to_hz, stft_window
from edge_vc.features.pitch import REFERENCE_HZ

SOURCE_FILTER = "source-filter"
N_FFT = 1024
HARMONIC_MAX_HZ = 8000.0
"""The mel stops at 8 kHz; harmonics stop there too, noise (rolling off 6 dB/octave) carries the rest."""
ENVELOPE_REACH = 1.0
"""Bands within this many F0s of a band's centre are averaged into its envelope value. Measured
(docs/learned-stage.md): per-band gains (no averaging) copy the mel's harmonic fine structure into
the noise (DNSMOS 1.6 vs 2.5); 0.75 → 1.0 cut the high-pitched speaker's WER 11.5 % → 9.1 %."""
MAX_CORRECTION = 3.0
"""Largest log-gain change per refinement step (a band the excitation cannot reach stays as is)."""


@dataclass
class SourceFilterVocoder:
    """``vocoder(log_mel [T, 80], pitch [T, 2])`` → float32 audio of ``T * hop`` samples at 22 050 Hz."""

    iterations: int = 3
    """Analysis-by-synthesis refinements of the filter (0 = one pass; 3 measured best, see docs)."""
    noise_floor: float = 0.05
    """Noise share (amplitude) of voiced frames at 0 Hz, rising linearly to ``noise_top`` at 8 kHz."""
    noise_top: float = 0.5
    seed: int = 0
    sample_rate: int = HIFIGAN_RATE
    hop_length: int = HIFIGAN_HOP
    precision: str = SOURCE_FILTER

    def __post_init__(self) -> None:
        if self.iterations < 0 or not 0.0 <= self.noise_floor <= 1.0 or not 0.0 <= self.noise_top <= 1.0:
            raise ValueError("iterations must be >= 0 and noise shares within [0, 1]")
        config = hifigan_mel_config()
        self._fb = mel_filterbank(config).astype(np.float64)  # [80, 513]
        edges = mel_to_hz(np.linspace(hz_to_mel(config.fmin), hz_to_mel(config.fmax), config.n_mels + 2))
        self._centres = edges[1:-1]
        self._distance = np.abs(self._centres[:, None] - self._centres[None, :]).astype(np.float32)
        self._half_width = (0.5 * (edges[2:] - edges[:-2])).astype(np.float32)
        self._bins = np.fft.rfftfreq(N_FFT, 1.0 / self.sample_rate)
        # linear interpolation between band centres (held beyond the ends) as one [80, 513] matrix
        self._to_bins = np.stack([np.interp(self._bins, self._centres, row) for row in np.eye(config.n_mels)])
        self._window = stft_window(N_FFT, N_FFT).astype(np.float64)
        self._noise_share = np.interp(self._centres, [0.0, HARMONIC_MAX_HZ], [self.noise_floor, self.noise_top])
        above = self._bins > self._centres[-1]
        self._rolloff = np.where(above, -np.log(np.maximum(self._bins, 1.0) / self._centres[-1]), 0.0)
        # both [80, 513] matrices have at most two adjacent non-zero bands per bin: applied as two taps
        # (no BLAS call: numpy's BLAS may run threads of its own, and the products are tiny)
        self._mel_taps, self._bin_taps = _two_taps(self._fb), _two_taps(self._to_bins)
        fold = np.zeros(N_FFT)
        fold[0] = fold[N_FFT // 2] = 1.0
        fold[1 : N_FFT // 2] = 2.0
        self._fold = fold

    def __call__(self, log_mel: np.ndarray, pitch: np.ndarray | None = None) -> np.ndarray:
        log_mel = np.asarray(log_mel, dtype=np.float64)
        if pitch is None:
            raise ValueError("the source-filter vocoder needs the pitch input ([T, 2]: log2(f0/150), voiced)")
        pitch = np.asarray(pitch, dtype=np.float64)
        if log_mel.ndim != 2 or log_mel.shape[1] != self._fb.shape[0] or pitch.shape != (log_mel.shape[0], 2):
            raise ValueError(f"expected log_mel [T, 80] and pitch [T, 2], got {log_mel.shape} and {pitch.shape}")
        n_frames, n_samples = log_mel.shape[0], log_mel.shape[0] * self.hop_length
        if n_frames == 0:
            return np.zeros(0, dtype=np.float32)
        f0 = REFERENCE_HZ * 2.0 ** pitch[:, 0]
        voiced = np.convolve(np.pad(pitch[:, 1], 1, mode="edge"), np.ones(3) / 3, mode="valid")
        harmonic, noise = self._excitation(f0, voiced, n_samples)
        spec_h, spec_n = self._stft(harmonic), self._stft(noise)
        envelope = self._envelope(f0)
        target = np.exp(log_mel)
        share_n = np.sqrt(voiced[:, None] * self._noise_share**2 + (1.0 - voiced[:, None]))
        share_h = np.sqrt(np.maximum(0.0, 1.0 - share_n**2))
        gain_h = self._per_bin(np.log(envelope(target * share_h) + 1e-9) - np.log(envelope(self._mel(spec_h)) + 1e-9))
        gain_n = self._per_bin(np.log(target * share_n + 1e-9) - np.log(self._mel(spec_n) + 1e-9))
        wanted = np.log(envelope(target) + 1e-9)
        for step in range(self.iterations + 1):
            spec = spec_h * self._min_phase(gain_h + self._rolloff) + spec_n * np.exp(gain_n + self._rolloff)
            audio = self._istft(spec, n_samples)
            if step < self.iterations:
                correction = wanted - np.log(envelope(self._mel(self._stft(audio))) + 1e-9)
                correction = self._per_bin(np.clip(correction, -MAX_CORRECTION, MAX_CORRECTION))
                gain_h, gain_n = gain_h + correction, gain_n + correction
        return audio.astype(np.float32)

    def _envelope(self, f0: np.ndarray):
        """Per-frame band averaging over ``ENVELOPE_REACH`` F0s (at least the band itself): mel → envelope."""
        reach = np.maximum(ENVELOPE_REACH * f0.astype(np.float32)[:, None], self._half_width[None, :])  # [T, 80]
        # the bands within reach of band i are one run lo..hi (centres ascend): a mean by cumulative sums,
        # no [T, 80, 80] weight matrix (the same bands as comparing every distance with the reach)
        n = self._distance.shape[0]
        lo, hi = np.empty(reach.shape, dtype=np.int64), np.empty(reach.shape, dtype=np.int64)
        for i in range(n):
            left, right = self._distance[i, i::-1], self._distance[i, i:]  # ascending away from band i
            lo[:, i] = i + 1 - np.searchsorted(left, reach[:, i], side="right")
            hi[:, i] = i - 1 + np.searchsorted(right, reach[:, i], side="right")
        rows, count = np.arange(reach.shape[0])[:, None], (hi - lo + 1).astype(np.float64)

        def envelope(mel: np.ndarray) -> np.ndarray:
            sums = np.concatenate([np.zeros((mel.shape[0], 1)), np.cumsum(mel, axis=1, dtype=np.float64)], axis=1)
            return (sums[rows, hi + 1] - sums[rows, lo]) / count

        return envelope

    def _excitation(self, f0: np.ndarray, voiced: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit-amplitude harmonics of F0 gated by voicing, and white noise (``n_samples`` each)."""
        centres = np.arange(f0.size) * self.hop_length + self.hop_length / 2
        t = np.arange(n_samples)
        f0_t = np.interp(t, centres, f0)
        phase = 2.0 * np.pi * np.cumsum(f0_t) / self.sample_rate
        # the sum of cos(k φ) over the harmonics below 8 kHz (k·F0 < 8 kHz, k <= top) in closed form,
        # sin((N + ½) φ) / (2 sin(φ / 2)) - ½ (Dirichlet), the same sum to ~1e-12 at a fraction of the cost;
        # near sin(φ / 2) = 0 (the pulse peaks) term by term, by the Chebyshev recurrence
        top = int(HARMONIC_MAX_HZ / max(float(f0_t.min()), 40.0))
        count = np.clip(np.ceil(HARMONIC_MAX_HZ / f0_t) - 1, 0, top)
        half = np.sin(0.5 * phase)
        far = np.abs(half) > 0.05
        harmonic = np.empty(n_samples)
        harmonic[far] = np.sin((count[far] + 0.5) * phase[far]) / (2.0 * half[far]) - 0.5
        near_phase, near_count = phase[~far], count[~far]
        twice_cos1 = 2.0 * np.cos(near_phase)
        previous, current, total = np.ones(near_phase.size), 0.5 * twice_cos1, np.zeros(near_phase.size)
        for k in range(1, int(near_count.max(initial=0)) + 1):
            total += np.where(near_count >= k, current, 0.0)
            previous, current = current, twice_cos1 * current - previous
        harmonic[~far] = total
        return harmonic * np.interp(t, centres, voiced), np.random.default_rng(self.seed).standard_normal(n_samples)

    def _stft(self, signal: np.ndarray) -> np.ndarray:
        """Frames centred on ``t * hop + hop / 2``, as the HiFi-GAN mel's are."""
        pad = (N_FFT - self.hop_length) // 2
        padded = np.pad(signal, (pad, pad + N_FFT))
        frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[:: self.hop_length]
        return np.fft.rfft(frames[: signal.size // self.hop_length] * self._window, axis=-1)

    def _istft(self, spec: np.ndarray, n_samples: int) -> np.ndarray:
        """Weighted overlap-add of ``_stft`` frames."""
        pad = (N_FFT - self.hop_length) // 2
        frames = np.fft.irfft(spec, n=N_FFT, axis=-1) * self._window
        out = _overlap_add(frames, self.hop_length)[pad : pad + n_samples]
        norm = _overlap_add(np.broadcast_to(self._window**2, frames.shape), self.hop_length)[pad : pad + n_samples]
        return out / np.maximum(norm, 1e-3)

    def _mel(self, spec: np.ndarray) -> np.ndarray:
        """``|spec| @ fb.T`` ([T, 513] → [T, 80]) from the filterbank's two taps per bin."""
        lo, hi, w_lo, w_hi, starts_lo, starts_hi = self._mel_taps
        magnitude = np.abs(spec)
        out = np.zeros((spec.shape[0], self._fb.shape[0]))
        out[:, lo[starts_lo]] += np.add.reduceat(magnitude * w_lo, starts_lo, axis=1)
        out[:, hi[starts_hi]] += np.add.reduceat(magnitude * w_hi, starts_hi, axis=1)
        return out

    def _per_bin(self, per_band: np.ndarray) -> np.ndarray:
        """[T, 80] per-band log gains → [T, 513] per-bin (linear between band centres): ``per_band @ to_bins``."""
        lo, hi, w_lo, w_hi, _, _ = self._bin_taps
        return per_band[:, lo] * w_lo + per_band[:, hi] * w_hi

    def _min_phase(self, log_gain: np.ndarray) -> np.ndarray:
        """Complex minimum-phase response [T, 513] with magnitudes ``exp(log_gain)``."""
        cepstrum = np.fft.irfft(log_gain, n=N_FFT, axis=-1)
        log_response = np.fft.rfft(cepstrum * self._fold, axis=-1)
        # exp(a + ib) as exp(a) (cos b + i sin b): numpy's complex exp is a scalar loop, ~2x slower
        magnitude, phase = np.exp(log_response.real), log_response.imag
        response = np.empty(log_response.shape, dtype=np.complex128)
        response.real = magnitude * np.cos(phase)
        response.imag = magnitude * np.sin(phase)
        return response


def _two_taps(matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """A [bands, bins] matrix whose columns are non-zero in at most two adjacent rows, as taps:
    (row lo, row hi = lo + 1, weight lo, weight hi, first column of each run of equal lo / hi)."""
    nonzero = matrix != 0
    lo = np.maximum.accumulate(np.where(nonzero.any(axis=0), nonzero.argmax(axis=0), 0))  # zero columns: weight 0
    hi = np.minimum(lo + 1, matrix.shape[0] - 1)
    columns = np.arange(matrix.shape[1])
    w_lo = np.where(nonzero[lo, columns], matrix[lo, columns], 0.0)
    w_hi = np.where(hi != lo, matrix[hi, columns], 0.0)
    others = nonzero.copy()
    others[lo, columns] = others[hi, columns] = False
    if others.any():
        raise ValueError("matrix has more than two adjacent non-zero rows in a column")

    def runs(rows: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])

    return lo, hi, w_lo, w_hi, runs(lo), runs(hi)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Frames [T, N] (N a multiple of ``hop``) summed at ``i * hop``: length (T - 1) * hop + N.

    Each ``hop`` block adds its frames in the order of a frame-by-frame loop (earliest frame first),
    so the sums are the loop's to the last bit."""
    n_frames, size = frames.shape
    parts = size // hop
    out = np.zeros((n_frames + parts - 1, hop))
    for k in range(parts - 1, -1, -1):  # block j gets frame j - k: the earliest frame (largest k) first
        out[k : k + n_frames] += frames[:, k * hop : (k + 1) * hop]
    return out.reshape(-1)
