"""Compare INT8 recipes for a Piper voice in ONE interleaved run (size, 1-thread speed, WER, cosine).

    python -m edge_vc.export.voice_variants --out out/vits-variants --reps 5

Writes ``variants.json`` and ``variants.md`` in ``--out``. This is the evidence behind the default recipe
in ``export.quantize.QuantRecipe``; ``edge-vc export voice`` itself builds only the chosen one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

VARIANTS: dict[str, dict | str] = {
    "dynamic-naive": "dynamic",
    "dec-conv-static": {
        "name": "dec-conv-static",
        "rewrite_conv_transpose": False,
        "static_prefixes": ["/dec/"],
        "static_ops": ["Conv"],
        "exclude_nodes": [],
        "moving_average": False,
        "weight_only_ops": [],
    },
    "dec-all-static-no-rewrite": {
        "name": "dec-all-static-no-rewrite",
        "rewrite_conv_transpose": False,
        "static_prefixes": ["/dec/"],
        "static_ops": ["Conv", "ConvTranspose", "LeakyRelu", "Add"],
        "exclude_nodes": [],
        "moving_average": False,
        "weight_only_ops": [],
    },
    "dec-all-static+wo": {
        "name": "dec-all-static+wo",
        "static_prefixes": ["/dec/"],
        "static_ops": ["Conv", "LeakyRelu", "Add", "Reshape", "Transpose", "Slice"],
        "exclude_nodes": [],
        "moving_average": False,
    },
    "dec-all-static-ma+wo": {
        "name": "dec-all-static-ma+wo",
        "static_prefixes": ["/dec/"],
        "static_ops": ["Conv", "LeakyRelu", "Add", "Reshape", "Transpose", "Slice"],
    },
    "dec-qdq-minmax+wo": {"name": "dec-qdq-minmax+wo", "moving_average": False},
    "default (dec-qdq-ma+wo)": {},
    "all-static+wo": {
        "name": "all-static+wo",
        "static_prefixes": ["/dec/", "/flow/", "/enc_p/", "/dp/"],
        "static_ops": ["Conv", "LeakyRelu", "Add", "Reshape", "Transpose", "Slice"],
        "exclude_nodes": [],
        "moving_average": False,
    },
}
"""Labels -> QuantRecipe overrides ({} is the default recipe; "dynamic" is onnxruntime's quantize_dynamic)."""


def build_variant(source, spec, out_dir: Path, config) -> Path:
    """One variant file from the fp32 source."""
    import onnx
    from edge_vc.export.quantize import QuantRecipe, quantize_model
    from edge_vc.export.sentences import CALIBRATION
    from edge_vc.export.voice_common import phoneme_feeds
    from onnxruntime.quantization import QuantType, quantize_dynamic

    name = spec if isinstance(spec, str) else (spec.get("name") or "default")
    target = out_dir / f"{name}.onnx"
    if spec == "dynamic":
        quantize_dynamic(str(source.model_path), str(target), weight_type=QuantType.QUInt8)
        return target
    recipe = QuantRecipe.from_dict(spec) if spec else QuantRecipe()
    with tempfile.TemporaryDirectory() as tmp:
        model = quantize_model(onnx.load(str(source.model_path)), recipe, phoneme_feeds(config, CALIBRATION), tmp)
    onnx.save(model, str(target))
    return target


@click.command()
@click.option("--voice", default=None, help="Voice name or .onnx path (default: bundled joe).")
@click.option("--out", "out_dir", default="out/vits-variants", show_default=True)
@click.option("--reps", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--only", multiple=True, help="Variant names to include (default: all).")
@click.option("--no-quality", is_flag=True)
def main(voice, out_dir, reps, only, no_quality):
    """Build every variant, then time and score them against fp32 in one interleaved run."""
    from edge_vc.export.voice_common import VoiceExportConfig, evaluate_artifact
    from edge_vc.export.voice_eval import onnx_renderer

    from edge_vc.base_voice.catalog import resolve_voice
    from edge_vc.base_voice.config import VoiceConfig

    source = resolve_voice(voice)
    config = VoiceConfig.load(source.config_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"fp32": source.model_path}
    for label, spec in VARIANTS.items():
        if only and label not in only:
            continue
        click.echo(f"building {label}")
        paths[label] = build_variant(source, spec, out, config)
    renderers = {label: onnx_renderer(p) for label, p in paths.items()}
    report = evaluate_artifact(
        source, renderers, VoiceExportConfig(speed_reps=reps, check_quality=not no_quality), click.echo
    )
    report["bytes"] = {label: Path(p).stat().st_size for label, p in paths.items()}
    (out / "variants.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "| variant | size MB | RTF fp32 (CPU, 1 thread) | RTF variant | speed-up | WER | fp32 WER | cosine mean/min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ref = report["speed"][0]
    for s in report["speed"][1:]:
        q = report["quality"].get(s["name"], {})
        cos = "n/m" if q.get("cosine_mean") is None else f"{q['cosine_mean']:.3f} / {q['cosine_min']:.3f}"
        lines.append(
            f"| {s['name']} | {report['bytes'][s['name']] / 1e6:.1f} | {ref['rtf_cpu']:.4f} | {s['rtf_cpu']:.4f} "
            f"| {s['speedup_vs_reference']:.2f}x | {q.get('wer', 'n/m')} | {q.get('reference_wer', 'n/m')} | {cos} |"
        )
    (out / "variants.md").write_text("\n".join(lines) + "\n")
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
