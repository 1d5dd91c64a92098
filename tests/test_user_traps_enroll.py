"""Enrollment and adaptation traps of issue 19: the level meter without a terminal, the same file giving the
same profile, advice that fits files, long and telephone-band files, adapt's progress without a terminal,
partial checkpoints in `voices show`, the shipped INT8 voice in `voices list`. Each test failed before its fix."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge_vc.audio.io import read_audio, resample, write_wav

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "samples" / "en_robert.wav"
RATE = 24000


@pytest.fixture(scope="module")
def robert() -> np.ndarray:
    audio, _ = read_audio(SAMPLE, RATE)
    return audio


@pytest.fixture(scope="module")
def vad():
    from edge_vc.speaker.vad import SileroVAD

    return SileroVAD()


@pytest.mark.slow
def test_level_meter_without_a_terminal_prints_a_line_now_and_then(pulse_audio):
    code = (
        "from edge_vc.enroll.capture import record\n"
        "audio, rate = record(6.0, countdown=0)\n"
        "assert audio.size == int(6.0 * rate)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, cwd=str(REPO))
    assert done.returncode == 0, done.stderr.decode()
    err = done.stderr.decode()
    assert "\r" not in err, "no carriage-return redraws in a log"
    meter = [line for line in err.splitlines() if "dBFS" in line]
    assert 1 <= len(meter) <= 3, err  # one line per 5 s (was one per 50 ms block: 120 for 6 s)


@pytest.mark.slow
def test_base_reference_is_the_same_every_time(base_voice):
    from edge_vc.stages import dsp_estimate

    first, _ = dsp_estimate.base_reference(base_voice)
    dsp_estimate._BASE_CACHE.clear()
    second, _ = dsp_estimate.base_reference(base_voice)
    assert first.shape == second.shape and np.array_equal(first, second)


@pytest.mark.slow
def test_the_same_file_enrolled_twice_gives_the_same_profile(run_cli, tmp_path):
    """Two processes (no shared cache), one file: identical stage parameters and base-voice choice."""
    params = []
    for run in range(2):
        home = tmp_path / f"home{run}"
        result = run_cli(
            "enroll", "twice", "--wav", str(SAMPLE), "--no-consent", "--threads", "2", env={"EDGE_VC_HOME": str(home)}
        )
        assert result.returncode == 0, result.stderr.decode()
        profile = yaml.safe_load((home / "profiles" / "twice" / "profile.yaml").read_text())
        params.append((profile["base"], profile["stage"]))
    assert params[0] == params[1]
    warp = params[0][1]["params"]["formant_warp"]
    assert 0.84 <= warp <= 1.30


def test_a_silent_file_gets_no_microphone_advice(run_cli, tmp_path):
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(20 * 16000, np.float32), 16000)
    result = run_cli("enroll", "quiet", "--wav", str(silent), "--no-consent", env={"EDGE_VC_HOME": str(tmp_path)})
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "enrollment refused" in err and "speech" in err
    assert "microphone" not in err, err
    assert "give a recording with more speech" in err


def test_mic_recordings_keep_the_microphone_advice(vad):
    from edge_vc.enroll.coach import run_coach

    report = run_coach(np.zeros(10 * RATE, np.float32), RATE, vad=vad, source="mic")
    assert "speak closer to the microphone" in report.refusals[0].message


@pytest.mark.slow
def test_a_ten_minute_file_is_cut_to_its_best_60_seconds(robert, vad, tmp_path):
    from edge_vc.enroll.coach import run_coach
    from edge_vc.enroll.flow import read_inputs

    rng = np.random.default_rng(0)
    long = (0.001 * rng.standard_normal(600 * RATE)).astype(np.float32)  # 10 minutes of room tone
    start = 400 * RATE
    for k in range(6):  # ~45 s of speech from 400 s on
        at = start + k * (robert.size + RATE // 2)
        long[at : at + robert.size] += robert
    path = tmp_path / "ten_minutes.wav"
    write_wav(path, long, RATE)
    audio, sources, _ = read_inputs([str(path)])  # was refused: "at most 180 s accepted"
    assert abs(audio.size / RATE - 600) < 0.1 and sources[0]["seconds"] == pytest.approx(600, abs=0.1)
    report = run_coach(audio, RATE, vad=vad, source="file")
    assert report.audio.size == 60 * RATE
    length = [f for f in report.findings if f.check == "length"][0]
    assert length.level == "info" and "60 s with the most speech" in length.message
    assert report.speech_seconds > 30, "the window holds the speech, not the room tone"
    assert not report.refusals


def test_a_telephone_band_file_is_warned_about(robert, vad):
    from edge_vc.enroll.coach import run_coach

    full = run_coach(robert, RATE, vad=vad, source="file")
    band = [f for f in full.findings if f.check == "bandwidth"][0]
    assert band.level == "ok" and full.measurements["bandwidth_hz"] > 7000
    phone = resample(resample(robert, RATE, 8000), 8000, RATE)
    narrow = run_coach(phone, RATE, vad=vad, source="file")
    band = [f for f in narrow.findings if f.check == "bandwidth"][0]
    assert band.level == "warn" and narrow.measurements["bandwidth_hz"] < 4100
    assert "telephone" in band.message and "full-band recording" in band.message


def test_adapt_threads_has_help_text(run_cli):
    result = run_cli("adapt", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.decode().split())
    assert "--threads INTEGER RANGE CPU threads for training" in text


def test_adapt_progress_without_a_terminal_prints_lines():
    from edge_vc.commands.adapt import _progress

    stream = io.StringIO()
    with _progress(1000, stream) as progress:
        for step in range(1, 1001):
            progress(step, 1000, 0.5)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("adapting: step 100/1000 (10%), loss 0.500")
    assert lines[-1].startswith("adapting: step 1000/1000 (100%)")
    resumed = io.StringIO()
    with _progress(1000, resumed) as progress:
        for step in range(501, 1001):
            progress(step, 1000, 0.5)
    assert resumed.getvalue().splitlines()[0].startswith("adapting: step 501/1000")


def _bare_profile(home: Path, name: str) -> Path:
    folder = home / "profiles" / name
    (folder / "learned").mkdir(parents=True)
    return folder


@pytest.mark.slow
def test_adapt_says_it_resumes_from_the_checkpoint_step(run_cli, tmp_path):
    import torch

    folder = _bare_profile(tmp_path, "resumer")
    torch.save({"step": 300, "model": {}, "optimizer": {}}, folder / "learned" / "adapt.ckpt")
    result = run_cli("adapt", "resumer", "--steps", "1000", env={"EDGE_VC_HOME": str(tmp_path)})
    err = result.stderr.decode()
    assert "resuming from step 300 of 1000" in err and "--restart starts over" in err
    assert "no enrollment.wav" in err  # the bare profile then stops, before any training


def test_voices_show_mentions_a_partial_adaptation(run_cli, tmp_path):
    from tests.test_enroll_profile import make_profile

    env = {"EDGE_VC_HOME": str(tmp_path)}
    import os

    old = os.environ.get("EDGE_VC_HOME")
    os.environ["EDGE_VC_HOME"] = str(tmp_path)
    try:
        folder = make_profile("halfway", kind="none").save(enrollment_audio=(np.zeros(RATE, np.float32), RATE))
    finally:
        os.environ["EDGE_VC_HOME"] = old or ""
    learned = Path(folder) / "learned"
    learned.mkdir()
    (learned / "adapt.ckpt").write_bytes(b"checkpoint")
    status = {"status": "partial", "steps": 400, "target_steps": 1000, "message": "stopped at step 400/1000"}
    (learned / "learned.json").write_text(json.dumps(status))
    shown = run_cli("voices", "show", "halfway", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    line = [x for x in shown.stdout.decode().splitlines() if x.startswith("adapt ")]
    assert line and "partial adaptation checkpoint at step 400 of 1000" in line[0]
    assert "`edge-vc adapt halfway` resumes it" in line[0]
    (learned / "learned.json").unlink()  # killed before it wrote a status: the checkpoint alone
    shown = run_cli("voices", "show", "halfway", env=env)
    assert "partial adaptation checkpoint (step count not recorded)" in shown.stdout.decode()


def test_voices_list_shows_the_shipped_int8_voice(run_cli, tmp_path):
    result = run_cli("voices", "list", "--json", env={"EDGE_VC_HOME": str(tmp_path)})
    names = [row["name"] for row in json.loads(result.stdout)]
    assert "en_US-joe-medium" in names and "en_US-joe-medium.int8" in names
