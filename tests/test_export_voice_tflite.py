"""TFLite parts of the joe voice (encoder / flow / decoder): run with LiteRT, match fp32, stay intelligible."""

from __future__ import annotations

import numpy as np
import pytest

from edge_vc.data.voices import FOLDER

NAME = "en_US-joe-medium"
PARTS = {p: FOLDER / f"{NAME}.{p}.tflite" for p in ("flow", "decoder")}
"""Committed TFLite parts; the encoder part (onnx2tf cannot convert it) is cut from the fp32 voice."""


def _interpreter_available() -> bool:
    try:
        from export.voice_tflite import interpreter_class

        interpreter_class()
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _interpreter_available(), reason="needs ai-edge-litert or tflite-runtime")


@pytest.fixture(scope="module")
def voices():
    """(fp32 ONNX renderer, TFLite parts voice, evaluation ids)."""
    from edge_vc.tts.catalog import bundled_voice
    from edge_vc.tts.config import VoiceConfig
    from export.sentences import EVALUATION
    from export.voice import phoneme_feeds
    from export.voice_eval import onnx_renderer
    from export.voice_tflite import load_parts_voice

    source = bundled_voice()
    parts = load_parts_voice(FOLDER / f"{NAME}.tflite.json", source.model_path, threads=2)
    ids = [f["input"][0].tolist() for f in phoneme_feeds(VoiceConfig.load(source.config_path), EVALUATION)]
    return onnx_renderer(source.model_path, threads=2), parts, ids


def test_tflite_parts_carry_metadata():
    from edge_vc.backends.tflite import read_tflite_metadata
    from edge_vc.tts.catalog import bundled_voice
    from export.voice import sha256_file

    for part, path in PARTS.items():
        meta = read_tflite_metadata(path)
        assert meta["part"] == part
        assert meta["edge_vc.kind"] == "piper-voice-part"
        assert meta["source_sha256"] == sha256_file(bundled_voice().model_path)


def test_tflite_voice_matches_fp32_length_and_level(voices):
    fp32, tfl, ids = voices
    for sentence in ids[:2]:
        ref, out = fp32(sentence), tfl.render(sentence)
        assert abs(out.size - ref.size) <= 256 * 3, (out.size, ref.size)  # same durations within 3 frames
        ratio = float(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(ref**2)))
        assert 0.7 < ratio < 1.4, ratio


@pytest.mark.slow
def test_tflite_voice_quality_guard(voices, asr):
    """Whisper WER within 2 points of fp32 and GE2E cosine >= 0.95 on the evaluation sentences."""
    from edge_vc.clone.encoder import SpeakerEncoder
    from export.sentences import EVALUATION
    from tests.asr import word_error_rate

    fp32, tfl, ids = voices
    ref_audio = [fp32(i) for i in ids]
    tfl_audio = [tfl.render(i) for i in ids]
    ref = np.mean([word_error_rate(t, asr.transcribe(a, 22050)) for t, a in zip(EVALUATION, ref_audio, strict=True)])
    hyp = np.mean([word_error_rate(t, asr.transcribe(a, 22050)) for t, a in zip(EVALUATION, tfl_audio, strict=True)])
    assert hyp - ref <= 0.02, (hyp, ref)
    encoder = SpeakerEncoder.load()
    cos = [
        encoder.similarity(encoder.embed(a, 22050), encoder.embed(b, 22050))
        for a, b in zip(ref_audio, tfl_audio, strict=True)
    ]
    assert np.mean(cos) >= 0.95, cos
