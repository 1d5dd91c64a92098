"""INT8 export of the Piper VITS voice: committed artifact, metadata, speed, WER and speaker-cosine guards."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_vc.data.voices import JOE_INT8

REPORT = JOE_INT8.with_name(JOE_INT8.name + ".report.json")


def _snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    n = min(ref.size, test.size)
    noise = float(np.sum((ref[:n] - test[:n]) ** 2))
    return 10 * np.log10(float(np.sum(ref[:n] ** 2)) / max(noise, 1e-20))


@pytest.fixture(scope="module")
def eval_ids():
    from edge_vc.export.sentences import EVALUATION
    from edge_vc.export.voice import phoneme_feeds

    from edge_vc.base_voice.catalog import bundled_voice
    from edge_vc.base_voice.config import VoiceConfig

    config = VoiceConfig.load(bundled_voice().config_path)
    return [f["input"][0].tolist() for f in phoneme_feeds(config, EVALUATION)]


@pytest.fixture(scope="module")
def renderings(eval_ids):
    """fp32 and committed INT8 audio of the 12 evaluation sentences, noise scales 0."""
    from edge_vc.export.voice_eval import onnx_renderer

    from edge_vc.base_voice.catalog import bundled_voice

    fp32, int8 = onnx_renderer(bundled_voice().model_path, threads=2), onnx_renderer(JOE_INT8, threads=2)
    return [fp32(i) for i in eval_ids], [int8(i) for i in eval_ids]


def test_committed_voice_has_metadata_and_manifest():
    from edge_vc.export.quantize import QuantRecipe
    from edge_vc.export.voice import EXPORT_VERSION, read_voice_metadata, sha256_file

    from edge_vc.base_voice.catalog import bundled_voice

    assert JOE_INT8.is_file() and JOE_INT8.stat().st_size <= 25_000_000
    meta = read_voice_metadata(JOE_INT8)
    assert meta["source"] == "en_US-joe-medium.onnx"
    assert meta["source_sha256"] == sha256_file(bundled_voice().model_path)
    assert int(meta["edge_vc.export_version"]) == EXPORT_VERSION
    assert "MIT" in meta["licence"]
    QuantRecipe.from_dict(json.loads(meta["recipe"]))  # parses and validates
    report = json.loads(REPORT.read_text())
    assert report["sha256"] == sha256_file(JOE_INT8), "manifest does not describe the committed file"
    assert report["guard_failures"] == {"int8": []}
    assert report["speed"][1]["speedup_vs_reference"] >= 1.5


def test_fp32_voice_is_refused_as_export(tmp_path):
    from edge_vc.export.voice import read_voice_metadata

    from edge_vc.base_voice.catalog import bundled_voice
    from edge_vc.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="no edge-vc voice metadata"):
        read_voice_metadata(bundled_voice().model_path)


@pytest.mark.slow
def test_conv_transpose_rewrite_is_exact(eval_ids):
    """The ConvTranspose -> Conv + depth-to-space rewrite changes nothing in fp32."""
    import onnx
    from edge_vc.export.quantize import rewrite_conv_transpose
    from edge_vc.export.voice_eval import onnx_renderer

    from edge_vc.base_voice.catalog import bundled_voice

    model = onnx.load(str(bundled_voice().model_path))
    assert rewrite_conv_transpose(model) == 3
    assert not any(n.op_type == "ConvTranspose" for n in model.graph.node)
    ref = onnx_renderer(bundled_voice().model_path, threads=2)(eval_ids[0])
    out = onnx_renderer(model.SerializeToString(), threads=2)(eval_ids[0])
    assert out.size == ref.size
    assert _snr_db(ref, out) > 80


@pytest.mark.slow
def test_int8_voice_loads_and_speaks(tmp_path, run_cli):
    from edge_vc.audio.io import read_audio
    from edge_vc.base_voice.voice import BaseVoice

    voice = BaseVoice.load(str(JOE_INT8), threads=1)
    assert voice.sample_rate == 22050
    wav = tmp_path / "int8.wav"
    result = run_cli("say", "--voice", str(JOE_INT8), "--out", str(wav), "Hello from the small voice.")
    assert result.returncode == 0, result.stderr.decode()
    audio, _rate = read_audio(wav, 22050)
    assert audio.size > 22050 * 0.8 and float(np.abs(audio).max()) > 0.1


@pytest.mark.slow
def test_int8_wer_guard(renderings, asr):
    """Whisper tiny.en WER of INT8 is at most 2 points worse than fp32 on 12 sentences."""
    from edge_vc.export.sentences import EVALUATION

    from edge_vc.bench.asr import word_error_rate

    fp32, int8 = renderings
    ref = np.mean([word_error_rate(t, asr.transcribe(a, 22050)) for t, a in zip(EVALUATION, fp32, strict=True)])
    hyp = np.mean([word_error_rate(t, asr.transcribe(a, 22050)) for t, a in zip(EVALUATION, int8, strict=True)])
    assert len(EVALUATION) >= 10
    assert hyp - ref <= 0.02, f"INT8 WER {hyp:.3f} vs fp32 {ref:.3f}"
    assert hyp <= 0.10


@pytest.mark.slow
def test_int8_speaker_cosine_guard(renderings):
    """GE2E d-vector of each INT8 rendering is close to the fp32 rendering of the same text."""
    from edge_vc.speaker.encoder import SpeakerEncoder

    encoder = SpeakerEncoder.load()
    fp32, int8 = renderings
    pairs = zip(fp32, int8, strict=True)
    cos = [encoder.similarity(encoder.embed(a, 22050), encoder.embed(b, 22050)) for a, b in pairs]
    assert np.mean(cos) >= 0.95, cos
    assert min(cos) >= 0.90, cos


@pytest.mark.slow
def test_int8_is_faster_on_one_thread(eval_ids):
    """Interleaved, 1 thread, CPU time: INT8 at least 1.3x faster than fp32 (committed report says >= 1.5x)."""
    from edge_vc.export.voice_eval import interleaved_speed, onnx_renderer

    from edge_vc.base_voice.catalog import bundled_voice

    renderers = {"fp32": onnx_renderer(bundled_voice().model_path), "int8": onnx_renderer(JOE_INT8)}
    fp32, int8 = interleaved_speed(renderers, eval_ids[:2], 22050, reps=3)
    assert int8.speedup_vs_reference >= 1.3, (fp32.to_dict(), int8.to_dict())


@pytest.mark.slow
def test_reexport_reproduces_committed_voice(tmp_path, run_cli, eval_ids):
    """The CLI re-export gives the committed file (same onnxruntime) or the same audio within tolerance."""
    import onnxruntime
    from edge_vc.export.voice import sha256_file
    from edge_vc.export.voice_eval import onnx_renderer

    result = run_cli(
        "export", "voice", "--format", "onnx-int8", "--no-quality", "--reps", "1", "--out", str(tmp_path), timeout=900
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    fresh = tmp_path / JOE_INT8.name
    report = json.loads((tmp_path / (JOE_INT8.name + ".report.json")).read_text())
    committed = json.loads(REPORT.read_text())
    assert report["sha256"] == sha256_file(fresh)
    assert abs(report["bytes"] - committed["bytes"]) < 200_000
    if committed["onnxruntime"] == onnxruntime.__version__:
        # metadata differs only in the command line; the graph and weights must be identical
        import onnx

        a, b = onnx.load(str(fresh)), onnx.load(str(JOE_INT8))
        del a.metadata_props[:]
        del b.metadata_props[:]
        assert a.SerializeToString() == b.SerializeToString()
    ref, new = onnx_renderer(JOE_INT8, threads=2), onnx_renderer(fresh, threads=2)
    for ids in eval_ids[:3]:
        assert _snr_db(ref(ids), new(ids)) > 30
