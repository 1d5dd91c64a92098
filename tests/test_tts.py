"""The bundled voice speaks intelligibly, streams, and handles long text lazily."""

from __future__ import annotations

import numpy as np
import pytest

from edge_vc.base_voice.config import SynthesisConfig, VoiceConfig
from edge_vc.base_voice.phonemes import Phonemizer
from edge_vc.text.sentences import split_sentences

SENTENCES = [
    "The weather today is sunny with a light breeze from the west.",
    "Please remember to water the plants before you leave the house.",
    "Our train leaves the station early in the morning.",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_bundled_voice_is_intelligible(base_voice, asr, sentence):
    chunks = list(base_voice.synthesize(sentence))
    audio = np.concatenate([c.audio for c in chunks])
    rate = chunks[0].sample_rate
    assert rate == 22050
    assert chunks[-1].is_last and not any(c.is_last for c in chunks[:-1])
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 0.02, "audio is (nearly) silent"
    words = len(sentence.split())
    seconds = len(audio) / rate
    assert 0.15 * words < seconds < 0.8 * words, f"{seconds:.2f} s for {words} words"
    assert asr.wer(audio, rate, sentence) <= 0.10


def test_phoneme_ids_follow_piper_layout(base_voice):
    config = base_voice.config
    phonemizer = Phonemizer(config)
    phonemes = phonemizer.phonemize("Hi there.")
    ids = phonemizer.to_ids(phonemes)
    id_map = config.phoneme_id_map
    assert ids[0] == id_map["^"][0] and ids[1] == id_map["_"][0] and ids[-1] == id_map["$"][0]
    # every phoneme is followed by PAD
    assert ids[2:-1:2] == [id_map[p][0] for p in phonemes if p in id_map]
    assert all(i == id_map["_"][0] for i in ids[3:-1:2])


def test_rate_changes_duration(base_voice):
    text = "Speaking speed follows the rate option."
    normal = sum(len(c.audio) for c in base_voice.synthesize(text, SynthesisConfig(noise_scale=0, noise_w=0)))
    fast = sum(
        len(c.audio) for c in base_voice.synthesize(text, SynthesisConfig(length_scale=0.5, noise_scale=0, noise_w=0))
    )
    assert 0.4 < fast / normal < 0.65


class _CountingSession:
    """Wraps the voice's phoneme-id session and logs each run."""

    def __init__(self, session, events):
        self.session, self.events = session, events

    def run(self, *args, **kwargs):
        self.events.append("encode")
        return self.session.run(*args, **kwargs)

    def get_inputs(self):
        return self.session.get_inputs()


PARAGRAPH = (
    "Good morning, and welcome to the station. The next train to the city leaves in five minutes. "
    "Please stand behind the yellow line. Tickets are sold at the machine near the entrance. "
    "Thank you for travelling with us today."
)


def test_first_chunk_arrives_before_the_rest_is_synthesized(base_voice, monkeypatch):
    events: list[str] = []
    monkeypatch.setattr(base_voice, "session", _CountingSession(base_voice.session, events))
    chunks = []
    for chunk in base_voice.synthesize(PARAGRAPH):
        events.append("chunk")
        chunks.append(chunk)
    first_chunk = events.index("chunk")
    assert events[:first_chunk] == ["encode"], events
    assert events.count("encode") in (5, 6)  # 5 sentences; a long first one is cut at its first clause
    assert events[-1] == "chunk" and chunks[-1].is_last and not any(c.is_last for c in chunks[:-1])


def test_first_sentence_decoded_in_small_windows_matches_whole_decoding(base_voice):
    from edge_vc.base_voice.config import SynthesisConfig

    assert base_voice.decoder is not None, "the bundled voice should be split for streaming"
    syn = SynthesisConfig(noise_scale=0, noise_w=0, normalize_audio=False)
    sentence = "The first sentence of a stream is decoded in small windows."
    chunks = list(base_voice.synthesize(sentence, syn))
    assert len(chunks) >= 3 and chunks[0].duration < 0.3, [c.duration for c in chunks]
    windowed = np.concatenate([c.audio for c in chunks])
    whole = base_voice.phoneme_ids_to_audio(Phonemizer(base_voice.config).to_ids(chunks[0].phonemes), syn)
    assert windowed.shape == whole.shape
    assert float(np.max(np.abs(windowed - whole))) < 1e-3


def test_long_text_is_read_lazily():
    consumed = 0

    def lines():
        nonlocal consumed
        for i in range(5000):  # ~ 50 kB chapter with paragraphs
            consumed += 1
            yield f"This is sentence number {i} of a long chapter."
            if i % 5 == 4:
                yield ""

    sentences = split_sentences(lines())
    first = next(sentences)
    assert first.startswith("This is sentence number 0")
    assert consumed < 20, f"splitter read {consumed} lines before the first sentence"


def test_sentence_splitter_keeps_abbreviations():
    got = list(split_sentences("Dr. Smith met Mr. Jones at 5 p.m. today. Then they left! Did they?"))
    assert got == ["Dr. Smith met Mr. Jones at 5 p.m. today.", "Then they left!", "Did they?"]


def test_long_text_streams_first_chunks_without_synthesizing_everything(base_voice):
    chapter = " ".join(f"Line {i} of the chapter talks about rivers and hills." for i in range(1000))
    assert len(chapter) > 50_000
    stream = base_voice.synthesize(chapter)
    first_two = [next(stream), next(stream)]
    stream.close()
    assert all(c.audio.size > 0 for c in first_two)


def test_voice_config_round_trip_and_validation(base_voice):
    data = base_voice.config.to_dict()
    again = VoiceConfig.from_dict(data)
    assert again == base_voice.config
    from edge_vc.errors import VoiceConfigError

    broken = dict(data)
    del broken["phoneme_id_map"]
    with pytest.raises(VoiceConfigError, match="phoneme_id_map"):
        VoiceConfig.from_dict(broken)
