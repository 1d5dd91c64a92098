"""TFLite version of a Piper VITS voice: three fixed-size parts converted by onnx2tf, run by LiteRT.

Files (in ``--out``): ``NAME.encoder.tflite``, ``NAME.flow.tflite``, ``NAME.decoder.tflite`` (each with
edge-vc metadata inside) and ``NAME.tflite.json`` (the Piper config plus the part sizes). Durations ->
frames and the prior noise run in numpy (``export.voice_parts``). Precision: onnx2tf's dynamic-range
quantization (INT8 weights, float activations) — the float32 parts are measured too.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from export.voice_parts import PartsConfig, PartsVoice, onnx_part, split_voice

PART_NAMES = ("encoder", "flow", "decoder")
PRECISIONS = {"fp32": "float32", "drq": "dynamic_range_quant"}


def interpreter_class():
    """LiteRT's Interpreter (ai-edge-litert), else tflite-runtime's; ImportError when neither works."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter


def tflite_part(path, expected_outputs: list[tuple[int, ...]], threads: int = 1):
    """A runner with the ONNX part's layout: inputs/outputs are transposed from onnx2tf's NHWC as needed."""
    interpreter = interpreter_class()(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    outputs = interpreter.get_output_details()

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        for name, value in feeds.items():
            detail = inputs[name]
            value = np.asarray(value, dtype=detail["dtype"])
            if tuple(value.shape) != tuple(detail["shape"]) and value.ndim == 3:
                value = np.ascontiguousarray(value.transpose(0, 2, 1))
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        results = []
        for detail, shape in zip(outputs, expected_outputs, strict=False):
            out = interpreter.get_tensor(detail["index"])
            if out.shape != shape and out.ndim == 3 and out.shape == (shape[0], shape[2], shape[1]):
                out = out.transpose(0, 2, 1)
            results.append(np.ascontiguousarray(out).reshape(shape))
        return results

    return run


def onnx_output_shapes(path) -> list[tuple[int, ...]]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        dtype = np.int64 if "int64" in i.type else np.float32
        feeds[i.name] = np.ones(i.shape, dtype=dtype) if dtype == np.float32 else np.ones(i.shape, dtype=dtype)
    if "input_lengths" in feeds:
        feeds["input_lengths"][:] = 4
        feeds["scales"][:] = [0.0, 1.0, 0.0]
    return [tuple(o.shape) for o in session.run(None, feeds)]


def convert_part(onnx_path: Path, work: Path) -> dict[str, Path]:
    """onnx2tf conversion of one part; returns {precision: tflite path}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import onnx2tf

    folder = work / onnx_path.stem
    onnx2tf.convert(
        input_onnx_file_path=str(onnx_path),
        output_folder_path=str(folder),
        copy_onnx_input_output_names_to_tflite=True,
        output_dynamic_range_quantized_tflite=True,
        verbosity="error",
    )
    return {p: folder / f"{onnx_path.stem}_{suffix}.tflite" for p, suffix in PRECISIONS.items()}


def export_tflite(source, out_dir: Path, config, base: dict[str, Any], progress=print) -> dict[str, Any]:
    """Split, convert, label and evaluate the TFLite voice; returns its report."""
    from edge_vc.tts.config import VoiceConfig
    from export.speaker_encoder_tflite import add_metadata, op_names
    from export.voice import EXPORT_VERSION, KIND, evaluate_artifact, sha256_file, source_licence, write_report
    from export.voice_eval import onnx_renderer

    parts_cfg = PartsConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    voice_config = VoiceConfig.load(source.config_path)
    report: dict[str, Any] = dict(base, format="tflite", parts=parts_cfg.to_dict(), notes=[])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        progress("splitting the voice into encoder / flow / decoder parts with fixed shapes")
        onnx_parts = split_voice(source.model_path, work / "onnx", parts_cfg)
        shapes = {name: onnx_output_shapes(path) for name, path in onnx_parts.items()}
        converted, ops = {}, {}
        for name in PART_NAMES:
            progress(f"onnx2tf: converting the {name} part (this takes a minute)")
            started = time.perf_counter()
            converted[name] = convert_part(onnx_parts[name], work / "tf")
            progress(f"onnx2tf: {name} done in {time.perf_counter() - started:.0f} s")
        files = {}
        for precision in PRECISIONS:
            for name in PART_NAMES:
                flat = converted[name][precision].read_bytes()
                ops[f"{name}.{precision}"] = op_names(flat)
                meta = {
                    "edge_vc.kind": f"{KIND}-part",
                    "edge_vc.export_version": str(EXPORT_VERSION),
                    "edge_vc.format": f"tflite-{precision}",
                    "part": name,
                    "parts": json.dumps(parts_cfg.to_dict(), sort_keys=True),
                    "source": source.model_path.name,
                    "source_sha256": base["source_sha256"],
                    "licence": source_licence(source.model_path),
                    "sample_rate": str(voice_config.sample_rate),
                    "command": base["command"],
                }
                suffix = "" if precision == "drq" else f".{precision}"
                target = out_dir / f"{source.name}{suffix}.{name}.tflite"
                target.write_bytes(add_metadata(flat, meta))
                files[f"{name}.{precision}"] = target
        sidecar = json.loads(Path(source.config_path).read_text(encoding="utf-8"))
        sidecar["edge_vc_tflite_parts"] = parts_cfg.to_dict()
        sidecar_path = out_dir / f"{source.name}.tflite.json"
        sidecar_path.write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n")
        renderers = {"fp32-onnx": onnx_renderer(source.model_path)}
        parts_onnx = PartsVoice(*(onnx_part(onnx_parts[n]) for n in PART_NAMES), parts_cfg)
        renderers["parts-onnx-fp32"] = parts_onnx.render
        for precision in PRECISIONS:
            runners = [tflite_part(files[f"{n}.{precision}"], shapes[n]) for n in PART_NAMES]
            renderers[f"tflite-{precision}"] = PartsVoice(*runners, parts_cfg).render
        report.update(evaluate_artifact(source, renderers, config, progress))
    report["ops"] = ops
    report["artifact"] = str(files["decoder.drq"])
    report["files"] = {
        k: {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)} for k, p in files.items()
    }
    report["bytes"] = sum(v["bytes"] for k, v in report["files"].items() if k.endswith(".drq"))
    report["sha256"] = report["files"]["decoder.drq"]["sha256"]
    report["json"], report["markdown"] = map(str, write_report(out_dir / f"{source.name}.tflite", report))
    return report
