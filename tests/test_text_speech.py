"""Text markup through the real voice: SSML pauses, rate, pitch, normalisation, hostile text."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edge_vc.errors import InvalidTextError
from edge_vc.text.sentences import MAX_TEXT_CHARS


def _audio(voice, text, **kwargs):
    chunks = list(voice.synthesize(text, **kwargs))
    return chunks, np.concatenate([c.audio for c in chunks])


def _median_f0(audio: np.ndarray, rate: int) -> float:
    """Median pitch of voiced 40 ms frames by normalised autocorrelation (70-400 Hz)."""
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    lo, hi = int(rate / 400), int(rate / 70)
    values = []
    for start in range(0, len(audio) - frame, hop):
        x = audio[start : start + frame] - audio[start : start + frame].mean()
        energy = float(np.dot(x, x))
        if energy < 1e-3:
            continue
        corr = np.correlate(x, x, "full")[frame - 1 :]
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] / energy > 0.6:
            values.append(rate / lag)
    return float(np.median(values))


def test_ssml_speaks_normalised_words_with_real_pauses(base_voice, asr):
    text = (
        '<speak>The bill is $12.50.<break time="1200ms"/><prosody rate="slow">Pay it by 2024-03-05.</prosody></speak>'
    )
    chunks, audio = _audio(base_voice, text)
    pauses = [c for c in chunks if not c.text]
    assert len(pauses) == 1 and pauses[0].duration == pytest.approx(1.2, abs=0.01)
    assert np.all(pauses[0].audio == 0)
    assert chunks[-1].is_last and not any(c.is_last for c in chunks[:-1])
    heard = asr.transcribe(audio, base_voice.sample_rate).lower()
    assert "12" in heard or "twelve" in heard
    assert "march" in heard and "pay" in heard


def test_prosody_rate_and_pitch_change_the_audio(base_voice):
    from edge_vc.base_voice.config import SynthesisConfig

    syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0)
    sentence = "Seven seas and seven seals."
    _, plain = _audio(base_voice, sentence, syn=syn)
    _, slow = _audio(base_voice, f'<speak><prosody rate="x-slow">{sentence}</prosody></speak>', syn=syn)
    _, high = _audio(base_voice, f'<speak><prosody pitch="+4st">{sentence}</prosody></speak>', syn=syn)
    assert len(slow) / len(plain) == pytest.approx(2.0, rel=0.15)
    assert len(high) / len(plain) == pytest.approx(1.0, rel=0.1)
    ratio = _median_f0(high, base_voice.sample_rate) / _median_f0(plain, base_voice.sample_rate)
    assert ratio == pytest.approx(2 ** (4 / 12), rel=0.08)


def test_say_as_characters_is_spelled(base_voice, asr):
    _, audio = _audio(base_voice, '<speak>Code <say-as interpret-as="characters">XYZ</say-as>.</speak>')
    heard = asr.transcribe(audio, base_voice.sample_rate).lower().replace(".", "").replace(",", "")
    assert "xyz" in heard.replace(" ", "") or "x y z" in heard


def _bounded(func, seconds: float):
    """Run func in a thread; fail if it takes longer than ``seconds``."""
    result: dict = {}

    def target():
        try:
            result["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"took longer than {seconds} s"
    return result, time.perf_counter() - started


@pytest.mark.parametrize(
    "text",
    [
        "Bell\x07 and\x00 null\x1b[31m escape\x7f.",
        "Smile 😀🎉👍 please.",
        "😀🎉👍",
        "שלום עולם and مرحبا \u202eoverride\u202c done.",
        '<speak>Unclosed <prosody rate="fast">tags <break time="1s" and < stray </bogus>',
        "Mixed\u200b zero\ufeff width\u2028 separators.",
    ],
)
def test_hostile_text_speaks_in_bounded_time(base_voice, text):
    result, _ = _bounded(lambda: _audio(base_voice, text), 30.0)
    assert "error" not in result, result.get("error")
    chunks, audio = result["value"]
    assert audio.size > 0.3 * base_voice.sample_rate and np.isfinite(audio).all()
    assert np.abs(audio).max() > 0.1


@pytest.mark.parametrize("text", ["\x00\x01\x02", "   ", "<speak><break time='2s'/></speak>", "<speak></speak>"])
def test_unspeakable_text_is_refused_cleanly(base_voice, text):
    result, _ = _bounded(lambda: _audio(base_voice, text), 10.0)
    assert isinstance(result.get("error"), InvalidTextError)


def test_50kb_text_streams_first_chunk_quickly_and_stops(base_voice):
    text = ("The quick brown fox jumps over the lazy dog at 10:30 for $5. " * 900)[:50_000]
    assert len(text) == 50_000

    def first_two():
        stream = base_voice.synthesize(text)
        chunks = [next(stream), next(stream)]
        stream.close()
        return chunks

    result, elapsed = _bounded(first_two, 20.0)
    assert "error" not in result and all(c.audio.size for c in result["value"])
    assert elapsed < 20.0


def test_oversized_and_hostile_ssml_refused_or_bounded(base_voice):
    with pytest.raises(InvalidTextError):
        list(base_voice.synthesize("a" * (MAX_TEXT_CHARS + 1)))
    hostile = "<speak>" + '<prosody rate="fast">' * 2_000 + "deep nesting ends here."
    result, _ = _bounded(lambda: _audio(base_voice, hostile), 30.0)
    assert "error" not in result and result["value"][1].size > 0


def test_cli_say_ssml_flag_inserts_the_break(run_cli, tmp_path):
    out = tmp_path / "ssml.wav"
    result = run_cli("say", "--ssml", 'Wait <break time="1500ms"/> then go.', "-o", str(out), "--threads", "1")
    assert result.returncode == 0, result.stderr
    import soundfile

    audio, rate = soundfile.read(str(out), dtype="float32")
    silent = np.abs(audio) < 1e-4
    longest, run = 0, 0
    for value in silent:
        run = run + 1 if value else 0
        longest = max(longest, run)
    assert longest / rate >= 1.45
