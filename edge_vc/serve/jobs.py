"""Long jobs of the installer console (enrollment, adaptation, bench): one at a time, followed as events.

A :class:`Task` collects events (``log``, ``level``, ``finding``, ``progress``, …) that the console
streams as server-sent events or answers as a JSON snapshot. :class:`LongJobs` runs at most one task
at a time (a second is refused with :class:`JobBusy`, HTTP 409), so a long job never takes more than
its own threads from the speech workers. Adaptation runs ``edge-vc adapt`` in a child process at
lower priority (``nice``) with ``--threads`` (default 1): PyTorch never loads into the server.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_vc.errors import EdgeVCError

_LOGGER = logging.getLogger(__name__)
MAX_EVENTS = 5000
"""Events kept per task (level events of a 2-minute recording are ~1200)."""


class JobBusy(EdgeVCError):
    """Another long job is running; the console runs one at a time."""


class Task:
    """One long job: its events, its state (``running``, ``done``, ``failed``) and its result."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        self.events: list[dict[str, Any]] = []
        self.state = "running"
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.cancelled = threading.Event()
        self.started = time.time()
        self._t0 = time.monotonic()
        self._cond = threading.Condition()
        self._process: subprocess.Popen | None = None
        self.log_tail: list[str] = []
        self.returncode: int | None = None

    def emit(self, event: str, **data: Any) -> None:
        with self._cond:
            if len(self.events) < MAX_EVENTS:
                self.events.append({"event": event, "t": round(time.monotonic() - self._t0, 2), **data})
            self._cond.notify_all()

    def finish(self, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self._cond:
            self.state = "failed" if error else "done"
            self.result, self.error = result, error
            self._cond.notify_all()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def follow(self, start: int = 0, wait: float = 1.0) -> tuple[list[dict[str, Any]], bool]:
        """(events from index ``start``, whether the task has ended), waiting up to ``wait`` s for news."""
        with self._cond:
            if len(self.events) <= start and self.running:
                self._cond.wait(wait)
            return self.events[start:], not self.running

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {
                "kind": self.kind, "name": self.name, "state": self.state, "result": self.result,
                "error": self.error, "seconds": round(time.monotonic() - self._t0, 1), "events": list(self.events),
            }  # fmt: skip

    def cancel(self) -> None:
        self.cancelled.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()


class LongJobs:
    """At most one long job at a time; the latest task of each (kind, name) stays for its followers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Task | None = None
        self._last: dict[tuple[str, str], Task] = {}

    def start(self, kind: str, name: str, work: Callable[[Task], dict[str, Any]]) -> Task:
        with self._lock:
            if self.current is not None and self.current.running:
                running = self.current
                raise JobBusy(f"{running.kind} of {running.name!r} is running; the console runs one long job at a time")
            task = Task(kind, name)
            self.current = task
            self._last[(kind, name)] = task
        threading.Thread(target=self._run, args=(task, work), name=f"edge-vc-{kind}", daemon=True).start()
        return task

    def get(self, kind: str, name: str) -> Task | None:
        with self._lock:
            return self._last.get((kind, name))

    def forget(self, name: str) -> None:
        with self._lock:
            for key in [k for k, t in self._last.items() if k[1] == name and not t.running]:
                del self._last[key]

    def close(self) -> None:
        with self._lock:
            task = self.current
        if task is not None and task.running:
            task.cancel()

    @staticmethod
    def _run(task: Task, work: Callable[[Task], dict[str, Any]]) -> None:
        try:
            task.finish(result=work(task))
        except EdgeVCError as exc:
            task.finish(error=str(exc))
        except Exception as exc:  # never lose a task in a silent thread
            _LOGGER.exception("%s of %s failed", task.kind, task.name)
            task.finish(error=f"{task.kind} failed ({type(exc).__name__}: {exc}); see the server log")


# ---------------------------------------------------------------- adaptation (edge-vc adapt in a child)

_STEP_LINE = re.compile(r"adapting: step (\d+)/(\d+) \((\d+)%\), loss ([-\d.naninf]+), (\d+) s")


def torch_available() -> bool:
    """Whether ``edge-vc adapt`` can run here (PyTorch installed), found without importing it."""
    return importlib.util.find_spec("torch") is not None


def adapt_command(name: str, steps: int, minutes: float, threads: int, replay_minutes: float) -> list[str]:
    """The ``edge-vc adapt`` command line the console runs (under ``nice`` where available)."""
    command = [
        sys.executable, "-m", "edge_vc", "adapt", name, "--steps", str(steps), "--minutes", str(minutes),
        "--threads", str(threads), "--replay-minutes", str(replay_minutes), "--json",
    ]  # fmt: skip
    nice = shutil.which("nice")
    return [nice, "-n", "10", *command] if nice else command


def bench_command(json_path: Path, plot_path: Path) -> list[str]:
    """``edge-vc bench --quick`` writing its JSON results and plot (under ``nice`` where available)."""
    command = [sys.executable, "-m", "edge_vc", "bench", "--quick", "--json", str(json_path), "--plot", str(plot_path)]
    nice = shutil.which("nice")
    return [nice, "-n", "10", *command] if nice else command


def run_command(task: Task, command: list[str], threads: int, on_line: Callable[[str], bool] | None = None) -> str:
    """Run an ``edge-vc`` command as a child; its stderr lines become ``log`` events (unless ``on_line``
    takes them, returning True), its stdout is returned. Stopping the task terminates the child."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    log_lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, bufsize=1
    ) as process:
        task._process = process
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.extend(process.stdout or []), daemon=True)
        reader.start()
        for line in process.stderr or []:
            line = line.rstrip()
            if not line or (on_line is not None and on_line(line)):
                continue
            log_lines.append(line)
            task.emit("log", message=line, phase=_phase(line))
        process.wait()
        reader.join(5)
    if task.cancelled.is_set():
        raise EdgeVCError(f"{task.kind} was cancelled (the server is stopping)")
    task.log_tail = log_lines[-5:]
    task.returncode = process.returncode
    return "".join(out)


def run_adaptation(task: Task, command: list[str], threads: int) -> dict[str, Any]:
    """Run ``edge-vc adapt`` and turn its progress lines into ``progress`` events; returns its status."""
    first: list[tuple[float, int]] = []

    def progress(line: str) -> bool:
        match = _STEP_LINE.search(line)
        if not match:
            return False
        step, total, now = int(match.group(1)), int(match.group(2)), time.monotonic()
        remaining = None
        if not first:
            first.append((now, step))
        elif step > first[0][1]:
            per_step = (now - first[0][0]) / (step - first[0][1])
            remaining = round(per_step * (total - step), 1)
        task.emit("progress", step=step, total=total, loss=float(match.group(4)), remaining_s=remaining)
        if step == total:
            task.emit("log", message="training done; exporting the decoder and checking the quality gate",
                      phase="gate")  # fmt: skip
        return True

    text = run_command(task, command, threads, progress).strip()
    try:
        status = json.loads(text) if text else None
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise EdgeVCError(f"adaptation failed: {_failure(task)}")
    return status


def _failure(task: Task) -> str:
    tail = task.log_tail
    return next((line for line in reversed(tail) if "error" in line.lower()), None) or (
        tail[-1] if tail else f"exit code {task.returncode}"
    )


def _phase(line: str) -> str:
    if line.startswith("preparing"):
        return "features"
    if line.startswith("training") or line.startswith("resuming"):
        return "training"
    return "log"


def verdict(status: dict[str, Any], stage_in_use: str) -> str:
    """The gate's verdict in words, as the page shows it."""
    gate = status.get("gate") or {}
    measured = []
    if gate.get("wer") is not None:
        measured.append(f"probe WER {gate['wer']:.0%}")
    if gate.get("similarity") is not None and gate.get("similarity_base_voice") is not None:
        measured.append(f"similarity {gate['similarity']:.3f} vs the base voice's {gate['similarity_base_voice']:.3f}")
    kind = status.get("status")
    text = {
        "ready": "Passed the quality gate",
        "rejected": "Did not pass the quality gate",
        "partial": "Stopped before the last step (time budget); run it again to resume",
    }.get(str(kind), f"Ended as {kind}")
    if measured:
        text += f" ({'; '.join(measured)})"
    if kind == "rejected" and gate.get("reasons"):
        text += ": " + "; ".join(gate["reasons"])
    return f"{text}. The profile now speaks through the {stage_in_use} stage."


def profile_dir_of(name: str) -> Path:
    from edge_vc.profiles.profile import profile_path

    return profile_path(name)
