"""TFLite parts of the joe voice (encoder / flow / decoder): run with LiteRT, match fp32, stay intelligible.

Also the ONNX rewrites that make the encoder convertible (static spline, noise input, builtin Erf) are
exact against Piper's own graph.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_vc.data.voices import FOLDER

NAME = "en_US-joe-medium"
PARTS = {p: FOLDER / f"{NAME}.{p}.tflite" for p in ("encoder", "flow", "decoder")}
"""Committed TFLite parts (dynamic-range INT8 weights)."""


def _interpreter_available() -> bool:
    from edge_vc.backends.tflite import available

    return available()


pytestmark = pytest.mark.skipif(not _interpreter_available(), reason="needs ai-edge-litert or tflite-runtime")


@pytest.mark.slow  # splits the 63 MB voice: ~10 s alone, ~30 s on a loaded VM
def test_static_duration_predictor_matches_piper_graph(tmp_path):
    """The rewritten encoder part (no NonZero/ScatterND/RandomNormalLike/Erf) gives Piper's log-durations.

    Reference: Piper's own graph cut at the log-durations, unpadded, its RandomNormalLike fed the same noise.
    """
    import onnx
    from edge_vc.export.voice_parts import ENCODER_OUTPUTS, PartsConfig, split_voice
    from edge_vc.export.voice_spline import NOISE_INPUT
    from onnx import helper
    from onnx.utils import Extractor

    from edge_vc.backends.onnx import create_session
    from edge_vc.base_voice.catalog import bundled_voice

    source = bundled_voice().model_path
    part = split_voice(source, tmp_path, PartsConfig(max_phonemes=64))["encoder"]
    encoder = onnx.load(str(part))
    ops = {n.op_type for n in encoder.graph.node}
    assert not ops & {"NonZero", "ScatterND", "GatherND", "RandomNormalLike", "Erf"}, ops
    assert [i.name for i in encoder.graph.input] == ["input", "input_lengths", "scales", NOISE_INPUT]
    piper = Extractor(onnx.load(str(source))).extract_model(["input", "input_lengths", "scales"], [ENCODER_OUTPUTS[2]])
    for node in list(piper.graph.node):
        if node.op_type == "RandomNormalLike":
            piper.graph.node.remove(node)
            piper.graph.input.append(helper.make_tensor_value_info(NOISE_INPUT, onnx.TensorProto.FLOAT, [1, 2, None]))
            for other in piper.graph.node:
                other.input[:] = [NOISE_INPUT if i == node.output[0] else i for i in other.input]
    reference = create_session(piper.SerializeToString())
    ours = create_session(part)
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 100, 40)
    padded = np.zeros((1, 64), np.int64)
    padded[0, :40] = ids
    for noise_w in (0.0, 0.8, 2.0):
        noise = rng.standard_normal((1, 2, 64)).astype(np.float32)
        scales = np.array([0.667, 1.0, noise_w], np.float32)
        feeds = {"input": padded, "input_lengths": np.array([40]), "scales": scales, NOISE_INPUT: noise}
        logw = ours.run(None, feeds)[2][..., :40]
        ref_feeds = {
            "input": ids[None],
            "input_lengths": np.array([40]),
            "scales": scales,
            NOISE_INPUT: noise[..., :40],
        }
        expected = reference.run(None, ref_feeds)[0]
        assert np.max(np.abs(logw - expected)) < 1e-4, (noise_w, np.max(np.abs(logw - expected)))


@pytest.fixture(scope="module")
def voices():
    """(fp32 ONNX renderer, TFLite parts voice, evaluation ids)."""
    from edge_vc.export.sentences import EVALUATION
    from edge_vc.export.voice import phoneme_feeds
    from edge_vc.export.voice_eval import onnx_renderer
    from edge_vc.export.voice_tflite import load_parts_voice

    from edge_vc.base_voice.catalog import bundled_voice
    from edge_vc.base_voice.config import VoiceConfig

    source = bundled_voice()
    parts = load_parts_voice(FOLDER / f"{NAME}.tflite.json", threads=2)
    ids = [f["input"][0].tolist() for f in phoneme_feeds(VoiceConfig.load(source.config_path), EVALUATION)]
    return onnx_renderer(source.model_path, threads=2), parts, ids


def test_tflite_parts_carry_metadata():
    from edge_vc.export.voice import sha256_file

    from edge_vc.backends.tflite import read_tflite_metadata
    from edge_vc.base_voice.catalog import bundled_voice

    for part, path in PARTS.items():
        meta = read_tflite_metadata(path)
        assert meta["part"] == part
        assert meta["edge_vc.kind"] == "piper-voice-part"
        assert meta["source_sha256"] == sha256_file(bundled_voice().model_path)


@pytest.mark.slow
def test_tflite_voice_matches_fp32_length_and_level(voices):
    fp32, tfl, ids = voices
    for sentence in ids[:2]:
        ref, out = fp32(sentence), tfl.render(sentence)
        # durations within ~3 %: the encoder's INT8 weights move a few log-durations across a frame boundary
        assert abs(out.size - ref.size) <= max(256 * 6, 0.03 * ref.size), (out.size, ref.size)
        ratio = float(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(ref**2)))
        assert 0.7 < ratio < 1.4, ratio


@pytest.mark.slow
def test_tflite_voice_quality_guard(voices, asr):
    """Whisper WER within 2 points of fp32 and GE2E cosine >= 0.95 on the evaluation sentences."""
    from edge_vc.export.sentences import EVALUATION

    from edge_vc.bench.asr import word_error_rate
    from edge_vc.speaker.encoder import SpeakerEncoder

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
