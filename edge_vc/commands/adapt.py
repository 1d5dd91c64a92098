"""``edge-vc adapt NAME``: train the learned voice stage for an enrolled profile (needs the train extra)."""

from __future__ import annotations

import click

from .common import user_errors


@click.command()
@click.argument("name")
@click.option("--minutes", type=float, default=5.0, show_default=True, help="Time budget; resume later if it runs out.")
@click.option("--steps", type=int, default=1000, show_default=True, help="Training steps in total.")
@click.option("--threads", type=int, default=2, show_default=True)
@click.option(
    "--vocoder", type=click.Choice(["source-filter", "fp32", "int8"]), default="source-filter", show_default=True,
    help="numpy source-filter renderer (no model file), or HiFi-GAN fp32 / INT8 ONNX (built by train.export_vocoder).",
)  # fmt: skip
@click.option("--max-wer", type=float, default=0.2, show_default=True, help="Quality gate: highest probe WER.")
@click.option(
    "--min-gain", type=float, default=0.02, show_default=True,
    help="Quality gate: similarity to the enrollment must beat the base voice's by this much.",
)  # fmt: skip
@click.option(
    "--replay-minutes", type=float, default=4.0, show_default=True,
    help="Base-voice speech mixed into training (synthesized once, cached).",
)  # fmt: skip
@click.option("--restart", is_flag=True, help="Discard a previous partial run instead of resuming it.")
@click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON.")
@user_errors
def adapt(
    name: str, minutes: float, steps: int, threads: int, vocoder: str, max_wer: float, min_gain: float,
    replay_minutes: float, restart: bool, as_json: bool,
) -> None:  # fmt: skip
    """Adapt the learned stage to profile NAME from its enrollment recording.

    Fine-tunes the shipped base decoder (75-370 s measured for 10-15 s of speech on 2 shared
    cores), exports it next to the profile and checks held-out probe sentences; if the check
    fails, the DSP stage stays.
    """
    import json

    from ..config import profiles_dir
    from ..errors import EdgeVCError, ProfileError

    try:
        import torch  # noqa: F401

        from train.adapt import AdaptConfig
        from train.adapt_profile import GateConfig, run_adaptation
    except ImportError as exc:
        raise EdgeVCError(
            f"adaptation needs PyTorch: pip install 'edge-vc[train]' ({exc.name} missing); "
            "speaking with an adapted profile does not"
        ) from exc
    profile_dir = profiles_dir() / name
    if not profile_dir.is_dir():
        raise ProfileError(f"no profile named {name!r} in {profiles_dir()} (enroll first)")
    with click.progressbar(length=steps, label="adapting", file=click.get_text_stream("stderr")) as bar:
        state = {"last": 0}

        def progress(step: int, total: int, loss: float) -> None:
            bar.update(step - state["last"])
            state["last"] = step

        config = AdaptConfig(steps=steps, threads=threads, replay_minutes=replay_minutes)
        status = run_adaptation(
            profile_dir, minutes=minutes, config=config, vocoder=vocoder,
            gate=GateConfig(max_wer=max_wer, min_gain=min_gain),
            restart=restart, echo=lambda m: click.echo(m, err=True), progress=progress,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        click.echo(f"{name}: {status['status']}: {status['message']}")
    if status["status"] == "partial":
        raise SystemExit(3)
