"""``edge-vc say`` and ``edge-vc devices``."""

from __future__ import annotations

import sys
import time

import click

from ..errors import InvalidTextError
from .common import echo_verbose, user_errors


@click.command()
@click.argument("text", required=False)
@click.option(
    "--voice",
    "-v",
    default=None,
    help="Profile name, installed voice, or .onnx path (default: bundled en_US-joe-medium).",
)
@click.option("--out", "-o", "out", default=None, help="Write a WAV file; '-' writes WAV to stdout.")
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
@click.option("--volume", type=click.FloatRange(0.0, 4.0), default=1.0, show_default=True, help="Output gain.")
@click.option("--speaker", type=int, default=None, help="Speaker id of a multi-speaker voice.")
@click.option(
    "--threads", type=click.IntRange(1, 64), default=None, help="CPU threads for inference (default: all cores)."
)
@click.option("--ssml", is_flag=True, help="Read TEXT as SSML (auto when it starts with <speak>); see docs/ssml.md.")
@click.option("--verbose", is_flag=True, help="Show timing on stderr.")
@user_errors
def say(text, voice, out, raw, device, device_rate, play, rate, volume, speaker, threads, ssml, verbose):
    """Speak TEXT (or text read from stdin) offline."""
    from ..audio.sinks import DeviceSink, StreamSink, WavFileSink
    from ..pipeline import Speaker

    if text is None or text == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise InvalidTextError("no text given: pass TEXT or pipe text on stdin")
        text = sys.stdin.read()
    if not text.strip():
        raise InvalidTextError("text is empty: nothing to say")
    if ssml and not text.lstrip().lower().startswith(("<speak", "<?xml")):
        text = f"<speak>{text}</speak>"
    if out == "-" and raw:
        raise click.UsageError("--out - and --raw both write to stdout; choose one")
    started = time.perf_counter()
    speaker_obj = Speaker.load(voice, threads=threads)
    echo_verbose(
        verbose,
        f"loaded {speaker_obj.voice.name} ({speaker_obj.stage.name} stage) in {time.perf_counter() - started:.2f} s",
    )
    syn = speaker_obj.voice.config.default_synthesis()
    syn.length_scale = syn.length_scale / rate
    syn.volume = volume
    syn.speaker_id = speaker
    if play is None:
        play = out is None and not raw
    sinks = []
    try:
        if play or device is not None:
            sinks.append(DeviceSink(device, sample_rate=device_rate))
        if out == "-":
            sinks.append(StreamSink(wav_header=True))
        elif out:
            sinks.append(WavFileSink(out))
        if raw:
            sinks.append(StreamSink())
        started = time.perf_counter()
        first_audio = None
        seconds = 0.0
        for chunk in speaker_obj.synthesize(text, syn):
            if first_audio is None:
                first_audio = time.perf_counter() - started
            seconds += chunk.duration
            for sink in sinks:
                sink.write(chunk)
        elapsed = time.perf_counter() - started
    except BaseException:
        for sink in sinks:
            sink.abort()
        raise
    for sink in sinks:
        sink.close()
    echo_verbose(
        verbose,
        f"{seconds:.2f} s of audio in {elapsed:.2f} s (RTF {elapsed / max(seconds, 1e-9):.3f}), "
        f"first audio after {first_audio:.3f} s",
    )
    if out and out != "-":
        echo_verbose(verbose, f"wrote {out}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_errors
def devices(as_json):
    """List sound devices with their channels and default rates."""
    import json

    from ..audio.devices import list_devices

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
