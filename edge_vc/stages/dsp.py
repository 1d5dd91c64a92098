"""The default voice stage: DSP that moves the base voice toward an enrolled speaker.

Per chunk (one sentence or clause from the base voice):

1. pitch and formants — the chunk is resampled by the formant warp α (every frequency × α), then
   Rubber Band (via pedalboard) restores its duration and moves the pitch to the speaker's level
   with formant preservation, so the envelope keeps the α warp; a per-frame pitch curve maps the
   base voice's F0 range onto the speaker's (``pitch_range``);
2. a smooth linear-phase EQ (long-term spectrum match, tilt included), streamed with state so that
   chunk joins are sample-exact continuations;
3. loudness toward the speaker's level, with gain ramps between chunks and a peak limit.

``speaking rate`` is not applied here: ``params.length_scale`` is for the base voice's synthesis
(see :meth:`DSPStage.adjust_synthesis`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from edge_vc.audio.chunk import AudioChunk
from edge_vc.audio.io import resample
from edge_vc.base_voice.config import SynthesisConfig
from edge_vc.configs import from_mapping
from edge_vc.dsp import analysis as dsp_analysis
from edge_vc.dsp.fir import StreamingFIR, design_eq
from edge_vc.dsp.psola import psola
from edge_vc.errors import ProfileError
from edge_vc.stages.joins import JoinedTransform

PARAMS_VERSION = 1
CONTEXT_SAMPLES = 2048
"""Earlier input each chunk is shaped with (93 ms at 22 050 Hz: pitch tracking, resampling and
PSOLA grains (at most 25 ms each side) see across the join)."""
FADE_SAMPLES = 512
"""Tail of each shaped chunk held back and cross-faded into its re-shaping with right context."""


@dataclass
class DSPParams:
    """What the DSP stage changes; estimated from enrollment, stored in the voice profile."""

    pitch_shift_semitones: float = 0.0
    """Shift of the median pitch (speaker median F0 over base median F0, in semitones)."""

    pitch_range: float = 1.0
    """Scale of pitch excursions around the median (speaker spread / base spread)."""

    formant_warp: float = 1.0
    """Frequency-axis warp of the spectral envelope; > 1 is a shorter vocal tract (formants up)."""

    eq_freqs_hz: list[float] = field(default_factory=list)
    """Centres of the EQ bands (log-spaced)."""

    eq_gains_db: list[float] = field(default_factory=list)
    """Gain per EQ band in dB (long-term spectrum match; empty = flat)."""

    loudness_dbfs: float | None = None
    """Target RMS of active speech in dBFS; None keeps the base voice's level."""

    length_scale: float = 1.0
    """Speaking-rate factor for the base voice's synthesis (> 1 is slower)."""

    sample_rate: int = 22050
    """Rate of the base voice the parameters were estimated for."""

    stats: dict[str, float] = field(default_factory=dict)
    """Measurements behind the parameters (speaker/base F0, rates, refine similarity); informative."""

    version: int = PARAMS_VERSION

    def validate(self) -> None:
        """Raise ProfileError for values the stage cannot use."""
        checks = [
            (
                -24.0 <= self.pitch_shift_semitones <= 24.0,
                f"pitch_shift_semitones {self.pitch_shift_semitones} is outside [-24, 24]",
            ),
            (0.25 <= self.pitch_range <= 3.0, f"pitch_range {self.pitch_range} is outside [0.25, 3]"),
            (0.7 <= self.formant_warp <= 1.4, f"formant_warp {self.formant_warp} is outside [0.7, 1.4]"),
            (len(self.eq_freqs_hz) == len(self.eq_gains_db), "eq_freqs_hz and eq_gains_db differ in length"),
            (all(-24.0 <= g <= 24.0 for g in self.eq_gains_db), "eq_gains_db has a gain outside [-24, 24] dB"),
            (all(0 < f < self.sample_rate / 2 for f in self.eq_freqs_hz), "eq_freqs_hz must lie in (0, rate/2)"),
            (list(self.eq_freqs_hz) == sorted(self.eq_freqs_hz), "eq_freqs_hz must be increasing"),
            (
                self.loudness_dbfs is None or -50.0 <= self.loudness_dbfs <= -3.0,
                f"loudness_dbfs {self.loudness_dbfs} is outside [-50, -3]",
            ),
            (0.5 <= self.length_scale <= 2.0, f"length_scale {self.length_scale} is outside [0.5, 2]"),
            (8000 <= self.sample_rate <= 48000, f"sample_rate {self.sample_rate} is out of range"),
            (
                self.version <= PARAMS_VERSION,
                f"DSP params version {self.version} is newer than this edge-vc"
                f" understands ({PARAMS_VERSION}); upgrade edge-vc",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ProfileError(f"invalid DSP voice-stage parameters: {message}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (YAML/JSON friendly)."""
        data = asdict(self)
        data["eq_freqs_hz"] = [round(float(f), 3) for f in self.eq_freqs_hz]
        data["eq_gains_db"] = [round(float(g), 3) for g in self.eq_gains_db]
        data["stats"] = {str(k): float(v) for k, v in self.stats.items()}
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> DSPParams:
        """Parse and validate; unknown keys or wrong types raise ProfileError."""
        return from_mapping(DSPParams, data, what="DSP voice-stage parameters", error=ProfileError)


class DSPStage:
    """Pitch, formant, EQ and loudness match to an enrolled speaker; ``stream()`` per utterance."""

    name = "dsp"

    def __init__(self, params: DSPParams, sample_rate: int | None = None, apply_eq: bool = True) -> None:
        params.validate()
        self.params = params
        self.sample_rate = int(sample_rate or params.sample_rate)
        gains = params.eq_gains_db if apply_eq else []
        self.eq_taps = design_eq(params.eq_freqs_hz, gains, self.sample_rate)
        self._base_median_st = 12.0 * np.log2(params.stats.get("base_f0_hz", 0.0) or 100.0)

    @staticmethod
    def from_params(params: DSPParams, sample_rate: int | None = None) -> DSPStage:
        """The stage for stored parameters (``sample_rate``: the base voice's output rate)."""
        return DSPStage(params, sample_rate)

    def stream(self) -> DSPStream:
        return DSPStream(self)

    def adjust_synthesis(self, syn: SynthesisConfig) -> SynthesisConfig:
        """The base voice's synthesis settings with the speaker's speaking rate applied."""
        return replace(syn, length_scale=float(np.clip(syn.length_scale * self.params.length_scale, 0.1, 10.0)))

    # ------------------------------------------------------------ processing

    def shape_voice(self, audio: np.ndarray) -> np.ndarray:
        """Pitch level/range and formant change of one chunk (same length out as in)."""
        p = self.params
        n = len(audio)
        warp = p.formant_warp
        flat = abs(p.pitch_range - 1.0) < 1e-3
        if abs(warp - 1.0) < 1e-4 and flat and abs(p.pitch_shift_semitones) < 1e-3:
            return np.asarray(audio, dtype=np.float64)
        x = np.asarray(audio, dtype=np.float32)
        if abs(warp - 1.0) >= 1e-4:  # every frequency × warp; duration ÷ warp
            x = resample(x, int(round(self.sample_rate * warp)), self.sample_rate)
        f0 = dsp_analysis.yin_f0(x, self.sample_rate).f0
        if flat:
            factor: float | np.ndarray = 2.0 ** (p.pitch_shift_semitones / 12.0) / warp
        else:
            factor = 2.0 ** (self._semitone_curve(f0, warp, n) / 12.0) / warp
        return psola(x, self.sample_rate, f0, n, factor)

    def _semitone_curve(self, f0: np.ndarray, warp: float, n: int) -> np.ndarray:
        """Per-output-sample shift: level shift plus (range-1) × the base voice's deviation from its median."""
        p = self.params
        voiced = f0 > 0
        if voiced.sum() < 2:
            return np.full(n, p.pitch_shift_semitones)
        frames = np.arange(len(f0))
        dev = np.interp(frames, frames[voiced], 12.0 * np.log2(f0[voiced] / warp) - self._base_median_st)
        dev = np.clip(dev, -8.0, 8.0)
        kernel = np.hanning(9)
        dev = np.convolve(np.pad(dev, 4, mode="edge"), kernel / kernel.sum(), mode="valid")
        curve = p.pitch_shift_semitones + (p.pitch_range - 1.0) * dev
        hop_out = self.sample_rate * dsp_analysis.HOP_S * warp  # analysis frames are on the warped axis
        return np.interp(np.arange(n), frames * hop_out, curve)


class DSPStream:
    """One utterance through a DSP stage: shaping with seamless joins, streamed EQ, loudness ramps.

    Shaping (pitch, formants) runs through :class:`JoinedTransform` with ``CONTEXT_SAMPLES`` of
    earlier input and a ``FADE_SAMPLES`` cross-fade, so chunked output follows the whole-utterance
    output without a discontinuity at any join; the EQ is sample-exact across chunks.
    """

    def __init__(self, stage: DSPStage) -> None:
        self.stage = stage
        self._shaping = JoinedTransform(stage.shape_voice, CONTEXT_SAMPLES, FADE_SAMPLES)
        self._fir = StreamingFIR(stage.eq_taps)
        self._gain_db: float | None = None

    def process(self, chunk: AudioChunk) -> AudioChunk:
        rate = self.stage.sample_rate
        audio = np.asarray(chunk.audio, dtype=np.float32)
        if chunk.sample_rate != rate:
            audio = resample(audio, chunk.sample_rate, rate)
        shaped = self._shaping.push(audio, chunk.is_last)
        out = self._fir.process(shaped, last=chunk.is_last)
        out = self._apply_loudness(out)
        return chunk.with_audio(out.astype(np.float32), sample_rate=rate)

    def _apply_loudness(self, audio: np.ndarray) -> np.ndarray:
        target = self.stage.params.loudness_dbfs
        if audio.size == 0:
            return audio
        if target is None:
            gain_db = 0.0
        else:
            level = dsp_analysis.active_rms_db(audio, self.stage.sample_rate) if audio.size > 1024 else target
            gain_db = float(np.clip(target - level, -20.0, 20.0))
        peak = float(np.max(np.abs(audio)))
        if peak > 1e-6:
            gain_db = min(gain_db, 20 * np.log10(0.97 / peak))
        previous = gain_db if self._gain_db is None else self._gain_db
        self._gain_db = gain_db
        ramp = min(len(audio), int(0.02 * self.stage.sample_rate))
        gains = np.full(len(audio), gain_db)
        gains[:ramp] = np.linspace(previous, gain_db, ramp)
        return np.clip(audio * 10.0 ** (gains / 20.0), -1.0, 1.0)
