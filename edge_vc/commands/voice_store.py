"""``edge-vc voices add PATH.onnx`` and removal of installed Piper voices (attached to the ``voices`` group)."""

from __future__ import annotations

import click

from edge_vc.commands.common import user_errors


def describe_voice(info) -> str:
    speakers = f"{info.num_speakers} speakers" if info.num_speakers > 1 else "1 speaker (DSP stage only, no atlas)"
    return f"{info.name}  {speakers}  {info.sample_rate} Hz  {info.size_bytes / 1e6:.1f} MB"


@click.command("add")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Install under this name (default: the file name without .onnx).")
@click.option("--force", is_flag=True, help="Replace an installed voice of the same name.")
@user_errors
def add_voice(model, name, force):
    """Install a local Piper voice (MODEL.onnx with MODEL.onnx.json beside it) into the voice store."""
    from edge_vc.base_voice.store import install_voice

    info = install_voice(model, name=name, force=force)
    click.echo(f"installed {describe_voice(info)}")
    if info.num_speakers > 1:
        click.echo(
            f"multi-speaker voice: enrollment builds a speaker atlas of its {info.num_speakers} speakers "
            "on first use (cached), then picks and blends the nearest ones"
        )


@click.command("rm-base")
@click.argument("name")
@user_errors
def remove_base_voice(name):
    """Remove an installed Piper voice and its cached atlas."""
    from edge_vc.base_voice.store import remove_voice

    removed = remove_voice(name)
    click.echo(f"removed voice {removed.name}")


@click.command("base")
@user_errors
def list_base_voices():
    """List base voices (bundled and installed) with their speaker counts."""
    from edge_vc.base_voice.store import list_voices

    for info in list_voices():
        click.echo(describe_voice(info))
