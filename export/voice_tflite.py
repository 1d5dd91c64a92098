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
from edge_vc.export.voice_parts import PartsConfig, PartsVoice, onnx_part, split_voice

from edge_vc.base_voice.litert_voice import PART_NAMES, tflite_runner

PRECISIONS = {"fp32": "float32", "drq": "dynamic_range_quant"}


def tflite_part(path, expected_outputs, threads: int = 1, order: list[int] | None = None):
    """A runner with the ONNX part's layout (``edge_vc.base_voice.litert_voice.tflite_runner``)."""
    return tflite_runner(path, expected_outputs, order, threads)


def probe_feeds(path) -> dict[str, np.ndarray]:
    """Fixed random inputs for a part: ids, lengths and scales that make sense for the encoder."""
    import onnx

    rng = np.random.default_rng(7)
    feeds = {}
    for value in onnx.load(str(path), load_external_data=False).graph.input:
        shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            feeds[value.name] = rng.integers(1, 60, size=shape).astype(np.int64)
        else:
            feeds[value.name] = rng.standard_normal(shape).astype(np.float32)
    if "input_lengths" in feeds:
        length = feeds["input"].shape[1] * 3 // 4
        feeds["input"][:, length:] = 0
        feeds["input_lengths"][:] = length
        feeds["scales"][:] = [0.667, 1.0, 0.8]
    if "y_mask" in feeds:
        feeds["y_mask"][:] = 1.0
    return feeds


def output_order(onnx_path: Path, tflite_path: Path) -> tuple[list[int], float]:
    """Which TFLite output holds each ONNX output (nearest values on a probe), and the largest error."""
    feeds = probe_feeds(onnx_path)
    reference = onnx_part(onnx_path)(feeds)
    raw = tflite_runner(tflite_path, None, threads=1)(feeds)
    order, worst = [], 0.0
    for ref in reference:
        errors = []
        for j, out in enumerate(raw):
            if j in order or out.size != ref.size:
                errors.append(np.inf)
                continue
            if out.shape != ref.shape and out.ndim == 3 and ref.ndim == 3:
                out = out.transpose(0, 2, 1)
            errors.append(float(np.max(np.abs(out.reshape(-1) - ref.reshape(-1)))))
        order.append(int(np.argmin(errors)))
        worst = max(worst, errors[order[-1]])
    return order, worst


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


def convert_part(onnx_path: Path, work: Path, timeout: float = 1800) -> dict[str, Path]:
    """onnx2tf conversion of one part (in a subprocess: onnx2tf may exit or hang on failure).

    Returns {precision: tflite path}; RuntimeError naming the failing ONNX node otherwise.
    """
    import subprocess
    import sys

    folder = work / onnx_path.stem
    command = [sys.executable, "-m", "onnx2tf", "-i", str(onnx_path), "-o", str(folder), "-odrqt", "-coion"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        done = subprocess.run(command + ["-v", "error"], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"onnx2tf did not finish within {timeout:.0f} s") from exc
    paths = {p: folder / f"{onnx_path.stem}_{suffix}.tflite" for p, suffix in PRECISIONS.items()}
    if done.returncode != 0 or not all(p.is_file() for p in paths.values()):
        lines = (done.stdout + done.stderr).splitlines()
        ops = [ln.split("onnx_op_name:", 1)[1].strip() for ln in lines if "onnx_op_name:" in ln]
        errors = [ln.strip() for ln in lines if "Error" in ln or "must be equal" in ln]
        where = f"ONNX node {ops[0]}: " if ops else ""
        raise RuntimeError(where + (errors[-1] if errors else f"onnx2tf exit {done.returncode}"))
    return paths


def _part_meta(name: str, fmt: str, parts_cfg: PartsConfig, source, base: dict, sample_rate: int) -> dict[str, str]:
    from edge_vc.export.voice_common import EXPORT_VERSION, KIND, source_licence

    return {
        "edge_vc.kind": f"{KIND}-part",
        "edge_vc.export_version": str(EXPORT_VERSION),
        "edge_vc.format": fmt,
        "part": name,
        "parts": json.dumps(parts_cfg.to_dict(), sort_keys=True),
        "source": source.model_path.name,
        "source_sha256": base["source_sha256"],
        "licence": source_licence(source.model_path),
        "sample_rate": str(sample_rate),
        "command": base["command"],
    }


def onnx_encoder_fallback(onnx_path: Path, target: Path, meta: dict[str, str]) -> Path:
    """The encoder part as ONNX with weight-only INT8 (used when onnx2tf cannot convert it)."""
    import onnx
    from edge_vc.export.quantize import weight_only_int8

    model = onnx.load(str(onnx_path))
    weight_only_int8(model, ["Conv", "MatMul"])
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    return target


def export_tflite(source, out_dir: Path, config, base: dict[str, Any], progress=print) -> dict[str, Any]:
    """Split, convert, label and evaluate the TFLite voice; returns its report.

    A part onnx2tf cannot convert is reported with the error; for the encoder (text encoder + stochastic
    duration predictor, ~10 % of the time) the voice then uses an ONNX encoder part (weight-only INT8).
    """
    from edge_vc.export.speaker_encoder_tflite import add_metadata, op_names
    from edge_vc.export.voice_common import evaluate_artifact, sha256_file, write_report
    from edge_vc.export.voice_eval import onnx_renderer

    from edge_vc.base_voice.config import VoiceConfig

    parts_cfg = PartsConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    rate = VoiceConfig.load(source.config_path).sample_rate
    report: dict[str, Any] = dict(base, format="tflite", parts=parts_cfg.to_dict(), notes=[])
    files: dict[str, Path] = {}
    ops: dict[str, list[str]] = {}
    orders: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        progress("splitting the voice into encoder / flow / decoder parts with fixed shapes")
        onnx_parts = split_voice(source.model_path, work / "onnx", parts_cfg)
        shapes = {name: onnx_output_shapes(path) for name, path in onnx_parts.items()}
        for name in PART_NAMES:
            progress(f"onnx2tf: converting the {name} part (a few minutes on a small machine)")
            started = time.perf_counter()
            try:
                converted = convert_part(onnx_parts[name], work / "tf")
            except Exception as exc:  # onnx2tf raises many types; the message names the ONNX node
                if name != "encoder":
                    raise
                reason = _first_error_line(exc)
                report["notes"].append(f"onnx2tf could not convert the encoder part: {reason}")
                progress(f"onnx2tf: encoder failed ({reason}); using an ONNX encoder part (weight-only INT8)")
                meta = _part_meta(name, "onnx-int8-weights", parts_cfg, source, base, rate)
                target = out_dir / f"{source.name}.{name}.onnx"
                files[f"{name}.fallback"] = onnx_encoder_fallback(onnx_parts[name], target, meta)
                continue
            progress(f"onnx2tf: {name} done in {time.perf_counter() - started:.0f} s")
            for precision in PRECISIONS:
                flat = converted[precision].read_bytes()
                ops[f"{name}.{precision}"] = op_names(flat)
                meta = _part_meta(name, f"tflite-{precision}", parts_cfg, source, base, rate)
                suffix = "" if precision == "drq" else f".{precision}"
                target = out_dir / f"{source.name}{suffix}.{name}.tflite"
                target.write_bytes(add_metadata(flat, meta))
                files[f"{name}.{precision}"] = target
            orders[name], error = output_order(onnx_parts[name], files[f"{name}.fp32"])
            report.setdefault("fp32_part_max_abs_error", {})[name] = error
            progress(f"{name}: TFLite fp32 outputs {orders[name]} match ONNX's (max abs error {error:.2e})")
        sidecar = json.loads(Path(source.config_path).read_text(encoding="utf-8"))
        sidecar["edge_vc_tflite_parts"] = parts_cfg.to_dict()
        sidecar["edge_vc_tflite_output_shapes"] = {n: [list(x) for x in shapes[n]] for n in PART_NAMES}
        sidecar["edge_vc_tflite_output_order"] = orders
        sidecar["edge_vc_tflite_files"] = {k: p.name for k, p in files.items() if not k.endswith(".fp32")}
        (out_dir / f"{source.name}.tflite.json").write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n")
        renderers = {"fp32-onnx": onnx_renderer(source.model_path)}
        gaps = {int(i) for i in sidecar.get("phoneme_id_map", {}).get(" ", [])}
        onnx_runners = [onnx_part(onnx_parts[n]) for n in PART_NAMES]
        renderers["parts-onnx-fp32"] = PartsVoice(*onnx_runners, parts_cfg, gaps=gaps).render
        for precision in PRECISIONS:
            runners = [part_runner(files, n, precision, shapes[n], order=orders.get(n)) for n in PART_NAMES]
            renderers[f"tflite-{precision}"] = PartsVoice(*runners, parts_cfg, gaps=gaps).render
        report.update(evaluate_artifact(source, renderers, config, progress))
    report["ops"] = ops
    report["artifact"] = str(files["decoder.drq"])
    report["files"] = {
        k: {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)} for k, p in files.items()
    }
    report["bytes"] = sum(v["bytes"] for k, v in report["files"].items() if not k.endswith(".fp32"))
    report["sha256"] = report["files"]["decoder.drq"]["sha256"]
    report["json"], report["markdown"] = map(str, write_report(out_dir / f"{source.name}.tflite", report))
    return report


def part_runner(files: dict[str, Path], name: str, precision: str, shapes, threads: int = 1, order=None):
    """TFLite runner of a part, or the ONNX fallback part when that part has no TFLite file."""
    if f"{name}.{precision}" in files:
        return tflite_part(files[f"{name}.{precision}"], shapes, threads, order)
    return onnx_part(files[f"{name}.fallback"], threads)


def _first_error_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else text or type(exc).__name__


def load_parts_voice(sidecar: str | Path, source_model: str | Path | None = None, threads: int = 1) -> PartsVoice:
    """A PartsVoice from ``NAME.tflite.json``: TFLite parts beside it; an encoder without a TFLite (or ONNX)
    file beside it is cut from ``source_model`` (the fp32 Piper voice) with onnx.utils.Extractor."""
    sidecar = Path(sidecar)
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    cfg = PartsConfig.from_dict(data["edge_vc_tflite_parts"])
    shapes = {n: [tuple(s) for s in v] for n, v in data["edge_vc_tflite_output_shapes"].items()}
    orders = data.get("edge_vc_tflite_output_order", {})
    stem = sidecar.name[: -len(".tflite.json")]
    runners = []
    for name in PART_NAMES:
        tfl, onnx_file = sidecar.with_name(f"{stem}.{name}.tflite"), sidecar.with_name(f"{stem}.{name}.onnx")
        if tfl.is_file():
            runners.append(tflite_part(tfl, shapes[name], threads, orders.get(name)))
        elif onnx_file.is_file():
            runners.append(onnx_part(onnx_file, threads))
        elif source_model is not None:
            work = Path(tempfile.mkdtemp(prefix="edge-vc-parts-"))
            runners.append(onnx_part(split_voice(source_model, work, cfg)[name], threads))
        else:
            raise FileNotFoundError(f"no {name} part beside {sidecar} and no source voice given")
    return PartsVoice(*runners, cfg, gaps={int(i) for i in data.get("phoneme_id_map", {}).get(" ", [])})
