"""The run check of .ci/check_boundaries.py: speak as a user would, then look at what got imported.

``check_run(python, heavy)`` runs this file with ``python`` in a fresh ``EDGE_VC_HOME``, outside the repo:
it enrolls the shipped sample (DSP stage), runs ``edge-vc say``, speaks through ``edge_vc.load()`` with the
base voice and with the new profile, and reports the toolchain/torch modules loaded after each step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TOOLCHAIN = ("edge_vc.export", "edge_vc.models", "edge_vc.train")
SENTENCE = "The quick brown fox jumps over the lazy dog."
MARK = "BOUNDARIES"


def check_run(python: str, heavy: tuple[str, ...]) -> list[str]:
    """Problems found by running this file with ``python`` (empty when all is well)."""
    with tempfile.TemporaryDirectory(prefix="edge-vc-home-") as home:
        env = dict(os.environ, EDGE_VC_HOME=home, OMP_NUM_THREADS="1")
        env.pop("PYTHONPATH", None)
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), json.dumps(heavy)],
            capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), timeout=600,
        )  # fmt: skip
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(MARK)), None)
    if done.returncode != 0 or line is None:
        tail = "\n    ".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        return [f"run check: speaking failed (exit {done.returncode}):\n    {tail}"]
    problems = []
    for step, bad in json.loads(line[len(MARK) :]).items():
        if bad:
            problems.append(f"run check: after {step}, loaded toolchain/torch modules: {', '.join(bad[:8])}")
    return problems


def _cli(*args: str) -> None:
    from edge_vc.cli import main

    try:
        main(list(args), prog_name="edge-vc", standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise


def _speak(name: str | None, stage: str) -> None:
    import numpy as np

    import edge_vc

    pipeline = edge_vc.load(name)
    assert getattr(pipeline.stage, "name", None) == stage, (name, pipeline.stage)
    chunks = list(pipeline.synthesize(SENTENCE))
    audio = np.concatenate([c.audio for c in chunks])
    assert audio.dtype == np.float32 and audio.size > chunks[0].sample_rate // 2, (name, audio.size)
    assert float(np.abs(audio).max()) > 0.01, name


def main(heavy: set[str]) -> None:
    from importlib.resources import files

    report: dict[str, list[str]] = {}

    def step(name: str, fn: Callable[[], None]) -> None:
        fn()
        toolchain = [m for m in sys.modules if any(m == g or m.startswith(g + ".") for g in TOOLCHAIN)]
        report[name] = sorted(toolchain + [m for m in sys.modules if m.split(".")[0] in heavy])

    out = Path(tempfile.mkdtemp(prefix="edge-vc-boundaries-"))
    sample = str(files("edge_vc.data").joinpath("en_robert.wav"))  # the shipped 7 s sample
    enroll = ("enroll", "robert", "--wav", sample, "--no-consent", "--stage", "dsp", "--threads", "2")
    step("edge-vc enroll --wav (DSP stage)", lambda: _cli(*enroll))
    step("edge-vc say (base voice)", lambda: _cli("say", "Hello there.", "--out", str(out / "base.wav"), "--no-play"))
    step("edge_vc.load() (base voice)", lambda: _speak(None, "none"))
    step("edge_vc.load('robert') (DSP profile)", lambda: _speak("robert", "dsp"))
    print(MARK + json.dumps(report))


if __name__ == "__main__":
    main(set(json.loads(sys.argv[1])))
