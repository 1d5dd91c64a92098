"""Pitch input of the learned voice stage: log-F0 and voicing per HiFi-GAN mel frame (numpy only).

Frame values are ``[log2(f0 / 150 Hz), voiced]``; unvoiced frames carry the log-F0 interpolated
between their voiced neighbours, so the decoder sees a continuous contour. ``PitchMap`` moves a
contour from one speaker's range to another's (median and spread in semitones), which is how the
base voice's intonation is rendered at the enrolled speaker's pitch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edge_vc.configs import from_mapping
from edge_vc.dsp.analysis import HOP_S, F0Track, yin_f0
from edge_vc.features.hifigan_mel import frame_times

REFERENCE_HZ = 150.0
PITCH_DIM = 2


def f0_track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """YIN F0 in Hz per 10 ms frame (0 where unvoiced)."""
    return yin_f0(np.asarray(audio, dtype=np.float32), sample_rate, fmin=60.0, fmax=500.0).f0


def pitch_frames(f0: np.ndarray, n_frames: int) -> np.ndarray:
    """[n_frames, 2] decoder pitch input from a 10 ms F0 track (Hz, 0 = unvoiced)."""
    out = np.zeros((n_frames, PITCH_DIM), dtype=np.float32)
    voiced = f0 > 0
    if n_frames == 0 or voiced.sum() == 0:
        return out
    track_t = np.arange(f0.size) * HOP_S
    t = frame_times(n_frames)
    log_f0 = np.interp(track_t, track_t[voiced], np.log2(f0[voiced] / REFERENCE_HZ))
    out[:, 0] = np.interp(t, track_t, log_f0)
    out[:, 1] = np.interp(t, track_t, voiced.astype(np.float32)) > 0.5
    return out


def pitch_features(audio: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """[n_frames, 2] pitch input of ``audio`` aligned to its HiFi-GAN mel frames."""
    return pitch_frames(f0_track(audio, sample_rate), n_frames)


def pitch_stats(f0: np.ndarray) -> tuple[float, float]:
    """(median, robust spread) of voiced frames in semitones re 1 Hz (``F0Track``'s spread, at least 0.1)."""
    track = F0Track(np.asarray(f0, dtype=np.float64))
    st = track.semitones()
    if st.size < 5:
        raise ValueError("too little voiced speech to measure pitch")
    return float(np.median(st)), float(max(track.spread_semitones(), 0.1))


def frame_stats(pitch: np.ndarray) -> tuple[float, float]:
    """``pitch_stats`` of ``pitch_frames`` output (voiced frames only)."""
    voiced = np.asarray(pitch[..., 1]) > 0.5
    return pitch_stats(REFERENCE_HZ * 2.0 ** np.asarray(pitch[..., 0], dtype=np.float64)[voiced])


@dataclass
class PitchMap:
    """Map a contour from a source range to a target range (semitones re 1 Hz)."""

    source_median: float
    source_spread: float
    target_median: float
    target_spread: float

    def apply(self, pitch: np.ndarray) -> np.ndarray:
        """``pitch_frames`` output moved to the target range (voicing unchanged)."""
        out = np.array(pitch, dtype=np.float32, copy=True)
        st = 12.0 * (out[..., 0] + np.log2(REFERENCE_HZ))
        st = self.target_median + (st - self.source_median) * (self.target_spread / self.source_spread)
        out[..., 0] = st / 12.0 - np.log2(REFERENCE_HZ)
        return out

    @staticmethod
    def between(source_pitch: np.ndarray, target_pitch: np.ndarray) -> PitchMap:
        """The map from one corpus' pitch frames to another's."""
        return PitchMap(*frame_stats(source_pitch), *frame_stats(target_pitch))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> PitchMap:
        """The map from its four numbers (other keys ignored); ConfigError (a ValueError) when one is missing."""
        return from_mapping(PitchMap, data, what="pitch map", unknown="ignore")
