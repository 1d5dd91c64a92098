"""The one mel front-end of edge-vc (numpy only), shared by every model that takes mel frames.

The filterbank and STFT follow librosa's conventions (Slaney mel scale and area normalisation,
periodic Hann window, ``center`` padding), so models trained with librosa features (resemblyzer's
GE2E encoder, HiFi-GAN vocoders) see the same numbers at run time without librosa or torch.

    config = MelConfig.resemblyzer()           # 16 kHz, 25/10 ms, 40 bands, power mel
    frames = mel_spectrogram(audio, config)    # (n_frames, n_mels) float32
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_vc.configs import from_mapping

MEL_SCALES = ("slaney", "htk")
NORMS = ("slaney", "none")
LOGS = ("none", "ln", "log10")
PAD_MODES = ("constant", "reflect")


@dataclass
class MelConfig:
    """How to turn audio into mel frames."""

    sample_rate: int = 16000
    """Rate the audio must have, in Hz."""

    n_fft: int = 400
    """FFT size in samples."""

    win_length: int = 400
    """Hann window length in samples (<= n_fft; centred inside the FFT frame)."""

    hop_length: int = 160
    """Samples between frames."""

    n_mels: int = 40
    """Number of mel bands."""

    fmin: float = 0.0
    """Lowest band edge in Hz."""

    fmax: float | None = None
    """Highest band edge in Hz (None: sample_rate / 2)."""

    mel_scale: str = "slaney"
    """``slaney`` (librosa's default) or ``htk``."""

    norm: str = "slaney"
    """Band normalisation: ``slaney`` (equal area, librosa's default) or ``none``."""

    power: float = 2.0
    """Exponent of the STFT magnitude: 2 = power (librosa's melspectrogram), 1 = magnitude."""

    mag_eps: float = 0.0
    """Added under the square root of the magnitude (HiFi-GAN uses 1e-9); 0 = plain abs()."""

    center: bool = True
    """Pad n_fft // 2 samples on both sides so frame t is centred at t * hop_length."""

    pad_mode: str = "constant"
    """Padding of the signal edges: ``constant`` (zeros, librosa >= 0.10) or ``reflect``."""

    pad: int = 0
    """Explicit padding on both sides when ``center`` is False (HiFi-GAN: (n_fft - hop) // 2)."""

    log: str = "none"
    """``none`` (linear mel), ``ln`` or ``log10`` of the clamped mel."""

    log_floor: float = 1e-5
    """Values are clamped to at least this before the log."""

    @staticmethod
    def resemblyzer() -> MelConfig:
        """resemblyzer / GE2E: 16 kHz, 25 ms window, 10 ms hop, 40 bands, linear power mel."""
        return MelConfig()

    @staticmethod
    def from_dict(data: dict[str, Any]) -> MelConfig:
        """Build from a dict (unknown keys refused, so typos surface); validates. ConfigError (a ValueError)."""
        if isinstance(data, dict):  # a YAML/JSON null for a name setting means "none"
            names = ("mel_scale", "norm", "pad_mode", "log")
            data = {k: "none" if v is None and k in names else v for k, v in data.items()}
        return from_mapping(MelConfig, data, what="mel config")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/YAML-safe); ``from_dict(to_dict())`` gives the same config."""
        return asdict(self)

    def validate(self) -> None:
        """Raise ValueError for settings the STFT/filterbank cannot use."""
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {self.sample_rate}")
        if self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError("n_fft, hop_length and n_mels must be > 0")
        if not 0 < self.win_length <= self.n_fft:
            raise ValueError(f"win_length must be in (0, n_fft={self.n_fft}], got {self.win_length}")
        nyquist = self.sample_rate / 2
        fmax = self.fmax if self.fmax is not None else nyquist
        if not 0 <= self.fmin < fmax <= nyquist:
            raise ValueError(f"need 0 <= fmin < fmax <= {nyquist:g} Hz, got fmin={self.fmin}, fmax={fmax}")
        if self.mel_scale not in MEL_SCALES:
            raise ValueError(f"mel_scale must be one of {MEL_SCALES}, got {self.mel_scale!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.log not in LOGS:
            raise ValueError(f"log must be one of {LOGS}, got {self.log!r}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        if self.power <= 0:
            raise ValueError(f"power must be > 0, got {self.power}")
        if self.mag_eps < 0 or self.pad < 0:
            raise ValueError("mag_eps and pad must be >= 0")
        if self.log != "none" and self.log_floor <= 0:
            raise ValueError(f"log_floor must be > 0 with log={self.log!r}")

    @property
    def edge_padding(self) -> int:
        """Samples added on each side of the signal before framing."""
        return self.n_fft // 2 if self.center else self.pad

    def n_frames(self, n_samples: int) -> int:
        """Frames that ``mel_spectrogram`` returns for ``n_samples`` samples."""
        padded = n_samples + 2 * self.edge_padding
        return 0 if padded < self.n_fft else 1 + (padded - self.n_fft) // self.hop_length


def hz_to_mel(freqs, scale: str = "slaney") -> np.ndarray:
    """Hz to mels (librosa.hz_to_mel): HTK formula or Slaney's linear-then-log scale."""
    freqs = np.asarray(freqs, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + freqs / 700.0)
    f_sp = 200.0 / 3
    mels = freqs / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    log_region = freqs >= min_log_hz
    return np.where(log_region, min_log_mel + np.log(np.maximum(freqs, min_log_hz) / min_log_hz) / logstep, mels)


def mel_to_hz(mels, scale: str = "slaney") -> np.ndarray:
    """Mels to Hz, inverse of ``hz_to_mel``."""
    mels = np.asarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


@functools.lru_cache(maxsize=16)
def _filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float, scale: str, norm: str
) -> np.ndarray:
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax, scale), n_mels + 2), scale)
    spacing = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_points[2 : n_mels + 2] - mel_points[:n_mels]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def mel_filterbank(config: MelConfig) -> np.ndarray:
    """Mel weights, shape (n_mels, n_fft // 2 + 1), float32 (same values as librosa.filters.mel)."""
    fmax = float(config.fmax) if config.fmax is not None else config.sample_rate / 2
    return _filterbank(
        config.sample_rate, config.n_fft, config.n_mels, float(config.fmin), fmax, config.mel_scale, config.norm
    )


@functools.lru_cache(maxsize=16)
def stft_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann of ``win_length`` centred in ``n_fft`` samples (torch.stft's window), read-only."""
    n = np.arange(win_length, dtype=np.float64)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)  # periodic Hann (scipy fftbins=True)
    left = (n_fft - win_length) // 2
    full = np.zeros(n_fft, dtype=np.float32)
    full[left : left + win_length] = window
    full.setflags(write=False)
    return full


def stft_magnitude(audio: np.ndarray, config: MelConfig) -> np.ndarray:
    """|STFT| ** power, shape (n_frames, n_fft // 2 + 1), float32."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {audio.shape}")
    pad = config.edge_padding
    if pad:
        if config.pad_mode == "reflect" and audio.size <= pad:
            raise ValueError(f"reflect padding needs more than {pad} samples, got {audio.size}")
        audio = np.pad(audio, (pad, pad), mode=config.pad_mode)  # type: ignore[call-overload]  # a checked str
    n_frames = config.n_frames(audio.size - 2 * pad)
    n_bins = config.n_fft // 2 + 1
    if n_frames <= 0:
        return np.zeros((0, n_bins), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(audio, config.n_fft)[:: config.hop_length][:n_frames]
    spectrum = np.fft.rfft(frames * stft_window(config.win_length, config.n_fft), axis=-1)
    if config.mag_eps > 0:
        magnitude = np.sqrt(spectrum.real**2 + spectrum.imag**2 + config.mag_eps)
        return (magnitude if config.power == 1.0 else magnitude**config.power).astype(np.float32)
    if config.power == 2.0:
        return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    magnitude = np.abs(spectrum)
    return (magnitude if config.power == 1.0 else magnitude**config.power).astype(np.float32)


def mel_spectrogram(audio: np.ndarray, config: MelConfig) -> np.ndarray:
    """Mel frames of mono float32 audio at ``config.sample_rate``: shape (n_frames, n_mels), float32.

    Time runs along the first axis (transpose for channel-first models such as HiFi-GAN).
    """
    mel = stft_magnitude(audio, config) @ mel_filterbank(config).T
    if config.log == "ln":
        mel = np.log(np.maximum(mel, config.log_floor))
    elif config.log == "log10":
        mel = np.log10(np.maximum(mel, config.log_floor))
    return mel.astype(np.float32, copy=False)
