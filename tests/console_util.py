"""Helpers of the console tests: a real ``edge-vc serve`` on a free loopback port, HTTP and SSE clients."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO

SAMPLE = REPO / "edge_vc" / "data" / "en_robert.wav"


@contextmanager
def own_null_sink(name: str) -> Iterator[str]:
    """A PulseAudio null sink of one test's own (other audio stays out of its monitor); yields its name."""
    loaded = subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={name}"],
                            capture_output=True, text=True, timeout=20)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    try:
        yield name
    finally:
        subprocess.run(["pactl", "unload-module", loaded.stdout.strip()], capture_output=True, timeout=20)


class Server:
    """``python -m edge_vc serve --no-wyoming`` with its own EDGE_VC_HOME; ``url``, ``port``, ``home``."""

    def __init__(
        self, home: Path, *extra: str, prelude: str | None = None, timeout: float = 120.0, env: dict | None = None
    ) -> None:
        self.home = home
        env = dict(os.environ, **(env or {}), EDGE_VC_HOME=str(home))
        cli = ["serve", "--port", "0", "--no-wyoming", "--threads", "1", "--workers", "1", "--max-queue", "2", *extra]
        if prelude:  # e.g. hide a package: the server then runs without it
            cmd = [sys.executable, "-c", f"{prelude}\nfrom edge_vc.cli import main\nmain()", *cli]
        else:
            cmd = [sys.executable, "-m", "edge_vc", *cli]
        self.proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stderr], [], [], 1.0)
            if ready:
                line = self.proc.stderr.readline()
                match = re.search(rb"HTTP on http://[\d.]+:(\d+)", line)
                if match:
                    self.port = int(match.group(1))
                    self.url = f"http://127.0.0.1:{self.port}"
                    return
        self.proc.kill()
        raise RuntimeError(f"server did not start: {line!r}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 120.0):
        """(status, headers, body bytes); a dict body is sent as JSON."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            kind = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
            conn.request(method, path, body=data, headers={**kind, **(headers or {})})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body=None, headers=None, timeout: float = 120.0):
        status, _, data = self.request(method, path, body, headers, timeout)
        return status, json.loads(data) if data else None

    def events(self, path: str, timeout: float = 300.0) -> list[dict]:
        """Every server-sent event of ``path`` until the stream ends (the last is ``end``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Accept": "text/event-stream"})
            response = conn.getresponse()
            assert response.status == 200, response.read()
            assert response.getheader("Content-Type") == "text/event-stream"
            events, kind = [], None
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append({"type": kind, **json.loads(line[6:])})
            return events
        finally:
            conn.close()

    def wait(self, path: str, timeout: float = 300.0) -> dict:
        """Poll a task's JSON snapshot until it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, snap = self.json("GET", path)
            assert status == 200, snap
            if snap["state"] != "running":
                return snap
            time.sleep(0.5)
        raise AssertionError(f"{path} still running after {timeout} s")
