"""``edge-vc enroll NAME``: record or import speech, coach it, and save a voice profile."""

from __future__ import annotations

import click

from edge_vc.commands.common import backend_option, user_errors


@click.command()
@click.argument("name")
@click.option("--mic", is_flag=True, help="Record from the microphone (challenge phrase, then a script to read).")
@click.option("--seconds", type=float, default=30.0, show_default=True, help="Seconds to record with --mic.")
@click.option("--device", "-d", default=None, help="Input device (index or name); see 'edge-vc devices'.")
@click.option("--wav", "wavs", multiple=True, type=click.Path(dir_okay=False), help="Recording(s) to import.")
@click.option("--strict", is_flag=True, help="Refuse on any coach warning, not only on refusals.")
@click.option("--report", default=None, type=click.Path(dir_okay=False), help="Draw a PNG report (needs matplotlib).")
@click.option("--no-consent", is_flag=True, help="Import --wav files without the spoken consent check (recorded).")
@click.option("--force", is_flag=True, help="Replace an existing profile of the same name.")
@click.option(
    "--base", "--base-voice", "base_voice", default=None,
    help="Base voice (installed Piper voice or .onnx); default: try every base voice, keep the best measured match.",
)  # fmt: skip
@click.option(
    "--stage", type=click.Choice(["auto", "dsp", "none", "converter"]), default="auto", show_default=True,
    help="Voice stage to estimate ('none' keeps the base voice unchanged; 'converter' needs --converter).",
)  # fmt: skip
@click.option(
    "--converter", default=None, type=click.Path(dir_okay=False),
    help="Exported tone-colour converter (edge-vc export converter) to use as the voice stage.",
)  # fmt: skip
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="CPU threads for inference.")
@backend_option
@click.option("--json", "as_json", is_flag=True, help="Print the coach report and profile path as JSON.")
@click.option(
    "--adapt", "adapt_after", is_flag=True, help="Then train the learned stage (as 'edge-vc adapt NAME'; needs torch)."
)
@click.option("--adapt-minutes", type=float, default=5.0, show_default=True, help="Time budget for --adapt.")
@user_errors
def enroll(
    name, mic, seconds, device, wavs, strict, report, no_consent, force, base_voice, stage, converter, threads, as_json,
    adapt_after, adapt_minutes,
):  # fmt: skip
    """Enroll speaker NAME from the microphone (--mic) or recordings (--wav FILE...)."""
    import json

    from edge_vc.enroll.flow import EnrollOptions
    from edge_vc.enroll.flow import enroll as run_enroll

    opts = EnrollOptions(
        name=name, wavs=list(wavs), mic=mic, seconds=seconds, device=device, strict=strict, report=report,
        consent=not no_consent, force=force, base_voice=base_voice, stage=stage, threads=threads,
        converter=converter,
    )  # fmt: skip
    profile, coach = run_enroll(opts, echo=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps({"profile": str(profile.path), "stage": profile.stage_kind, **coach.to_dict()}, indent=2))
    else:
        click.echo(f"enrolled {name}: {profile.stage_kind} stage on {profile.base.get('voice')} -> {profile.path}")
    if adapt_after:
        from edge_vc.commands.adapt import adapt

        click.get_current_context().invoke(adapt, name=name, minutes=adapt_minutes, threads=threads or 2)
