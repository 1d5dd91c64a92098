"""Helpers shared by CLI commands: error reporting and verbose output."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import EdgeVCError


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
