"""Helpers shared by CLI commands: error reporting and verbose output."""

from __future__ import annotations

import functools
import sys

import click

from edge_vc.errors import EdgeVCError


def user_errors(func):
    """Turn EdgeVCError (and ValueError from configs) into one line on stderr and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except EdgeVCError as exc:
            click.echo(f"edge-vc: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("edge-vc: interrupted", err=True)
            sys.exit(130)

    return wrapper


def echo_verbose(enabled: bool, message: str) -> None:
    """Progress and timing on stderr, only with --verbose."""
    if enabled:
        click.echo(message, err=True)


def backend_option(func):
    """``--backend onnx|litert|auto``: the inference runtime of the whole data path (sets it process-wide)."""

    def apply(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        from edge_vc.backends import select

        try:
            return select.use(value)
        except EdgeVCError as exc:
            raise click.BadParameter(str(exc), ctx=ctx) from exc

    return click.option(
        "--backend",
        type=click.Choice(["auto", "onnx", "litert"]),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=apply,
        help="Inference runtime: onnx (onnxruntime), litert (LiteRT/TFLite) or auto "
        "(default, also EDGE_VC_BACKEND: onnxruntime when installed).",
    )(func)
