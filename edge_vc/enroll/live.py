"""The coach's checks while a microphone recording is still going (live checks in the console and the CLI).

:func:`live_checks` is :func:`edge_vc.enroll.coach.run_coach` on the audio so far, with its thresholds
and messages, less the other-voices check (it needs the speaker encoder) and with two allowances for a
recording that is not over: while recording time remains, too little speech is progress (``info``), not
a refusal; and checks on too little speech are not shown: clipping and level wait for
:data:`EARLY_SPEECH_S` of speech, the others (speech share, noise, reverb, bandwidth, pace) for
``refuse_speech_s`` (a single loud syllable is not yet a clipped recording).
:class:`LiveCoach` runs them in a background thread on every :data:`LIVE_EVERY_S` of new audio, fed
block by block by :func:`edge_vc.enroll.capture.record`; the whole-recording coach still decides at the end.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from edge_vc.enroll.coach import CoachConfig, CoachReport, Finding, run_coach

LIVE_EVERY_S = 1.5
"""New audio (seconds) between two live evaluations (a slow device evaluates less often, never queues)."""
EARLY_CHECKS = ("clipping", "level")
"""Checks shown from :data:`EARLY_SPEECH_S` of speech on (the rest from the coach's ``refuse_speech_s``)."""
EARLY_SPEECH_S = 1.5


def live_checks(
    audio: np.ndarray, sample_rate: int, vad, remaining_s: float, config: CoachConfig | None = None
) -> CoachReport:
    """The coach's report on ``audio`` (the recording so far), its findings adjusted for a recording still going."""
    config = config or CoachConfig()
    report = run_coach(audio, sample_rate, encoder=None, vad=vad, config=config, source="mic")
    speech_s = report.speech_seconds
    findings: list[Finding] = []
    for finding in report.findings:
        needs = EARLY_SPEECH_S if finding.check in EARLY_CHECKS else config.refuse_speech_s
        if finding.check not in ("speech", "length") and speech_s < needs:
            continue
        if finding.check == "speech" and finding.level != "ok" and remaining_s > 0:
            finding = Finding(
                "speech", "info",
                f"{speech_s:.1f} s of speech so far: keep reading ({config.warn_speech_s:.0f} s or more is best)",
                finding.value, finding.threshold,
            )  # fmt: skip
        findings.append(finding)
    report.findings = findings
    return report


class LiveCoach:
    """Live checks of a recording: :meth:`feed` every block (returns lines to show), :meth:`close` at the end.

    ``start_s``: where the audio to check starts (the reading text, after the consent phrase);
    ``total_s``: the recording's length. With ``on_checks`` every evaluation goes there as a dict
    (``seconds``, ``speech_seconds``, ``remaining_s``, ``findings``); without it :meth:`feed` returns
    the lines to print: a check that turns non-ok, and one that turns ok again.
    """

    def __init__(
        self, start_s: float, total_s: float, on_checks: Callable[[dict[str, Any]], None] | None = None,
        config: CoachConfig | None = None, every_s: float = LIVE_EVERY_S,
    ) -> None:  # fmt: skip
        self.start_s, self.total_s, self.every_s = start_s, total_s, every_s
        self.on_checks, self.config = on_checks, config or CoachConfig()
        self._blocks: list[np.ndarray] = []
        self._rate = 0
        self._seen = 0
        self._checked = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._shown: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self.evaluations = 0
        self.error: str | None = None

    def feed(self, block: np.ndarray, rate: int) -> str | None:
        """Take one recorded block (device rate); returns the lines to show now, if any."""
        with self._lock:
            self._rate = rate
            before = self._seen
            self._seen += block.size
            skip = max(0, int(self.start_s * rate) - before)
            if skip < block.size:
                self._blocks.append(np.asarray(block[skip:], dtype=np.float32))
            fresh = sum(b.size for b in self._blocks) - self._checked
        if self._thread is None and self._blocks:
            self._thread = threading.Thread(target=self._run, name="edge-vc-live-coach", daemon=True)
            self._thread.start()
        if fresh >= self.every_s * rate:
            self._wake.set()
        lines = []
        while not self._lines.empty():
            lines.append(self._lines.get_nowait())
        return "\n".join(lines) or None

    def close(self) -> None:
        """Stop the checks (the recording ended); an evaluation still running is not shown."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        from edge_vc.speaker.vad import SileroVAD

        try:
            vad = SileroVAD(threads=1)
            while not self._stop.is_set():
                if not self._wake.wait(0.5):
                    continue
                self._wake.clear()
                if self._stop.is_set():
                    return
                with self._lock:
                    audio, rate = np.concatenate(self._blocks), self._rate
                self._checked = audio.size
                seconds = audio.size / rate
                report = live_checks(audio, rate, vad, self.total_s - self.start_s - seconds, self.config)
                if self._stop.is_set():
                    return
                self.evaluations += 1
                self._deliver(report, seconds)
        except Exception as exc:  # live checks are a help; the recording and the final coach go on without them
            self.error = f"{type(exc).__name__}: {exc}"

    def _deliver(self, report: CoachReport, seconds: float) -> None:
        if self.on_checks is not None:
            self.on_checks({
                "seconds": round(seconds, 2), "speech_seconds": round(report.speech_seconds, 2),
                "remaining_s": round(max(0.0, self.total_s - self.start_s - seconds), 2),
                "findings": [f.to_dict() for f in report.findings],
            })  # fmt: skip
            return
        for finding, line in zip(report.findings, report.summary_lines(), strict=True):
            if finding.level != self._shown.get(finding.check, "ok"):
                self._lines.put(f"live: {line}")
            self._shown[finding.check] = finding.level
