"""resemblyzer's utterance preprocessing in numpy: volume normalisation and long-silence trimming.

resemblyzer (``preprocess_wav``) raises quiet audio to -30 dBFS and cuts silences longer than
~0.2 s using webrtcvad (mode 3) on 30 ms windows, smoothed by an 8-window moving average and
dilated by 7 windows. edge-vc keeps the smoothing and dilation exactly but replaces webrtcvad by
an energy detector (no C extension, same result on every platform); see docs/export.md for the
measured effect on embeddings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_vc.configs import from_mapping

INT16_MAX = 2**15 - 1


@dataclass
class PreprocessConfig:
    """Utterance preprocessing before the mel front-end."""

    target_dbfs: float = -30.0
    """Quiet audio is raised to this RMS level (never lowered), as resemblyzer does."""

    trim_silence: bool = True
    """Cut silences longer than ~(max_silence_windows * window_ms) ms."""

    window_ms: int = 30
    """VAD window length."""

    moving_average_width: int = 8
    """Windows averaged to smooth the voice flags."""

    max_silence_windows: int = 6
    """Voiced regions are dilated by this many windows + 1 (resemblyzer's vad_max_silence_length)."""

    energy_floor_db: float = -50.0
    """A window is voice only above this level (dBFS) ..."""

    energy_below_peak_db: float = 40.0
    """... and no more than this far below the loud end of the clip (95th percentile window)."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> PreprocessConfig:
        """Build from a dict (unknown keys refused); validates. ConfigError (a ValueError)."""
        return from_mapping(PreprocessConfig, data, what="preprocess config")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; ``from_dict(to_dict())`` round-trips."""
        return asdict(self)

    def validate(self) -> None:
        """Raise ValueError for unusable settings."""
        if self.window_ms not in (10, 20, 30):
            raise ValueError(f"window_ms must be 10, 20 or 30, got {self.window_ms}")
        if self.moving_average_width < 1 or self.max_silence_windows < 0:
            raise ValueError("moving_average_width must be >= 1 and max_silence_windows >= 0")
        if self.target_dbfs >= 0:
            raise ValueError(f"target_dbfs must be < 0, got {self.target_dbfs}")


def normalize_volume(audio: np.ndarray, target_dbfs: float, increase_only: bool = True) -> np.ndarray:
    """Scale to ``target_dbfs`` RMS (resemblyzer's normalize_volume); silence is returned unchanged."""
    rms = float(np.sqrt(np.mean((audio.astype(np.float64) * INT16_MAX) ** 2))) if audio.size else 0.0
    if rms == 0.0:
        return audio
    change = target_dbfs - 20.0 * np.log10(rms / INT16_MAX)
    if change < 0 and increase_only:
        return audio
    return (audio * (10.0 ** (change / 20.0))).astype(np.float32)


def voice_flags(audio: np.ndarray, sample_rate: int, config: PreprocessConfig) -> np.ndarray:
    """One bool per VAD window: energy above the floor and within range of the clip's loud end."""
    window = config.window_ms * sample_rate // 1000
    n = audio.size // window
    if n == 0:
        return np.zeros(0, dtype=bool)
    frames = audio[: n * window].astype(np.float64).reshape(n, window)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.percentile(level, 95)
    return (level > config.energy_floor_db) & (level > loud - config.energy_below_peak_db)


def voiced_mask(flags: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """resemblyzer's smoothing (moving average, rounded) and dilation of the voice flags."""
    width = config.moving_average_width
    padded = np.concatenate((np.zeros((width - 1) // 2), flags.astype(np.float64), np.zeros(width // 2)))
    sums = np.cumsum(padded)
    sums[width:] = sums[width:] - sums[:-width]
    smoothed = np.round(sums[width - 1 :] / width).astype(bool)
    size = config.max_silence_windows + 1
    if size <= 1 or smoothed.size == 0:
        return smoothed
    # binary_dilation with a flat structure of `size` (origin at its centre), as scipy does it
    left = size // 2
    padded = np.concatenate((np.zeros(size - 1 - left, dtype=bool), smoothed, np.zeros(left, dtype=bool)))
    window_sums = np.convolve(padded.astype(np.int32), np.ones(size, dtype=np.int32), mode="valid")
    return window_sums > 0


def trim_long_silences(audio: np.ndarray, sample_rate: int, config: PreprocessConfig) -> np.ndarray:
    """Drop silences longer than the dilation allows; keeps at most ``len(audio)`` samples."""
    window = config.window_ms * sample_rate // 1000
    audio = audio[: audio.size - audio.size % window]
    flags = voice_flags(audio, sample_rate, config)
    if flags.size == 0:
        return audio
    mask = np.repeat(voiced_mask(flags, config), window)
    return audio[mask]


def preprocess(audio: np.ndarray, sample_rate: int, config: PreprocessConfig) -> np.ndarray:
    """Volume normalisation, then silence trimming (audio already at the encoder's rate)."""
    audio = normalize_volume(np.asarray(audio, dtype=np.float32), config.target_dbfs)
    if config.trim_silence:
        audio = trim_long_silences(audio, sample_rate, config)
    return audio
