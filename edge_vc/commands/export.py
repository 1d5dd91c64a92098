"""``edge-vc export ...``: PyTorch/ONNX models to INT8 ONNX and TFLite (needs the ``export`` extra).

Each sub-command lives in the ``export`` package; register it with one line at the bottom.
"""

from __future__ import annotations

import click


@click.group()
def export() -> None:
    """Export models to fp32/INT8 ONNX and TFLite, with parity and speed reports."""


# Sub-commands register below, one line each, e.g.:
# export.add_command(click_command_object)
from export.converter import converter_command  # noqa: E402

export.add_command(converter_command)
from export.voice import voice_command  # noqa: E402

export.add_command(voice_command)
from export.multispeaker import speaker_space_command  # noqa: E402

export.add_command(speaker_space_command)
from export.speaker_encoder import speaker_encoder as speaker_encoder_command  # noqa: E402

export.add_command(speaker_encoder_command)
