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


def test_a_second_listen_with_beam_search_when_greedy_decoding_drops_words():
    """Greedy Whisper sometimes drops list words; the beam-search pass then decides (and only then runs)."""
    from edge_vc.enroll.consent import ConsentChecker

    challenge = Challenge(("circle", "island", "volcano", "bridge", "engine"))
    heard = {1: "I agree to clone my voice. Circle. Bridge.", 5: "I agree to clone my voice, circle, island, volcano."}
    calls = []

    class Transcripts(ConsentChecker):
        def __init__(self) -> None:  # no model: the transcripts above stand for what it would hear
            pass

        def transcribe(self, audio, sample_rate, beam_size=1):
            calls.append(beam_size)
            text = heard[beam_size]
            return text, [(w, 0.5 + i, 1.0 + i) for i, w in enumerate(text.split())]

    audio = np.zeros(16000, np.float32)
    result = Transcripts().check(audio, 16000, challenge)
    assert result.passed and result.score == pytest.approx(0.6) and calls == [1, 5]
    assert result.transcript == heard[5] and result.phrase_end_s == pytest.approx(9.0)
    heard[5] = "I agree to clone my voice. Circle."
    calls.clear()
    result = Transcripts().check(audio, 16000, challenge)
    assert not result.passed and result.transcript == heard[1] and calls == [1, 5]
    heard[1] = "I agree to clone my voice. Circle, island, volcano, bridge, engine."
    calls.clear()
    assert Transcripts().check(audio, 16000, challenge).passed and calls == [1]
