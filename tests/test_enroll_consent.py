"""Consent challenge: random phrases, transcript scoring, and whisper on a spoken phrase."""

from __future__ import annotations

import numpy as np
import pytest

from edge_vc.enroll.consent import MIN_SCORE, N_WORDS, WORDS, Challenge, score_transcript


def test_challenges_are_random_distinct_words():
    phrases = {Challenge.new().words for _ in range(200)}
    assert len(phrases) == 200
    for words in phrases:
        assert len(words) == N_WORDS == len(set(words)) and set(words) <= set(WORDS)


def test_scoring_tolerates_spelling_but_not_other_words():
    challenge = Challenge(("tiger", "river", "candle", "orange", "pencil"))
    assert score_transcript(challenge, "I agree to clone my voice. Tigers, riverside, candle, orange, pencil!") == 1.0
    assert score_transcript(challenge, "tiger river candle") == pytest.approx(0.6)
    assert 0.6 >= MIN_SCORE
    assert score_transcript(challenge, "tiger river") < MIN_SCORE
    assert score_transcript(challenge, "I agree to clone my voice. Apple, lemon, castle, coffee, mirror.") == 0.0


@pytest.fixture(scope="module")
def checker():
    from edge_vc.enroll.consent import ConsentChecker

    return ConsentChecker(threads=2)


@pytest.mark.slow
def test_spoken_phrase_passes_and_another_phrase_fails(checker, base_voice):
    said, other = Challenge(("purple", "rocket", "kettle", "jacket", "winter")), Challenge.new()
    while set(other.words) & set(said.words):
        other = Challenge.new()
    speech = np.concatenate([c.audio for c in base_voice.synthesize(said.text)])
    padded = np.concatenate([np.zeros(base_voice.sample_rate, np.float32), speech, np.zeros(22050 * 2, np.float32)])
    result = checker.check(padded, base_voice.sample_rate, said)
    assert result.passed and result.score >= 0.8, result.transcript
    assert 1.0 + 1.5 < result.phrase_end_s <= 1.0 + speech.size / base_voice.sample_rate + 0.3
    assert not checker.check(padded, base_voice.sample_rate, other).passed
    silence = np.zeros(base_voice.sample_rate * 3, np.float32)
    assert not checker.check(silence, base_voice.sample_rate, said).passed
