"""Pitch input of the learned stage: F0 per mel frame and the map between speakers' ranges."""

import numpy as np
import pytest

from edge_vc.features.pitch import PitchMap, frame_stats, pitch_features, pitch_frames


def glide(f_start: float, f_end: float, seconds: float = 1.0, rate: int = 22050) -> np.ndarray:
    f = np.linspace(f_start, f_end, int(seconds * rate))
    phase = 2 * np.pi * np.cumsum(f) / rate
    return (0.3 * np.sign(np.sin(phase)) * 0.5 + 0.2 * np.sin(phase)).astype(np.float32)


def test_pitch_frames_follow_a_glide_and_mark_silence_unvoiced():
    audio = np.concatenate([glide(120, 240), np.zeros(11025, np.float32)])
    n = audio.size // 256
    pitch = pitch_features(audio, 22050, n)
    assert pitch.shape == (n, 2) and pitch.dtype == np.float32
    hz = 150 * 2.0 ** pitch[:, 0]
    voiced = pitch[:, 1] > 0.5
    assert voiced[5:70].all() and not voiced[-10:].any()
    assert abs(hz[10] - 126) < 8 and abs(hz[75] - 228) < 12  # rising with the glide
    assert np.all(np.diff(hz[5:80]) > -2)
    assert np.allclose(pitch[-10:, 0], pitch[-11, 0])  # unvoiced frames hold the contour (continuous)


def test_pitch_map_moves_median_and_scales_spread():
    rng = np.random.default_rng(0)
    source = 100 * 2.0 ** (rng.normal(0, 2, 500) / 12)  # 100 Hz, 2 semitones spread
    target = 220 * 2.0 ** (rng.normal(0, 4, 500) / 12)
    src_frames, tgt_frames = (np.stack([np.log2(f / 150), np.ones_like(f)], -1) for f in (source, target))
    mapping = PitchMap.between(src_frames, tgt_frames)
    moved = mapping.apply(src_frames)
    median, spread = frame_stats(moved)
    assert abs(median - frame_stats(tgt_frames)[0]) < 0.05 and abs(spread - frame_stats(tgt_frames)[1]) < 0.05
    assert np.array_equal(moved[:, 1], src_frames[:, 1])
    assert PitchMap.from_dict(mapping.to_dict()) == mapping


def test_pitch_stats_refuse_unvoiced_audio():
    with pytest.raises(ValueError, match="voiced"):
        frame_stats(pitch_frames(np.zeros(100), 50))


def test_clean_track_matches_the_frame_loop():
    """The vectorised octave fold / isolated-frame drop / 3-frame median gives the loop's values exactly."""
    from edge_vc.dsp.analysis import _clean_track

    def loop(f0: np.ndarray) -> np.ndarray:
        f0 = f0.copy()
        voiced = f0 > 0
        if voiced.sum() >= 5:
            median = np.median(f0[voiced])
            f0[voiced & (f0 > 1.7 * median)] /= 2.0
            f0[voiced & (f0 < 0.6 * median)] *= 2.0
        out, voiced = f0.copy(), f0 > 0
        for i in range(1, len(f0) - 1):
            if voiced[i] and not voiced[i - 1] and not voiced[i + 1]:
                out[i] = 0.0
            elif voiced[i - 1] and voiced[i] and voiced[i + 1]:
                out[i] = float(np.median(f0[i - 1 : i + 2]))
        return out

    rng = np.random.default_rng(5)
    for n in [0, 1, 2, 3, 4, *rng.integers(5, 300, size=40)]:
        f0 = rng.uniform(60, 400, size=n) * (rng.random(n) > 0.35)
        assert np.array_equal(_clean_track(f0), loop(f0)), n
