"""Estimating DSP voice-stage parameters from an enrollment recording.

Measures the speaker and the base voice the same way (pitch median and spread, long-term spectrum,
speaking rate, loudness), derives first parameters, and — given the on-device speaker encoder —
refines formant warp and pitch level by a small bounded coordinate search that maximises the
encoder's similarity to the enrollment. The bounds keep speech intelligible (checked with whisper
in ``benchmarks/eval_dsp_clone.py`` and the tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from edge_vc.audio.io import resample
from edge_vc.dsp import analysis as A
from edge_vc.dsp.fir import StreamingFIR, design_eq
from edge_vc.errors import EnrollmentError
from edge_vc.stages.dsp import DSPParams, DSPStage

REFERENCE_SENTENCES = [
    "The birch canoe slid on the smooth planks, and the boy was there when the sun rose.",
    "A rod is used to catch pink salmon, but the source of the huge river is the clear spring.",
    "Kick the ball straight and follow through; help the woman get back to her feet.",
    "Four hours of steady work faced us. A large size in stockings is hard to sell.",
    "Glue the sheet to the dark blue background, then read the verse out loud for pleasure.",
    "Oak is strong and also gives shade. Cats and dogs each hate the other.",
]
"""Base-voice material for measuring the base voice and for the refinement search (Harvard sentences)."""

WARP_BOUNDS = (0.84, 1.30)
SHIFT_BOUNDS = (-10.0, 18.0)
SHIFT_SEARCH = 2.0
"""The refinement moves the pitch at most this many semitones from the measured F0 ratio."""
SHIFT_PENALTY = 0.005
"""Similarity given up per semitone away from the measured pitch (the encoder is a noisy judge of pitch)."""
RANGE_BOUNDS = (0.6, 1.6)
LENGTH_BOUNDS = (0.85, 1.2)
EQ_LIMIT_DB = 12.0
LOUDNESS_RANGE_DBFS = (-30.0, -12.0)
"""A profile speaks at its enrollment's speech level, within this range (learned stage too)."""
EQ_STRENGTHS = (0.5, 1.5)
EQ_MAX_DB = 20.0
"""Hard limit on any band gain after scaling (DSPParams accepts up to 24 dB)."""
"""Scales of the fitted EQ tried last by the refinement (1.0 is always tried)."""
MIN_SPEECH_S = 1.0


@dataclass
class VoiceStats:
    """Measurements of one voice (speaker or base) on its own audio, at the base voice's rate."""

    f0_hz: float
    f0_spread_st: float
    ltas_db: np.ndarray
    rate: float
    loudness_dbfs: float

    @staticmethod
    def measure(audio: np.ndarray, sample_rate: int) -> VoiceStats:
        track = A.yin_f0(audio, sample_rate)
        return VoiceStats(
            f0_hz=track.median_hz(),
            f0_spread_st=track.spread_semitones(),
            ltas_db=A.long_term_spectrum(audio, sample_rate),
            rate=A.speaking_rate(audio, sample_rate),
            loudness_dbfs=A.active_rms_db(audio, sample_rate),
        )


_BASE_CACHE: dict[tuple[str, int], tuple[np.ndarray, VoiceStats]] = {}
_LOCK = threading.Lock()


def base_reference(base_voice) -> tuple[np.ndarray, VoiceStats]:
    """The base voice saying :data:`REFERENCE_SENTENCES` (one array) and its stats; cached per voice."""
    key = (getattr(base_voice, "name", "") or str(id(base_voice)), int(base_voice.sample_rate))
    with _LOCK:
        if key not in _BASE_CACHE:
            # noise scales 0: the same material every run, so the same enrollment gives the same profile
            # (with VITS noise, formant warp moved 1.053 -> 1.096 between two runs on one file); its
            # stats (F0 median and spread, rate, loudness) stay within the noisy runs' own spread
            syn = base_voice.config.default_synthesis()
            syn.noise_scale = syn.noise_w = 0.0
            pieces = [c.audio for c in base_voice.synthesize(REFERENCE_SENTENCES, syn)]
            audio = np.concatenate(pieces).astype(np.float32)
            _BASE_CACHE[key] = (audio, VoiceStats.measure(audio, base_voice.sample_rate))
        return _BASE_CACHE[key]


def eq_for(shaped: np.ndarray, speaker: VoiceStats, sample_rate: int) -> list[float]:
    """Band gains that give ``shaped`` (base voice after pitch/formant change) the speaker's spectrum."""
    diff = speaker.ltas_db - A.long_term_spectrum(shaped, sample_rate)
    diff = np.convolve(np.pad(diff, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    diff -= np.median(diff)
    centers = A.band_centers(sample_rate)
    limit = np.where((centers < 100) | (centers > 8000), EQ_LIMIT_DB / 2, EQ_LIMIT_DB)
    return [float(g) for g in np.clip(diff, -limit, limit)]


def _with_eq(
    params: DSPParams, base_audio: np.ndarray, speaker: VoiceStats, sr: int, strength: float = 1.0
) -> tuple[DSPParams, np.ndarray]:
    """Params with the EQ fitted after their pitch/formant change, and the base material through both."""
    shaped = DSPStage(replace(params, eq_freqs_hz=[], eq_gains_db=[]), sr).shape_voice(base_audio)
    gains = [float(np.clip(strength * g, -EQ_MAX_DB, EQ_MAX_DB)) for g in eq_for(shaped, speaker, sr)]
    params = replace(params, eq_freqs_hz=[float(f) for f in A.band_centers(sr)], eq_gains_db=gains)
    out = StreamingFIR(design_eq(params.eq_freqs_hz, gains, sr)).process(shaped, last=True)
    return params, out


def initial_params(speaker: VoiceStats, base: VoiceStats, sample_rate: int) -> DSPParams:
    """Parameters from the measurements alone."""
    if speaker.f0_hz <= 0 or base.f0_hz <= 0:
        raise EnrollmentError("no voiced speech found in the enrollment audio: cannot measure pitch")
    ratio = speaker.f0_hz / base.f0_hz
    shift = float(np.clip(12.0 * np.log2(ratio), *SHIFT_BOUNDS))
    spread = speaker.f0_spread_st / base.f0_spread_st if base.f0_spread_st > 0 else 1.0
    pitch_range = float(np.clip(spread, *RANGE_BOUNDS))
    # vocal-tract length follows F0 only loosely (formants differ ~15-20 % between men and women
    # whose F0 differs ~2x): a prior of ratio^0.25, corrected by the long-term-spectrum match
    prior = ratio**0.25
    ltas_warp, corr = A.estimate_warp(speaker.ltas_db, base.ltas_db, A.band_centers(sample_rate))
    weight = float(np.clip((corr - 0.5) / 0.8, 0.0, 0.5))
    warp = float(np.clip(np.exp((1 - weight) * np.log(prior) + weight * np.log(ltas_warp)), *WARP_BOUNDS))
    length = base.rate / speaker.rate if speaker.rate > 0 and base.rate > 0 else 1.0
    return DSPParams(
        pitch_shift_semitones=shift,
        pitch_range=pitch_range,
        formant_warp=warp,
        loudness_dbfs=float(np.clip(speaker.loudness_dbfs, *LOUDNESS_RANGE_DBFS)),
        length_scale=float(np.clip(length, *LENGTH_BOUNDS)),
        sample_rate=sample_rate,
        stats={
            "speaker_f0_hz": speaker.f0_hz,
            "speaker_f0_spread_st": speaker.f0_spread_st,
            "base_f0_hz": base.f0_hz,
            "base_f0_spread_st": base.f0_spread_st,
            "speaker_rate_per_s": speaker.rate,
            "base_rate_per_s": base.rate,
            "ltas_warp": ltas_warp,
            "ltas_warp_corr": corr,
        },
    )


def estimate_params(
    enroll_audio: np.ndarray, sample_rate: int, base_voice, encoder=None, refine: bool = True
) -> DSPParams:
    """DSP parameters for ``base_voice`` → the speaker of ``enroll_audio`` (mono float32)."""
    sr = int(base_voice.sample_rate)
    audio = resample(np.asarray(enroll_audio, dtype=np.float32).reshape(-1), sample_rate, sr)
    if audio.size < MIN_SPEECH_S * sr or float(np.max(np.abs(audio), initial=0.0)) < 1e-4:
        raise EnrollmentError("enrollment audio is too short or silent to estimate a voice from")
    base_audio, base = base_reference(base_voice)
    speaker = VoiceStats.measure(audio, sr)
    params = initial_params(speaker, base, sr)
    if refine and encoder is not None:
        params = refine_params(params, audio, sr, base_audio, speaker, encoder)
    else:
        params, _ = _with_eq(params, base_audio, speaker, sr)
    params.validate()
    return params


def refine_params(
    params: DSPParams, audio: np.ndarray, sr: int, base_audio: np.ndarray, speaker: VoiceStats, encoder
) -> DSPParams:
    """Bounded coordinate search over formant warp and pitch shift, maximising encoder similarity."""
    reference = _unit(encoder.embed(audio, sr))
    material = base_audio[: int(12 * sr)]  # ~12 s keeps the search to a few seconds
    measured_shift = params.pitch_shift_semitones
    scores: dict[tuple[float, float, float], tuple[float, DSPParams]] = {}

    def score(warp: float, shift: float, strength: float = 1.0) -> float:
        warp = round(float(np.clip(warp, *WARP_BOUNDS)), 3)
        shift = round(float(np.clip(shift, measured_shift - SHIFT_SEARCH, measured_shift + SHIFT_SEARCH)), 2)
        key = (warp, float(np.clip(shift, *SHIFT_BOUNDS)), strength)
        if key not in scores:
            cand = replace(params, formant_warp=key[0], pitch_shift_semitones=key[1])
            cand, out = _with_eq(cand, material, speaker, sr, strength)
            similarity = float(_unit(encoder.embed(out.astype(np.float32), sr)) @ reference)
            scores[key] = (similarity, cand)
        return scores[key][0]

    def objective(key: tuple[float, float, float]) -> float:
        return scores[key][0] - SHIFT_PENALTY * abs(key[1] - measured_shift)

    def best() -> tuple[float, float, float]:
        return max(scores, key=objective)

    warp0, shift0 = params.formant_warp, measured_shift
    for w in (0.90, 0.95, 1.0, 1.05, 1.10):
        score(warp0 * w, shift0)
    warp1, _, _ = best()
    for s in (-2.0, -1.0, 1.0, 2.0):
        score(warp1, shift0 + s)
    warp1, shift1, _ = best()
    for w in (0.975, 1.025):
        score(warp1 * w, shift1)
    warp1, shift1, _ = best()
    for strength in EQ_STRENGTHS:
        score(warp1, shift1, strength)
    key = best()
    top, chosen = scores[key]
    start = scores.get((round(float(np.clip(warp0, *WARP_BOUNDS)), 3), round(float(shift0), 2), 1.0))
    stats = dict(chosen.stats)
    stats["refine_similarity"] = top
    stats["refine_candidates"] = float(len(scores))
    if start is not None:
        stats["initial_similarity"] = start[0]
    return replace(chosen, stats=stats)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    return v / (np.linalg.norm(v) + 1e-12)
