"""The coach's live checks (``edge_vc.enroll.live``) on the shipped sample: its own messages, early allowances."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edge_vc.audio.io import read_audio
from edge_vc.enroll.coach import run_coach
from edge_vc.enroll.live import LiveCoach, live_checks
from edge_vc.speaker.vad import SileroVAD
from tests.console_util import SAMPLE


@pytest.fixture(scope="module")
def sample():
    return read_audio(SAMPLE)


@pytest.fixture(scope="module")
def vad():
    return SileroVAD(threads=1)


def test_live_checks_are_the_coachs_checks_with_allowances_for_a_recording_still_going(sample, vad):
    audio, rate = sample
    early = live_checks(audio[: rate // 2], rate, vad, remaining_s=20)
    assert [f.check for f in early.findings] == ["speech"]  # nothing judged on half a second
    assert early.findings[0].level == "info" and "so far: keep reading" in early.findings[0].message

    quiet = audio * 0.004  # about -60 dBFS speech
    live = live_checks(quiet, rate, vad, remaining_s=20)
    whole = run_coach(quiet, rate, vad=vad, source="mic")
    by_check = {f.check: f for f in whole.findings}
    assert {f.check for f in live.findings} == set(by_check) - {"voices"}
    for finding in live.findings:
        if finding.check != "speech":  # the coach's own messages, word for word
            assert finding.to_dict() == by_check[finding.check].to_dict()
    level = next(f for f in live.findings if f.check == "level")
    assert level.level == "warn" and level.message.startswith("too quiet") and "raise the input gain" in level.message
    assert by_check["speech"].level == "warn"  # 6 s of speech: the verdict warns ...
    assert next(f for f in live.findings if f.check == "speech").level == "info"  # ... while reading goes on
    done = live_checks(quiet, rate, vad, remaining_s=0)  # time is up: the coach's own verdict on the amount
    assert next(f for f in done.findings if f.check == "speech").to_dict() == by_check["speech"].to_dict()


def _feed(coach: LiveCoach, audio: np.ndarray, rate: int, seconds: float) -> list[str]:
    """Feed ``seconds`` of ``audio`` in 50 ms blocks, as ``capture.record`` does, then wait for an evaluation."""
    lines, block = [], int(rate * 0.05)
    before = coach.evaluations
    for start in range(0, int(seconds * rate), block):
        if line := coach.feed(audio[start : start + block], rate):
            lines += line.split("\n")
    deadline = time.monotonic() + 30
    while coach.evaluations == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert coach.evaluations > before, coach.error
    if line := coach.feed(np.zeros(0, np.float32), rate):  # what that evaluation found
        lines += line.split("\n")
    return lines


def test_live_coach_streams_checks_of_the_reading_as_it_grows(sample):
    audio, rate = sample
    recording = np.concatenate([np.zeros(2 * rate, np.float32), audio])  # 2 s "challenge" time, then the reading
    got: list[dict] = []
    coach = LiveCoach(2.0, 20.0, got.append, every_s=1.0)
    try:
        _feed(coach, recording, rate, 3.0)
        _feed(coach, recording[3 * rate :], rate, 5.5)
    finally:
        coach.close()
    assert coach.error is None and len(got) >= 2
    assert got[0]["seconds"] < got[-1]["seconds"] <= 6.6  # only the audio after start_s is checked
    assert got[-1]["remaining_s"] == pytest.approx(18.0 - got[-1]["seconds"], abs=0.01)
    last = {f["check"]: f for f in got[-1]["findings"]}
    assert {"speech", "clipping", "level", "noise", "speech_ratio"} <= set(last)
    assert last["level"]["level"] == "ok" and last["speech"]["level"] == "info"


def test_live_coach_on_the_terminal_prints_what_changes(sample):
    audio, rate = sample
    recording = np.concatenate([audio * 0.004, audio])  # too quiet at first, then at a good level
    coach = LiveCoach(0.0, 30.0, None, every_s=1.0)
    try:
        lines = _feed(coach, recording, rate, 6.5)
        lines += _feed(coach, recording[int(6.5 * rate) :], rate, 7.0)
    finally:
        coach.close()
    quiet = [line for line in lines if line.startswith("live: [WARN] level: too quiet")]
    again = [line for line in lines if line.startswith("live: [ok  ] level: speech level")]
    assert len(quiet) == 1 and len(again) == 1 and lines.index(quiet[0]) < lines.index(again[0]), lines
    assert all(line.startswith("live: [") for line in lines)
    assert not any(line.startswith("live: [ok  ] clipping") for line in lines)  # checks that stay ok are not printed
