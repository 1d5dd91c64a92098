"""``edge-vc adapt NAME``: train the learned voice stage for an enrolled profile (needs the train extra)."""

from __future__ import annotations

import click

from edge_vc.commands.common import user_errors


@click.command()
@click.argument("name")
@click.option("--minutes", type=float, default=5.0, show_default=True, help="Time budget; resume later if it runs out.")
@click.option("--steps", type=int, default=1000, show_default=True, help="Training steps in total.")
@click.option(
    "--threads", type=click.IntRange(1, 64), default=2, show_default=True,
    help="CPU threads for training (PyTorch) and for the features and the quality gate.",
)  # fmt: skip
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

    from edge_vc.errors import EdgeVCError, ProfileError
    from edge_vc.paths import profiles_dir

    try:
        import torch  # noqa: F401

        from edge_vc.train.adapt import AdaptConfig
        from edge_vc.train.adapt_profile import GateConfig, run_adaptation
    except ImportError as exc:
        raise EdgeVCError(
            f"adaptation needs PyTorch: pip install 'edge-vc[train]' ({exc.name} missing); "
            "speaking with an adapted profile does not"
        ) from exc
    profile_dir = profiles_dir() / name
    if not profile_dir.is_dir():
        raise ProfileError(f"no profile named {name!r} in {profiles_dir()} (enroll first)")
    checkpoint = profile_dir / "learned" / "adapt.ckpt"
    echo = lambda m: click.echo(m, err=True)  # noqa: E731
    if checkpoint.is_file() and not restart:
        done = _checkpoint_step(checkpoint)
        if done is not None:
            echo(f"resuming from step {done} of {steps} ({checkpoint}; --restart starts over)")
    config = AdaptConfig(steps=steps, threads=threads, replay_minutes=replay_minutes)
    stream = click.get_text_stream("stderr")
    with _progress(steps, stream) as progress:
        status = run_adaptation(
            profile_dir, minutes=minutes, config=config, vocoder=vocoder,
            gate=GateConfig(max_wer=max_wer, min_gain=min_gain),
            restart=restart, echo=echo, progress=progress,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        click.echo(f"{name}: {status['status']}: {status['message']}")
    if status["status"] == "partial":
        raise SystemExit(3)


def _checkpoint_step(path) -> int | None:
    """The step a partial run's checkpoint stopped at (None when it cannot be read)."""
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["step"])
    except Exception:  # a torn or foreign file: training starts over and overwrites it
        return None


class _progress:
    """A progress bar on a terminal; elsewhere (pipe, systemd, CI log) a line every tenth of the steps."""

    def __init__(self, steps: int, stream) -> None:
        self.steps, self.stream = steps, stream
        self.tty = stream.isatty()
        self.bar = None
        self.last = 0
        self.started = 0.0

    def __enter__(self):
        import time

        self.started = time.monotonic()
        if self.tty:
            self.bar = click.progressbar(length=self.steps, label="adapting", file=self.stream).__enter__()
        return self

    def __call__(self, step: int, total: int, loss: float) -> None:
        import time

        if self.bar is not None:
            self.bar.update(step - self.last)
            self.last = step
            return
        every = max(1, total // 10)
        if step == total or step // every > self.last // every:
            elapsed = time.monotonic() - self.started
            line = f"adapting: step {step}/{total} ({step / total:.0%}), loss {loss:.3f}, {elapsed:.0f} s"
            click.echo(line, file=self.stream)
            self.last = step

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
