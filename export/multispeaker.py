"""``edge-vc export speaker-space``: a multi-speaker Piper voice with its speaker vector ``g`` as an input.

The graph surgery itself is runtime code (``edge_vc.base_voice.g_input``, needs only ``onnx``); this
toolchain module adds the optional INT8 quantization with the project's voice quantizer and the command.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_vc.base_voice.g_input import (
    G_INPUT,
    KIND,
    SpeakerSpaceModel,
    SurgeryError,
    find_speaker_gather,
    make_g_input_model,
    set_metadata,
)
from edge_vc.base_voice.g_input import export_g_input_voice as _export_fp32

__all__ = [
    "G_INPUT", "KIND", "SpeakerSpaceModel", "SurgeryError", "export_g_input_voice", "find_speaker_gather",
    "make_g_input_model", "speaker_space_command",
]  # fmt: skip


def export_g_input_voice(
    source: str | Path,
    out_path: str | Path,
    num_speakers: int | None = None,
    int8: bool = False,
) -> SpeakerSpaceModel:
    """Write the ``g``-input variant of the Piper voice ``source`` (and its speaker table) to ``out_path``.

    ``int8`` quantizes it with the project's voice quantizer (static QDQ decoder, weight-only elsewhere).
    """
    return _export_fp32(source, out_path, num_speakers, finish=_quantize_in_place if int8 else None)


def _quantize_in_place(path: Path, config_path: Path, table: np.ndarray) -> None:
    """INT8 with the shared voice quantizer (export/quantize.py), calibrated on real sentences spoken by
    several table speakers; the metadata is kept."""
    import tempfile

    import onnx
    from edge_vc.export.quantize import QuantRecipe, quantize_model
    from edge_vc.export.sentences import CALIBRATION
    from edge_vc.export.voice_common import phoneme_feeds

    from edge_vc.base_voice.config import VoiceConfig

    feeds = phoneme_feeds(VoiceConfig.load(config_path), CALIBRATION[:8])
    picks = np.linspace(0, table.shape[0] - 1, num=min(4, table.shape[0])).astype(int)
    for i, feed in enumerate(feeds):
        feed.pop("sid", None)
        feed["g"] = table[picks[i % len(picks)]][None].astype(np.float32)
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        model = quantize_model(model, QuantRecipe(), feeds, tmp)
    meta["int8"] = "true"
    set_metadata(model, meta)
    onnx.save(model, str(path))


def _click_command():
    import click

    @click.command("speaker-space")
    @click.argument("voice")
    @click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="Output .onnx path.")
    @click.option("--int8", is_flag=True, help="Quantize like other voices (static QDQ decoder + weight-only).")
    def speaker_space_command(voice, out, int8):
        """Write VOICE's g-input variant (speaker vector as input) and its speaker table (.speakers.npy)."""
        from edge_vc.base_voice.catalog import resolve_voice

        files = resolve_voice(voice)
        try:
            result = export_g_input_voice(files.model_path, out, int8=int8)
        except SurgeryError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            f"wrote {result.model_path} ({result.num_speakers} speakers, g of {result.gin_channels}) "
            f"and {result.table_path}"
        )

    return speaker_space_command


speaker_space_command = _click_command()
