"""Export an OpenVoice-layout tone-colour converter checkpoint to ONNX (fp32 / INT8) or TFLite.

Writes two models with metadata inside:
* ``OUT.onnx``: ``spec`` [1, bins, frames], ``g_src`` [1, gin, 1], ``g_tgt`` [1, gin, 1] -> ``audio``
  [1, 1, frames * hop] (deterministic: the posterior mean, tau = 0);
* ``OUT.ref.onnx``: ``spec`` [1, bins, frames] -> ``g`` [1, gin, 1] (the reference encoder).
The spectrogram is computed outside the graph (edge_vc.features.mel, same STFT as OpenVoice).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

KIND = "edge-vc/tone-color-converter"
REF_KIND = "edge-vc/tone-color-reference"
FORMATS = ("onnx", "onnx-int8", "tflite")


@dataclass
class ConverterExport:
    model_path: Path
    ref_path: Path
    metadata: dict[str, str]


def load_checkpoint(checkpoint: str | Path, config_path: str | Path):
    """(ToneColorConverter, ConverterConfig) from an OpenVoice ``checkpoint.pth`` + ``config.json``."""
    import torch
    from edge_vc.models.converter import ConverterConfig, ToneColorConverter, load_openvoice_state_dict

    config = ConverterConfig.from_dict(json.loads(Path(config_path).read_text("utf-8")))
    data = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{checkpoint} holds no state dict (expected a dict with a 'model' entry)")
    model = ToneColorConverter(config)
    report = load_openvoice_state_dict(model, state)
    return model.eval(), config, report


def _metadata(config, checkpoint: Path | None, kind: str, int8: bool) -> dict[str, str]:
    meta = {
        "edge_vc_kind": kind,
        "sample_rate": str(config.sampling_rate),
        "filter_length": str(config.filter_length),
        "hop_length": str(config.hop_length),
        "win_length": str(config.win_length),
        "gin_channels": str(config.gin_channels),
        "zero_g": str(bool(config.zero_g)).lower(),
        "int8": str(int8).lower(),
        "config": json.dumps(config.to_dict()),
    }
    if checkpoint is not None:
        meta["checkpoint_sha256"] = hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()
    return meta


def _save_with_metadata(src: Path, dst: Path, meta: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(src))
    del model.metadata_props[:]
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(dst))


def export_converter_model(
    model, config, out_path: str | Path, fmt: str = "onnx", checkpoint: str | Path | None = None
) -> ConverterExport:
    """Export a loaded converter (see ``load_checkpoint``) to ``out_path`` in ``fmt``."""
    import torch

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_out = out_path.with_suffix(".onnx")
    ref_out = onnx_out.with_name(onnx_out.stem + ".ref.onnx")
    model = model.eval()
    bins, gin = config.spec_channels, config.gin_channels
    spec = torch.rand(1, bins, 64)
    g = torch.randn(1, gin, 1)
    with tempfile.TemporaryDirectory() as tmp:
        conv_tmp, ref_tmp = Path(tmp) / "conv.onnx", Path(tmp) / "ref.onnx"
        conv_module, ref_module = _wrappers(model)
        with torch.no_grad():
            torch.onnx.export(
                conv_module,
                (spec, g, g),
                str(conv_tmp),
                dynamo=False,
                opset_version=17,
                input_names=["spec", "g_src", "g_tgt"],
                output_names=["audio"],
                dynamic_axes={"spec": {2: "frames"}, "audio": {2: "samples"}},
            )
            torch.onnx.export(
                ref_module,
                (spec,),
                str(ref_tmp),
                dynamo=False,
                opset_version=17,
                input_names=["spec"],
                output_names=["g"],
                dynamic_axes={"spec": {2: "frames"}},
            )
        int8 = fmt == "onnx-int8"
        if int8:
            conv_tmp = _quantize(conv_tmp, config, Path(tmp))
        _save_with_metadata(conv_tmp, onnx_out, _metadata(config, checkpoint, KIND, int8))
        _save_with_metadata(ref_tmp, ref_out, _metadata(config, checkpoint, REF_KIND, False))
    meta = _metadata(config, checkpoint, KIND, fmt == "onnx-int8")
    if fmt == "tflite":
        return _to_tflite(onnx_out, ref_out, meta)
    return ConverterExport(onnx_out, ref_out, meta)


def _wrappers(model):
    """Torch modules with the exported signatures (built lazily: the CLI must not import torch early)."""
    import torch

    class Convert(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, spec, g_src, g_tgt):
            lengths = torch.full((spec.size(0),), spec.size(2), dtype=torch.long)
            return self.model.voice_conversion(spec, lengths, g_src, g_tgt, tau=0.0)

    class Reference(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, spec):
            return self.model.extract_se(spec)

    return Convert(), Reference()


def calibration_feeds(config, n: int = 4) -> list[dict[str, np.ndarray]]:
    """Spectrograms of real speech (the bundled base voice) for static INT8 calibration."""
    from edge_vc.export.sentences import CALIBRATION  # shared sentence list of the export package

    from edge_vc.audio.io import resample
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.features.mel import stft_magnitude

    voice = BaseVoice.load(threads=2)
    mel_config = spectrogram_config(config)
    feeds = []
    rng = np.random.default_rng(0)
    for text in list(CALIBRATION)[:n]:
        audio = np.concatenate([c.audio for c in voice.synthesize(text)])
        audio = resample(audio, voice.sample_rate, config.sampling_rate)
        spec = stft_magnitude(audio, mel_config).T[None].astype(np.float32)
        g = rng.standard_normal((1, config.gin_channels, 1)).astype(np.float32) * 0.1
        feeds.append({"spec": spec, "g_src": g, "g_tgt": g})
    return feeds


def spectrogram_config(config):
    """The linear-spectrogram settings (edge_vc.features.mel) matching ``models.converter.linear_spectrogram``."""
    from edge_vc.features.mel import MelConfig

    return MelConfig(
        sample_rate=config.sampling_rate,
        n_fft=config.filter_length,
        win_length=config.win_length,
        hop_length=config.hop_length,
        power=1.0,
        mag_eps=1e-6,
        center=False,
        pad_mode="reflect",
        pad=(config.filter_length - config.hop_length) // 2,
    )


def _quantize(path: Path, config, workdir: Path) -> Path:
    """Static QDQ INT8 of the decoder + weight-only INT8 elsewhere, via the shared voice quantizer."""
    import onnx
    from edge_vc.export.quantize import QuantRecipe, quantize_model

    recipe = QuantRecipe(name="converter-dec-qdq+wo", static_prefixes=["/dec/"])
    model = quantize_model(onnx.load(str(path)), recipe, calibration_feeds(config), workdir)
    out = workdir / "int8.onnx"
    onnx.save(model, str(out))
    return out


def _to_tflite(onnx_path: Path, ref_path: Path, meta: dict[str, str]) -> ConverterExport:
    try:
        import onnx2tf  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            "--format tflite needs onnx2tf and tensorflow (pip install onnx2tf tensorflow); "
            f"the ONNX models were written to {onnx_path} and {ref_path}"
        ) from exc
    raise click.ClickException("TFLite conversion of the converter is not implemented yet; use onnx or onnx-int8")


@click.command("converter")
@click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False), help="OpenVoice .pth")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="onnx-int8", show_default=True)
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Output .onnx path")
def converter_command(checkpoint, config_path, fmt, out):
    """Export an OpenVoice-layout tone-colour converter for the 'converter' voice stage."""
    try:
        model, config, report = load_checkpoint(checkpoint, config_path)
    except (KeyError, ValueError, OSError) as exc:
        raise click.ClickException(f"cannot load the converter checkpoint: {exc}") from exc
    if report["unexpected"]:
        click.echo(f"ignored {len(report['unexpected'])} unexpected keys, e.g. {report['unexpected'][:3]}", err=True)
    result = export_converter_model(model, config, out, fmt, checkpoint=checkpoint)
    click.echo(f"wrote {result.model_path} and {result.ref_path} ({fmt})")
