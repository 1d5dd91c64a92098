"""``edge-vc eval``: cloning quality for a folder of reference recordings (needs the ``eval`` extra)."""

from __future__ import annotations

import click

from .common import user_errors


@click.command(name="eval")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--stage", "stages", multiple=True, help="Voice stage to enroll (repeat; default: all registered).")
@click.option("--profile", "profiles", multiple=True, metavar="SPEAKER=PROFILE", help="Also score an enrolled profile.")
@click.option("-n", "--sentences", type=click.IntRange(1, 10), default=3, show_default=True, help="Sentences to say.")
@click.option("-v", "--voice", default=None, help="Base voice (default: bundled voice).")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="CPU threads for inference.")
@click.option("--max-speakers", type=click.IntRange(1, 1000), default=None, help="Only the first N speakers.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write JSON results ('-' for stdout).")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), help="Write a Markdown report.")
@user_errors
def eval_(folder, stages, profiles, sentences, voice, threads, max_speakers, json_out, md_out) -> None:
    """Enroll each speaker in FOLDER, say fixed sentences, report similarity, WER and DNSMOS.

    FOLDER holds one sub-folder per speaker, or files named per speaker (a second take such as
    alice_2.wav or s1p2.wav gives the same-speaker ceiling).
    """
    import json
    from pathlib import Path

    from ..audio.io import atomic_write_bytes
    from ..bench.evaluate import EvalConfig, evaluate, to_markdown
    from ..errors import EdgeVCError

    mapping = {}
    for item in profiles:
        speaker, sep, profile = item.partition("=")
        if not sep or not speaker or not profile:
            raise EdgeVCError(f"--profile wants SPEAKER=PROFILE, got {item!r}")
        mapping[speaker] = profile
    config = EvalConfig(
        folder=folder,
        stages=list(stages),
        profiles=mapping,
        sentences=sentences,
        voice=voice,
        threads=threads,
        max_speakers=max_speakers,
    )
    results = evaluate(config, progress=lambda msg: click.echo(msg, err=True))
    markdown = to_markdown(results)
    if md_out:
        atomic_write_bytes(Path(md_out), markdown.encode())
    if json_out == "-":
        click.echo(json.dumps(results, indent=1))
        return
    if json_out:
        atomic_write_bytes(Path(json_out), (json.dumps(results, indent=1) + "\n").encode())
    click.echo(markdown)
