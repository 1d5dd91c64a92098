"""``edge-vc bench``: RTF, time to first audio, enrollment time, memory and sizes on this machine."""

from __future__ import annotations

import sys

import click

from edge_vc.commands.common import backend_option, user_errors


@click.command()
@click.option("-v", "--voice", default=None, help="Base voice name or .onnx path (default: bundled voice).")
@click.option("--variant", "variants", multiple=True, metavar="[LABEL=]PATH", help="Extra voice model file to measure.")
@click.option("--encoder", "encoders", multiple=True, metavar="PATH", help="Extra speaker-encoder file to measure.")
@click.option("-t", "--threads", "threads", multiple=True, type=click.IntRange(1, 256), help="Thread count (repeat).")
@click.option("--stage", "stages", multiple=True, help="Voice stage to build and measure (repeat; default: all).")
@click.option("--profile", "profiles", multiple=True, help="Enrolled profile whose voice stage is measured too.")
@click.option("--reference", type=click.Path(dir_okay=False), help="Reference recording for enrollment timing.")
@click.option("--repeats", type=click.IntRange(1, 100), default=5, show_default=True, help="Measured repetitions.")
@click.option("--warmup", type=click.IntRange(0, 20), default=1, show_default=True, help="Unmeasured warm-up rounds.")
@click.option("--compare", "compare", multiple=True, type=click.Choice(["piper-tts"]), help="Reference to compare.")
@click.option("--quick", is_flag=True, help="A short run (1 thread, 2 repetitions, short texts).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write JSON results ('-' for stdout).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False), help="Write a PNG plot of RTF by threads.")
@backend_option
@user_errors
def bench(
    voice, variants, encoders, threads, stages, profiles, reference, repeats, warmup, compare, quick, json_out, plot_out
) -> None:
    """Measure speed, latency, memory and sizes of every backend found on this machine."""
    import json

    from edge_vc.bench.config import BenchConfig
    from edge_vc.bench.report import format_table, plot
    from edge_vc.bench.runner import run_bench
    from edge_vc.errors import EdgeVCError

    config = BenchConfig(
        voice=voice,
        variants=list(variants),
        encoders=list(encoders),
        threads=list(threads),
        stages=list(stages),
        profiles=list(profiles),
        reference=reference,
        repeats=repeats,
        warmup=warmup,
        compare=list(compare),
        quick=quick,
        backend=_chosen_backend(),
    )
    try:
        config.apply_quick().validate()
    except ValueError as exc:
        raise EdgeVCError(str(exc)) from exc
    command = "edge-vc bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else "edge-vc bench"
    results = run_bench(config, progress=lambda msg: click.echo(msg, err=True), command=command)
    if plot_out:
        results["plot"] = str(plot(results, plot_out))
    if json_out == "-":
        click.echo(json.dumps(results, indent=1))
        return
    if json_out:
        from edge_vc.fileio import atomic_write_text

        atomic_write_text(json_out, json.dumps(results, indent=1) + "\n")
    click.echo(format_table(results))


def _chosen_backend() -> str | None:
    """The runtime ``--backend`` (or ``EDGE_VC_BACKEND``) asked for; None (measure every runtime) when neither did."""
    import os

    from edge_vc.backends import select

    given = click.get_current_context().get_parameter_source("backend")
    explicit = given is not None and given != click.core.ParameterSource.DEFAULT
    return select.current() if explicit or os.environ.get(select.ENV_VAR) else None
