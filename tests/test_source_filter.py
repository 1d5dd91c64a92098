"""Source-filter vocoder: renders a mel + pitch track as intelligible speech at that pitch (numpy only)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge_vc.audio.io import resample
from edge_vc.features.hifigan_mel import HIFIGAN_HOP, HIFIGAN_RATE, hifigan_log_mel
from edge_vc.features.pitch import f0_track, pitch_features
from edge_vc.vocoder import SourceFilterVocoder, load_vocoder

SENTENCE = "The museum is closed on Mondays but open late on Fridays."


@pytest.fixture(scope="module")
def speech(base_voice):
    """A real sentence at 22 050 Hz (noise-free base voice), its log-mel and pitch input."""
    voice = replace(base_voice, config=replace(base_voice.config, noise_scale=0.0, noise_w=0.0))
    audio = np.concatenate([c.audio for c in voice.synthesize(SENTENCE)])
    audio = resample(audio, voice.sample_rate, HIFIGAN_RATE)
    n = audio.size // HIFIGAN_HOP
    audio = audio[: n * HIFIGAN_HOP]
    return audio, hifigan_log_mel(audio), pitch_features(audio, HIFIGAN_RATE, n)


def _mel_error(audio: np.ndarray, target: np.ndarray) -> float:
    """Mean |log-mel difference| over frames with speech energy."""
    got = hifigan_log_mel(audio)
    loud = target.max(axis=1) > np.log(1e-2)
    return float(np.abs(got - target)[loud].mean())


def test_resynthesis_is_intelligible_and_keeps_pitch(speech, asr):
    from edge_vc.bench.asr import word_error_rate

    audio, mel, pitch = speech
    out = SourceFilterVocoder()(mel, pitch)
    assert out.dtype == np.float32 and out.shape == audio.shape and np.isfinite(out).all()
    assert word_error_rate(SENTENCE, asr.transcribe(out, HIFIGAN_RATE)) <= 0.2
    f0_in, f0_out = f0_track(audio, HIFIGAN_RATE), f0_track(out, HIFIGAN_RATE)
    n = min(f0_in.size, f0_out.size)
    both = (f0_in[:n] > 0) & (f0_out[:n] > 0)
    assert both.sum() > 0.3 * (f0_in > 0).sum()
    semitones = 12 * np.abs(np.log2(f0_out[:n][both] / f0_in[:n][both]))
    assert np.median(semitones) < 0.5


def test_rendered_pitch_follows_the_pitch_input(speech):
    """Moving the pitch input up 5 semitones moves the output's F0 up 5 semitones. The mel is smoothed
    across bands first: the decoder's mel carries harmonics of the pitch it was given, so a mel with
    the old harmonics would pull the render back toward them."""
    _, mel, pitch = speech
    mel = np.apply_along_axis(lambda row: np.convolve(np.pad(row, 3, mode="edge"), np.ones(7) / 7, "valid"), 1, mel)
    vocoder = SourceFilterVocoder()
    up = pitch.copy()
    up[:, 0] += 5 / 12
    f0_a, f0_b = f0_track(vocoder(mel, pitch), HIFIGAN_RATE), f0_track(vocoder(mel, up), HIFIGAN_RATE)
    voiced = (f0_a > 0) & (f0_b > 0)
    assert np.median(12 * np.log2(f0_b[voiced] / f0_a[voiced])) == pytest.approx(5.0, abs=0.5)


def test_refinement_brings_output_mel_to_target(speech):
    """Analysis-by-synthesis refinement reduces the mel error of the render."""
    _, mel, pitch = speech
    one_pass = _mel_error(SourceFilterVocoder(iterations=0)(mel, pitch), mel)
    refined = _mel_error(SourceFilterVocoder(iterations=3)(mel, pitch), mel)
    assert refined < 0.85 * one_pass
    assert refined < 0.32


def test_bad_inputs_are_refused():
    vocoder = SourceFilterVocoder()
    mel = np.zeros((10, 80), dtype=np.float32)
    with pytest.raises(ValueError, match="pitch"):
        vocoder(mel)
    with pytest.raises(ValueError, match="expected"):
        vocoder(mel, np.zeros((9, 2)))
    assert vocoder(np.zeros((0, 80)), np.zeros((0, 2))).size == 0
    with pytest.raises(ValueError):
        SourceFilterVocoder(iterations=-1)
    with pytest.raises(ValueError, match="vocoder must be one of"):
        load_vocoder("int4")
    assert load_vocoder("source-filter").precision == "source-filter"


def test_overlap_add_and_min_phase_match_their_direct_forms():
    """The vectorised overlap-add sums as the frame-by-frame loop did (bit for bit), and the
    minimum-phase response by exp(a) (cos b + i sin b) is numpy's complex exp to rounding."""
    from edge_vc.vocoder.source_filter import N_FFT, _overlap_add

    rng = np.random.default_rng(3)
    frames = rng.standard_normal((37, N_FFT))
    loop = np.zeros(36 * HIFIGAN_HOP + N_FFT)
    for i, frame in enumerate(frames):
        loop[i * HIFIGAN_HOP : i * HIFIGAN_HOP + N_FFT] += frame
    assert np.array_equal(_overlap_add(frames, HIFIGAN_HOP), loop)
    vocoder = SourceFilterVocoder()
    log_gain = rng.normal(scale=3.0, size=(20, N_FFT // 2 + 1))
    direct = np.exp(np.fft.rfft(np.fft.irfft(log_gain, n=N_FFT, axis=-1) * vocoder._fold, axis=-1))
    assert np.allclose(vocoder._min_phase(log_gain), direct, rtol=1e-12, atol=0.0)
