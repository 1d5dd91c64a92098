"""``edge-vc export voice``: a Piper VITS voice to a faster INT8 ONNX voice (and TFLite parts), with reports.

    edge-vc export voice                      # the bundled en_US-joe-medium voice
    edge-vc export voice path/to/voice.onnx --format all --out out/voices

Every artifact gets ``NAME.<format>.report.json`` + ``.md``: size, sha256, speed against fp32 measured in
the same run (one thread, interleaved), whisper WER and GE2E cosine against fp32 renderings.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from edge_vc.export.voice_common import (
    EXPORT_VERSION,
    FORMATS,
    KIND,
    VoiceExportConfig,
    evaluate_artifact,
    phoneme_feeds,
    sha256_file,
    source_licence,
    write_report,
)

__all__ = [
    "EXPORT_VERSION", "FORMATS", "KIND", "VoiceExportConfig", "evaluate_artifact", "export_onnx_int8", "phoneme_feeds",
    "read_voice_metadata", "run_export", "sha256_file", "source_licence", "voice_command", "write_report",
]  # fmt: skip


def export_onnx_int8(files, out_dir: Path, recipe, command: str, progress=print) -> Path:
    """Quantize ``files`` (VoiceFiles) with ``recipe``; writes NAME.int8.onnx + .onnx.json; returns the model path."""
    import onnx
    from edge_vc.export.quantize import quantize_model
    from edge_vc.export.sentences import CALIBRATION

    from edge_vc.base_voice.config import VoiceConfig

    config = VoiceConfig.load(files.config_path)
    if config.num_speakers > 1:
        raise click.UsageError("multi-speaker voices are not supported by the INT8 export yet")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{files.name}.int8.onnx"
    progress(
        f"quantizing {files.model_path.name} with recipe '{recipe.name}' (calibration: {len(CALIBRATION)} sentences)"
    )
    model = onnx.load(str(files.model_path))
    with tempfile.TemporaryDirectory() as tmp:
        model = quantize_model(model, recipe, phoneme_feeds(config, CALIBRATION), tmp)
    meta = {
        "edge_vc.kind": KIND,
        "edge_vc.export_version": str(EXPORT_VERSION),
        "edge_vc.format": "onnx-int8",
        "source": files.model_path.name,
        "source_sha256": sha256_file(files.model_path),
        "recipe": json.dumps(recipe.to_dict(), sort_keys=True),
        "licence": source_licence(files.model_path),
        "sample_rate": str(config.sample_rate),
        "command": command,
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))
    sidecar = json.loads(Path(files.config_path).read_text(encoding="utf-8"))
    sidecar["edge_vc_export"] = {k: meta[k] for k in ("edge_vc.format", "source", "source_sha256", "licence")}
    target.with_name(target.name + ".json").write_text(json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n")
    progress(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return target


def read_voice_metadata(path: str | Path) -> dict[str, str]:
    """The edge-vc metadata inside an exported voice; ModelLoadError if it is not one."""
    from edge_vc.backends.onnx import create_session, read_metadata
    from edge_vc.errors import ModelLoadError

    meta = read_metadata(create_session(path, threads=1))
    if meta.get("edge_vc.kind") != KIND:
        raise ModelLoadError(f"{path} carries no edge-vc voice metadata (edge_vc.kind={meta.get('edge_vc.kind')!r})")
    return meta


def run_export(config: VoiceExportConfig, command: str, progress=print) -> list[dict[str, Any]]:
    """Export every requested format; returns one report per artifact."""
    import platform

    import onnxruntime
    from edge_vc.export.quantize import QuantRecipe
    from edge_vc.export.voice_eval import onnx_renderer

    from edge_vc.base_voice.catalog import resolve_voice

    config.validate()
    source = resolve_voice(config.voice)
    out_dir = Path(config.out_dir)
    reports = []
    base = {
        "command": command,
        "source": str(source.model_path),
        "source_sha256": sha256_file(source.model_path),
        "source_bytes": source.model_path.stat().st_size,
        "export_version": EXPORT_VERSION,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "onnxruntime": onnxruntime.__version__,
    }
    if "onnx-int8" in config.formats:
        recipe = QuantRecipe.from_dict(config.recipe) if config.recipe else QuantRecipe()
        started = time.perf_counter()
        target = export_onnx_int8(source, out_dir, recipe, command, progress)
        report = dict(base, format="onnx-int8", artifact=str(target), bytes=target.stat().st_size)
        report.update(
            sha256=sha256_file(target), recipe=recipe.to_dict(), export_s=round(time.perf_counter() - started, 1)
        )
        report.update(
            evaluate_artifact(
                source, {"fp32": onnx_renderer(source.model_path), "int8": onnx_renderer(target)}, config, progress
            )
        )
        report["json"], report["markdown"] = map(str, write_report(target, report))
        reports.append(report)
    if "tflite" in config.formats:
        from edge_vc.export.voice_tflite import export_tflite

        reports.append(export_tflite(source, out_dir, config, base, progress))
    return reports


@click.command("voice")
@click.argument("voice", required=False)
@click.option("--format", "fmt", type=click.Choice([*FORMATS, "all"]), default="onnx-int8", show_default=True)
@click.option(
    "--out", "out_dir", default="out/voices", show_default=True, help="Folder for the voice files and reports."
)
@click.option("--reps", type=click.IntRange(1, 50), default=5, show_default=True, help="Interleaved speed repetitions.")
@click.option("--no-quality", is_flag=True, help="Skip the WER / speaker-cosine guard (faster).")
@click.option(
    "--recipe", "recipe_json", default=None, help="JSON overriding QuantRecipe fields (see export/quantize.py)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON on stdout.")
def voice_command(voice, fmt, out_dir, reps, no_quality, recipe_json, as_json):
    """Export a Piper VOICE (name or .onnx path; default: bundled joe) to INT8 ONNX / TFLite with reports."""
    from edge_vc.commands.common import user_errors

    @user_errors
    def run() -> None:
        command = "edge-vc " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        config = VoiceExportConfig(
            voice=voice,
            formats=list(FORMATS) if fmt == "all" else [fmt],
            out_dir=out_dir,
            recipe=json.loads(recipe_json) if recipe_json else {},
            speed_reps=reps,
            check_quality=not no_quality,
        )
        progress = (lambda m: click.echo(m, err=True)) if as_json else click.echo
        reports = run_export(config, command, progress)
        if as_json:
            click.echo(json.dumps(reports, indent=2))
        failed = {r["artifact"]: f for r in reports for f in r.get("guard_failures", {}).values() if f}
        for artifact, problems in failed.items():
            click.echo(f"edge-vc: quality guard failed for {artifact}: {'; '.join(problems)}", err=True)
        if failed:
            sys.exit(10)

    run()
