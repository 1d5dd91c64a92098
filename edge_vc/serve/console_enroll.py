"""Console enrollment: :func:`edge_vc.enroll.flow.enroll` as a long job, its messages as events.

The flow's own messages become typed events for the page: ``challenge`` (the consent phrase to
say), ``prompt`` (say the phrase now / read the script), ``countdown``, ``level`` (the device
microphone's level, measured on the device by :func:`edge_vc.enroll.capture.record`, 10 a second),
``coach`` (while a device-mic recording goes: the coach's live checks of the reading so far, from
:mod:`edge_vc.enroll.live`: ``seconds``, ``speech_seconds``, ``remaining_s``, ``findings``), ``finding``
(each check of the coach's verdict on the whole recording: level, check, message), ``report`` (the
report picture is ready) and ``log`` (anything else). Nothing is saved unless every step passed (the
flow's rule).
"""

from __future__ import annotations

import importlib.util
import json
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_vc.errors import EnrollmentError

THREADS = 1
"""Inference threads of a console enrollment (the speech workers keep the rest)."""
LEVEL_EVERY_S = 0.1
_FINDING = re.compile(r"^\[(ok  |info|WARN|FAIL)\] ([\w.-]+): (.*)$", re.S)
_LEVELS = {"ok  ": "ok", "info": "info", "WARN": "warn", "FAIL": "refuse"}
_METER = re.compile(r"^\[[#.]+\]")


def report_path(name: str) -> Path:
    """Where the console keeps the enrollment report picture of profile ``name``."""
    from edge_vc.paths import cache_dir
    from edge_vc.profiles.profile import validate_name

    return cache_dir() / "console" / "reports" / f"{validate_name(name)}.png"


def check_microphone(device: str | None, purpose: str) -> None:
    """HttpError 503 at once, not a failed job later, when the device has no such input (no mic, no PortAudio)."""
    from edge_vc.audio.devices import find_device
    from edge_vc.serve.http_transport import HttpError

    try:
        find_device(device, kind="input")
    except Exception as exc:  # AudioDeviceError, PortAudio errors
        raise HttpError(503, f"this needs the device's microphone ({exc}) for {purpose}") from None


def _echo(task, message: str) -> None:
    text = message.strip()
    if not text or _METER.match(text):
        return
    if match := _FINDING.match(text):
        level, check, said = match.groups()
        task.emit("finding", level=_LEVELS[level], check=check, message=said)
    elif text.startswith("wrote ") and text.endswith(".png"):
        task.emit("report", url=f"/v1/profiles/{task.name}/report.png?t={int(time.time())}")
    elif match := re.match(r'^first you will say:\s+"(.*)"$', text):
        task.emit("challenge", phrase=match.group(1))
    elif text.startswith("say this phrase now:") or text.startswith("now read aloud"):
        task.emit("prompt", message=text)
    elif match := re.match(r"^recording starts in (\d+)", text):
        task.emit("countdown", seconds=int(match.group(1)))
    else:
        task.emit("log", message=text)


def _level_callback(task, seconds: float | None) -> Callable[[float, float], None]:
    last = [-1.0]

    def level(dbfs: float, recorded_s: float) -> None:
        if task.cancelled.is_set():
            raise EnrollmentError("enrollment cancelled (the server is stopping); nothing was saved")
        if recorded_s - last[0] >= LEVEL_EVERY_S:
            last[0] = recorded_s
            task.emit("level", dbfs=round(dbfs, 1), seconds=round(recorded_s, 2), total_s=seconds)

    return level


def enrollment_work(
    name: str, wavs: list[Path], folder: Path | None, consent: bool, force: bool,
    seconds: float | None = None, device: str | None = None,
) -> Callable[[Any], dict[str, Any]]:  # fmt: skip
    """The job: enroll ``name`` from uploaded files (``wavs``) or the device mic (no ``wavs``)."""

    def work(task) -> dict[str, Any]:
        from edge_vc.enroll.flow import CHALLENGE_SECONDS, EnrollOptions, enroll

        report = report_path(name) if importlib.util.find_spec("matplotlib") is not None else None
        if report is not None:
            report.parent.mkdir(parents=True, exist_ok=True)
            report.unlink(missing_ok=True)
        total = None if wavs else CHALLENGE_SECONDS + (seconds or 30.0)
        opts = EnrollOptions(
            name=name, wavs=[str(w) for w in wavs], mic=not wavs, seconds=seconds or 30.0, device=device,
            consent=consent, force=force, threads=THREADS, report=str(report) if report else None,
            level=_level_callback(task, total), live=lambda checks: task.emit("coach", **checks),
        )  # fmt: skip
        try:
            profile, coach = enroll(opts, echo=lambda message: _echo(task, message))
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        return {
            "profile": profile.name, "stage": profile.stage_kind, "stage_reason": profile.stage_reason,
            "base_voice": profile.base.get("voice"), "consent": profile.consent.mode,
            "coach": json.loads(json.dumps(coach.to_dict())),
            "report": f"/v1/profiles/{name}/report.png" if report is not None and report.is_file() else None,
        }  # fmt: skip

    return work


class _Stop(Exception):
    pass


def mic_level_stream(handler, device: str | None, seconds: float) -> None:
    """``GET /v1/mic/level``: the device microphone's level as server-sent ``level`` events."""
    from edge_vc.enroll.capture import record
    from edge_vc.errors import EdgeVCError
    from edge_vc.serve.http_transport import HttpError

    levels: queue.Queue = queue.Queue(maxsize=256)
    gone = threading.Event()
    last = [-1.0]

    def level(dbfs: float, recorded_s: float) -> None:
        if gone.is_set():
            raise _Stop()
        if recorded_s - last[0] >= LEVEL_EVERY_S:
            last[0] = recorded_s
            try:
                levels.put_nowait({"dbfs": round(dbfs, 1), "seconds": round(recorded_s, 2), "total_s": seconds})
            except queue.Full:
                pass

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            record(seconds, device=device, countdown=0, echo=lambda m: None, meter=False, on_level=level)
        except _Stop:
            pass
        except EdgeVCError as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # PortAudio without a device, and the like
            outcome["error"] = f"cannot read the microphone ({type(exc).__name__}: {exc})"
        finally:
            levels.put(None)

    thread = threading.Thread(target=run, name="edge-vc-mic-level", daemon=True)
    thread.start()
    try:
        first = levels.get(timeout=10)
    except queue.Empty:
        gone.set()
        raise HttpError(503, "the microphone delivered no audio within 10 s") from None
    if first is None:
        raise HttpError(500 if "cannot" not in outcome.get("error", "") else 503, outcome.get("error", "no audio"))
    handler.head(200, {"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    item: dict[str, Any] | None = first
    try:
        while item is not None:
            handler.write(f"event: level\ndata: {json.dumps(item)}\n\n".encode())
            try:
                item = levels.get(timeout=5)
            except queue.Empty:
                outcome.setdefault("error", "the microphone stopped delivering audio")
                item = None
        end = {"error": outcome["error"]} if "error" in outcome else {"done": True}
        handler.write(f"event: end\ndata: {json.dumps(end)}\n\n".encode())
    finally:
        gone.set()
