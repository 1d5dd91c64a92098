"""Signal measurements behind the enrollment coach (numpy only, 16 kHz analysis).

Each function returns a plain number; the thresholds and messages live in ``coach.py``.
"""

from __future__ import annotations

import numpy as np

RATE = 16000
FRAME = 400
"""25 ms analysis frames."""
HOP = 160
"""10 ms hop."""
_EPS = 1e-10


def frame_power_db(audio: np.ndarray) -> np.ndarray:
    """Mean-square power per 25 ms frame (10 ms hop) in dBFS (full-scale sine ≈ -3 dB)."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < FRAME:
        audio = np.pad(audio, (0, FRAME - len(audio)))
    n = 1 + (len(audio) - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    frames = audio[idx].astype(np.float64)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + _EPS)


def speech_frame_mask(vad_mask: np.ndarray, n_frames: int, vad_hop: float) -> np.ndarray:
    """VAD windows mapped onto the 10 ms analysis frames."""
    if vad_mask.size == 0:
        return np.zeros(n_frames, dtype=bool)
    centers = (np.arange(n_frames) * HOP + FRAME / 2) / RATE
    index = np.minimum((centers / vad_hop).astype(np.int64), vad_mask.size - 1)
    return vad_mask[index]


def snr_db(power_db: np.ndarray, speech: np.ndarray) -> float:
    """Speech level over noise floor, in dB.

    Speech level: the mean power of the louder half of speech frames (active speech level).
    Noise floor: the mean power of non-speech frames when there are at least 0.3 s of them, else the
    5th percentile of all frames. Capped at 60 dB (digital silence).
    """
    if not speech.any():
        return 0.0
    speech_db = power_db[speech]
    level = _mean_db(speech_db[speech_db >= np.median(speech_db)])
    quiet = power_db[~speech]
    floor = _mean_db(quiet) if quiet.size >= 30 else float(np.percentile(power_db, 5))
    floor = min(floor, float(np.percentile(power_db, 20)))
    return float(min(60.0, level - floor))


def _mean_db(values_db: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(10.0 ** (values_db / 10.0)) + _EPS))


def active_speech_level_db(power_db: np.ndarray, speech: np.ndarray) -> float:
    """Mean power of the louder half of speech frames in dBFS (-120 when there is no speech)."""
    if not speech.any():
        return -120.0
    speech_db = power_db[speech]
    return _mean_db(speech_db[speech_db >= np.median(speech_db)])


def clipped_fraction(audio: np.ndarray) -> float:
    """Share of samples inside flat tops: runs of >= 3 (nearly) equal samples within 2 % of the peak.

    A clipped converter or a saturated gain stage repeats its limit value on every loud syllable, at
    any level (also after a later gain change); natural speech almost never holds a peak value.
    Equal means within 1e-4 of the peak, so resampled flat tops still count.
    """
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-4:
        return 0.0
    hot = np.abs(audio) >= 0.98 * peak
    flat = np.concatenate([[False], np.abs(np.diff(audio)) <= 1e-4 * peak])
    step = hot & flat & np.concatenate([[False], hot[:-1]])  # sample equals its hot predecessor
    padded = np.concatenate([[0], step.astype(np.int8), [0]])
    starts = np.flatnonzero(np.diff(padded) == 1)
    ends = np.flatnonzero(np.diff(padded) == -1)
    lengths = ends - starts  # a run of k equal steps is k + 1 samples
    long_runs = lengths[lengths >= 2]
    return float((long_runs.sum() + long_runs.size) / audio.size)


def band_envelopes_db(audio: np.ndarray, n_bands: int = 8) -> np.ndarray:
    """[frames, bands] log energy of 25 ms frames in log-spaced bands between 250 and 6000 Hz."""
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < FRAME:
        audio = np.pad(audio, (0, FRAME - len(audio)))
    n = 1 + (len(audio) - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(audio[idx] * np.hanning(FRAME)[None, :], n=512, axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / RATE)
    edges = np.geomspace(250.0, 6000.0, n_bands + 1)
    bands = np.stack(
        [spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
        axis=1,
    )
    return 10.0 * np.log10(bands + _EPS)


def reverb_time_s(audio: np.ndarray, min_frames: int = 5, min_drop_db: float = 10.0) -> float:
    """Blind reverberation-time estimate (seconds to decay 60 dB) from the fastest free decays.

    In 8 bands (250–6000 Hz, 25 ms frames, 10 ms hop, envelopes smoothed over 30 ms) every run of
    at least ``min_frames`` frames that keeps falling (no frame rises more than 0.5 dB) and drops at
    least ``min_drop_db`` while staying 6 dB above the band's noise floor is a decay; its
    least-squares slope in dB/s is collected. A room cannot decay faster than its reverberation
    allows, so the steep end of the slopes (their 25th percentile) gives a decay time 60 / |slope|.
    This is an index, not a calibrated RT60: dry speech reads ~0.1–0.2 s, speech convolved with a
    room of RT60 0.6–1.0 s reads ~0.3–0.6 s (see docs/enrollment.md). Returns 0 when fewer than 5
    decays are found.
    """
    env = band_envelopes_db(audio)
    kernel = np.ones(3) / 3.0
    slopes: list[float] = []
    for band in env.T:
        band = np.convolve(band, kernel, mode="same")
        floor = float(np.percentile(band, 10))
        falling = np.diff(band) <= 0.5
        padded = np.concatenate([[False], falling, [False]]).astype(np.int8)
        starts = np.flatnonzero(np.diff(padded) == 1)
        ends = np.flatnonzero(np.diff(padded) == -1)  # run of diffs [s, e) -> frames s..e
        for s, e in zip(starts, ends, strict=True):
            seg = band[s : e + 1]
            seg = seg[seg > floor + 6.0]
            if len(seg) < min_frames or seg[0] - seg[-1] < min_drop_db:
                continue
            t = np.arange(len(seg)) * HOP / RATE
            slopes.append(float(np.polyfit(t, seg, 1)[0]))
    if len(slopes) < 5:
        return 0.0
    steep = float(np.percentile(np.asarray(slopes), 25))
    return float(60.0 / max(-steep, 1e-3))


def syllable_rate(audio: np.ndarray, speech_seconds: float) -> float:
    """Syllable-like energy peaks per second of speech.

    The 250–2700 Hz envelope (10 ms frames) is smoothed over ~50 ms; a peak counts when the envelope
    rises 4 dB above the last valley (within 25 dB of the loudest frame) and then falls 4 dB again.
    """
    if speech_seconds <= 0:
        return 0.0
    env = band_envelopes_db(audio, n_bands=4)
    power = 10.0 * np.log10(np.sum(10.0 ** (env[:, :3] / 10.0), axis=1) + _EPS)
    kernel = np.hanning(7)
    kernel /= kernel.sum()
    smooth = np.convolve(power, kernel, mode="same")
    top = float(np.max(smooth)) if smooth.size else 0.0
    peaks = 0
    rising = True
    valley = peak = float(smooth[0]) if smooth.size else 0.0
    for value in smooth[1:]:
        value = float(value)
        if rising:
            valley = min(valley, value)
            if value - valley >= 4.0 and value > top - 25.0:
                rising, peak = False, value
                peaks += 1
        else:
            peak = max(peak, value)
            if peak - value >= 4.0:
                rising, valley = True, value
    return peaks / speech_seconds


def bandwidth_hz(audio: np.ndarray, speech: np.ndarray, drop_db: float = 40.0) -> float:
    """Upper band edge of the speech: the highest frequency where the long-term spectrum of the speech
    frames is within ``drop_db`` of its maximum (16 kHz analysis, so at most 8 kHz).

    Full-band recordings read 7.1-7.8 kHz (seven dev clips); the same clips through 8 kHz (telephone
    band) read 3.8-3.9 kHz. Returns 0 when there are no speech frames.
    """
    audio = np.asarray(audio, dtype=np.float32)
    n = len(speech)
    if n == 0 or not speech.any():
        return 0.0
    need = FRAME + HOP * (n - 1)
    if len(audio) < need:
        audio = np.pad(audio, (0, need - len(audio)))
    rows = np.flatnonzero(speech)
    spec = np.zeros(257, np.float64)
    for part in np.array_split(rows, max(1, len(rows) // 2000)):  # bounded memory on long recordings
        idx = np.arange(FRAME)[None, :] + HOP * part[:, None]
        spec += (np.abs(np.fft.rfft(audio[idx] * np.hanning(FRAME)[None, :], n=512, axis=1)) ** 2).sum(axis=0)
    freqs = np.fft.rfftfreq(512, 1.0 / RATE)
    db = 10.0 * np.log10(spec / len(rows) + _EPS * _EPS)
    peak = float(db[freqs > 100.0].max())
    return float(freqs[np.flatnonzero(db > peak - drop_db)[-1]])
