"""``edge-vc export ...``: PyTorch/ONNX models to INT8 ONNX and TFLite (needs the ``export`` extra).

Each sub-command lives in the toolchain package ``edge_vc.export`` and is imported only when it runs
(or when ``edge-vc export --help`` lists them), so other commands never load the toolchain.
Register one with one line in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "converter": ("edge_vc.export.converter", "converter_command"),
    "voice": ("edge_vc.export.voice", "voice_command"),
    "speaker-space": ("edge_vc.export.multispeaker", "speaker_space_command"),
    "speaker-encoder": ("edge_vc.export.speaker_encoder", "speaker_encoder"),
}
"""Command name: (module, click command object in it)."""


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS and cmd_name not in self.commands:
            module, attr = SUBCOMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
def export() -> None:
    """Export models to fp32/INT8 ONNX and TFLite, with parity and speed reports."""
