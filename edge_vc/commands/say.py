"""``edge-vc say`` and ``edge-vc devices``."""

from __future__ import annotations

import sys
import time

import click

from edge_vc.commands.common import backend_option, echo_verbose, user_errors
from edge_vc.errors import InvalidTextError


@click.command()
@click.argument("text", required=False)
@click.option(
    "--voice",
    "-v",
    default=None,
    help="Profile name, installed voice, or .onnx path (default: bundled en_US-joe-medium).",
)
@click.option(
    "--out", "-o", "out", default=None,
    help="Write a file: .wav, .flac or .ogg (by its name; others are refused); '-' writes WAV to stdout.",
)  # fmt: skip
@click.option("--mkdir", "make_parents", is_flag=True, help="Create --out's missing folders (default: refuse).")
@click.option("--raw", is_flag=True, help="Write raw 16-bit mono PCM to stdout (for pipes).")
@click.option("--device", "-d", default=None, help="Play on this output device (index or name); see 'edge-vc devices'.")
@click.option(
    "--device-rate", type=click.IntRange(8000, 192000), default=None, help="Force the device's sample rate (resampled)."
)
@click.option("--play/--no-play", default=None, help="Play on the speaker (default: when no --out/--raw is given).")
@click.option(
    "--rate",
    type=click.FloatRange(0.25, 4.0),
    default=1.0,
    show_default=True,
    help="Speaking speed (2.0 = twice as fast).",
)
@click.option(
    "--volume", type=click.FloatRange(0.0, 4.0), default=1.0, show_default=True,
    help="Output gain (above 1 the loudest parts clip; a warning gives the clipped share).",
)  # fmt: skip
@click.option(
    "--speaker", type=click.IntRange(min=0), default=None,
    help="Speaker id of a multi-speaker voice (ignored, with a warning, on a single-speaker voice).",
)  # fmt: skip
@click.option(
    "--threads", type=click.IntRange(1, 64), default=None, help="CPU threads for inference (default: all cores)."
)
@click.option(
    "--ssml", is_flag=True,
    help="Read TEXT as SSML (auto when it starts with <speak>; needed for another <?xml/<!DOCTYPE document).",
)  # fmt: skip
@click.option(
    "--memory-arena", is_flag=True,
    help="Keep onnxruntime's CPU memory arena: ~15 % less CPU, ~60 MB more peak memory for a paragraph "
    "in a cloned voice (off by default, as in serve).",
)  # fmt: skip
@click.option("--verbose", is_flag=True, help="Show timing on stderr.")
@backend_option
@user_errors
def say(text, voice, out, make_parents, raw, device, device_rate, play, rate, volume, speaker, threads, ssml,
        memory_arena, verbose):  # fmt: skip
    """Speak TEXT (or text read from stdin) offline."""
    from edge_vc.audio.sinks import ClipMeter, DeviceSink, StreamSink, WavFileSink, check_output_path
    from edge_vc.loader import load
    from edge_vc.render import SpeechRequest, render

    if text is None or text == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InvalidTextError("no text given: pass TEXT or pipe text on stdin")
        text = sys.stdin.read()
    if not text.strip():
        raise InvalidTextError("text is empty: nothing to say")
    if out == "-" and raw:
        raise click.UsageError("--out - and --raw both write to stdout; choose one")
    if out and out != "-":
        check_output_path(out, make_parents)  # before the voice loads: a wrong name fails at once
    started = time.perf_counter()
    from edge_vc.backends.heap import lean_memory
    from edge_vc.backends.onnx import memory_arena_enabled

    lean_memory(memory_arena)  # before any session opens (docs/learned-stage.md, "Quiet machine and memory")
    pipeline = load(voice, threads=threads)
    echo_verbose(
        verbose,
        f"loaded {pipeline.voice.name} ({pipeline.stage.name} stage, {pipeline.voice.backend}, onnxruntime "
        f"memory arena {'on' if memory_arena_enabled() else 'off'}) in {time.perf_counter() - started:.2f} s",
    )
    speaker = _check_speaker(pipeline, speaker)
    request = SpeechRequest(text, voice=voice, ssml=ssml, rate=rate, volume=volume, speaker_id=speaker)
    if play is None:
        play = out is None and not raw
    meter = ClipMeter()
    sinks = [meter]
    try:
        if play or device is not None:
            sinks.append(DeviceSink(device, sample_rate=device_rate))
        if out == "-":
            sinks.append(StreamSink(wav_header=True))
        elif out:
            sinks.append(WavFileSink(out, make_parents=make_parents))
        if raw:
            sinks.append(StreamSink())
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    result = render(pipeline, request, sinks)
    first = "nothing said" if result.first_audio is None else f"first audio after {result.first_audio:.3f} s"
    echo_verbose(
        verbose,
        f"{result.seconds:.2f} s of audio in {result.elapsed:.2f} s (RTF {result.rtf:.3f}), {first}",
    )
    if meter.share > MAX_CLIPPED_SHARE:
        click.echo(
            f"edge-vc: warning: {meter.share:.1%} of the samples clipped at full scale (--volume {volume:g}); "
            "lower --volume to avoid distortion",
            err=True,
        )
    if out and out != "-":
        echo_verbose(verbose, f"wrote {out}")


MAX_CLIPPED_SHARE = 0.001
"""More samples than this at full scale get a warning (level-normalised speech touches it once per sentence)."""


def _check_speaker(pipeline, speaker: int | None) -> int | None:
    """The speaker id to use: refused when out of range, dropped with a warning on a single-speaker voice.

    Like piper, a single-speaker voice ignores ``--speaker`` (so one command line works with every
    voice), but edge-vc says so instead of ignoring it silently.
    """
    if speaker is None:
        return None
    count = pipeline.voice.config.num_speakers
    if count < 2:
        click.echo(
            f"edge-vc: warning: {pipeline.voice.name} has a single speaker; --speaker {speaker} is ignored "
            "(it picks a speaker of a multi-speaker voice)",
            err=True,
        )
        return None
    if speaker >= count:
        raise click.BadParameter(
            f"{pipeline.voice.name} has speakers 0-{count - 1}, not {speaker}", param_hint="--speaker"
        )
    return speaker


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def devices(as_json):
    """List sound devices with their channels and default rates."""
    import json

    from edge_vc.audio.devices import list_devices

    found = list_devices()
    if as_json:
        click.echo(json.dumps([d.__dict__ | {"kinds": d.kinds} for d in found], indent=2))
        return
    if not found:
        click.echo("no audio devices found")
        return
    for d in found:
        click.echo(
            f"{d.index:3d}  {d.kinds:6s}  {d.default_samplerate:6d} Hz  in:{d.max_input_channels} "
            f"out:{d.max_output_channels}  {d.name}  [{d.hostapi}]"
        )
