"""``edge-vc serve``: real Wyoming and HTTP exchanges on loopback with the real voice.

Every loop here is bounded in count and time, and the server subprocess is stopped by its pid.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest

from tests.conftest import REPO

SENTENCE = "The kitchen light is on and the front door is locked."


def _start_server(*extra: str, timeout: float = 120.0):
    """``python -m edge_vc serve`` on free loopback ports; returns (process, http_port, wyoming_port)."""
    cmd = [sys.executable, "-m", "edge_vc", "serve", "--port", "0", "--wyoming-port", "0", "--threads", "1", *extra]
    proc = subprocess.Popen(cmd, cwd=str(REPO), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            line = proc.stderr.readline()
            match = re.search(rb"HTTP on http://[\d.]+:(\d+), Wyoming on tcp://[\d.]+:(\d+)", line)
            if match:
                return proc, int(match.group(1)), int(match.group(2))
    proc.kill()
    raise RuntimeError(f"server did not start: {line!r}")


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def _request(port, method, path, body=None, headers=None, timeout=120.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        rate = wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32767.0, rate


def _assert_speech(audio: np.ndarray, rate: int, words: int) -> None:
    seconds = len(audio) / rate
    assert 0.15 * words < seconds < 1.0 * words + 1.0, f"{seconds:.2f} s for {words} words"
    assert float(np.sqrt(np.mean(audio**2))) > 0.02, "audio is (nearly) silent"


@pytest.fixture(scope="module")
def server():
    proc, http_port, wyoming_port = _start_server("--workers", "1", "--max-queue", "2", "--max-text", "3000")
    try:
        yield proc, http_port, wyoming_port
    finally:
        _stop(proc)


def test_health_and_voices(server):
    _, port, _ = server
    status, _, body = _request(port, "GET", "/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["queue"]["capacity"] == 3
    status, _, body = _request(port, "GET", "/voices")
    assert status == 200 and "en_US-joe-medium" in [v["name"] for v in json.loads(body)["voices"]]


def test_http_wav_round_trip_is_intelligible_speech(server, asr):
    _, port, _ = server
    status, headers, body = _request(port, "POST", "/speak", {"text": SENTENCE})
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    audio, rate = _wav(body)
    _assert_speech(audio, rate, len(SENTENCE.split()))
    assert asr.wer(audio, rate, SENTENCE) <= 0.3


def test_http_streams_chunked_wav_and_openai_endpoint(server):
    _, port, _ = server
    text = "First sentence here. Second sentence follows. Third one ends it."
    status, headers, body = _request(port, "POST", "/speak", {"text": text, "stream": True})
    assert status == 200 and headers.get("Transfer-Encoding") == "chunked"
    assert body[:4] == b"RIFF" and body[36:40] == b"data"
    audio = np.frombuffer(body[44:], dtype=np.int16).astype(np.float32) / 32767.0
    _assert_speech(audio, int(headers["X-Sample-Rate"]), len(text.split()))
    status, headers, body = _request(
        port, "POST", "/v1/audio/speech", {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "speed": 1.0}
    )
    assert status == 200
    _assert_speech(*_wav(body), 2)
    status, _, _ = _request(port, "POST", "/v1/audio/speech", {"input": "x", "response_format": "mp3"})
    assert status == 400


def test_http_refuses_bad_requests_cleanly(server):
    _, port, _ = server
    assert _request(port, "POST", "/speak", {"text": "x" * 3001})[0] == 413
    assert _request(port, "POST", "/speak", b"x" * (65 * 1024), {"Content-Type": "text/plain"})[0] == 413
    assert _request(port, "POST", "/speak", b"{not json")[0] == 400
    assert _request(port, "POST", "/speak", {"text": "   "})[0] == 400
    assert _request(port, "POST", "/speak", {"text": "hi", "voice": "no-such-voice"})[0] == 404
    model = str(REPO / "no" / "such.onnx")
    status, _, body = _request(port, "POST", "/speak", {"text": "hi", "voice": model})
    assert status == 404 and b"never a file path" in body
    assert _request(port, "POST", "/speak", {"text": "hi", "rate": "fast"})[0] == 400
    assert _request(port, "GET", "/nothing")[0] == 404
    assert _request(port, "GET", "/speak")[0] == 405
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        assert b" 400 " in sock.recv(200)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
        assert b" 431 " in sock.recv(200)
    assert _request(port, "GET", "/health")[0] == 200


async def _wyoming_exchange(port: int, text: str, voice: str | None = None):
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info
    from wyoming.tts import Synthesize, SynthesizeVoice

    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await asyncio.wait_for(client.read_event(), 30))
        await client.write_event(Synthesize(text, voice=SynthesizeVoice(voice) if voice else None).event())
        events, pcm, rate = [], b"", None
        for _ in range(100_000):
            event = await asyncio.wait_for(client.read_event(), 60)
            events.append(event.type)
            if AudioStart.is_type(event.type):
                rate = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                pcm += AudioChunk.from_event(event).audio
            elif AudioStop.is_type(event.type) or event.type == "error":
                return info, events, pcm, rate, event
    raise AssertionError("no audio-stop")


def test_wyoming_client_exchange(server, asr):
    _, _, port = server
    info, events, pcm, rate, last = asyncio.run(_wyoming_exchange(port, SENTENCE, "en_US-joe-medium"))
    assert info.tts and "en_US-joe-medium" in [v.name for v in info.tts[0].voices]
    assert events[0] == "audio-start" and events[-1] == "audio-stop" and events.count("audio-chunk") >= 3
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32767.0
    _assert_speech(audio, rate, len(SENTENCE.split()))
    assert asr.wer(audio, rate, SENTENCE) <= 0.3
    _, events, _, _, last = asyncio.run(_wyoming_exchange(port, "Hello.", "no-such-voice"))
    assert events == ["error"] and last.data["code"] == "unknown-voice"


def test_wyoming_oversized_event_is_refused_and_server_survives(server):
    _, http_port, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(json.dumps({"type": "synthesize", "data_length": 10**9}).encode() + b"\n")
        reply = sock.recv(4096)
        assert b'"error"' in reply or b"protocol" in reply
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"x" * 40_000 + b"\n")
        sock.recv(4096)
    assert _request(http_port, "GET", "/health")[0] == 200


def _burst(http_port: int, wyoming_port: int, text: str) -> list:
    """20 clients at once (15 HTTP, 5 Wyoming); returns (protocol, status or code, audio bytes) each."""
    results: list = []
    lock = threading.Lock()

    def http_client() -> None:
        try:
            status, _, body = _request(http_port, "POST", "/speak", {"text": text}, timeout=180)
            outcome = ("http", status, len(body))
        except Exception as exc:  # noqa: BLE001 - counted as unanswered
            outcome = ("http", repr(exc), 0)
        with lock:
            results.append(outcome)

    def wyoming_client() -> None:
        try:
            _, events, pcm, _, last = asyncio.run(_wyoming_exchange(wyoming_port, text))
            outcome = ("wyoming", last.type if last.type != "error" else last.data.get("code"), len(pcm))
        except Exception as exc:  # noqa: BLE001
            outcome = ("wyoming", repr(exc), 0)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=http_client if i % 4 else wyoming_client) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.slow
def test_twenty_concurrent_clients_with_queue_full(server):
    proc, http_port, wyoming_port = server
    text = " ".join([SENTENCE] * 3)
    # Warm up first (a longer request, then one burst): onnxruntime and the allocator keep their
    # high-water marks, so memory is measured from that plateau; it must not grow burst after burst.
    assert _request(http_port, "POST", "/speak", {"text": " ".join([SENTENCE] * 6)})[0] == 200
    _burst(http_port, wyoming_port, text)
    baseline = _rss_mb(proc.pid)
    for _ in range(2):
        results = _burst(http_port, wyoming_port, text)
        assert len(results) == 20
        answered = [r for r in results if r[1] in (200, "audio-stop") and r[2] > 10_000]
        refused = [r for r in results if r[1] in (503, "busy")]
        assert len(answered) + len(refused) == 20, results
        assert len(answered) >= 3 and len(refused) >= 1, results
        assert proc.poll() is None
    health = json.loads(_request(http_port, "GET", "/health")[2])
    assert health["queue"]["running"] == 0 and health["queue"]["waiting"] == 0
    assert health["queue"]["refused"] >= 2
    assert _rss_mb(proc.pid) - baseline < 25.0


def test_client_disconnect_mid_stream_cancels_the_job(server):
    _, port, _ = server
    long_text = " ".join(f"This is sentence number {i} of a long story that nobody will hear." for i in range(40))
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    body = json.dumps({"text": long_text, "stream": True}).encode()
    sock.sendall(
        b"POST /speak HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    first = sock.recv(65536)
    assert b" 200 " in first
    sock.close()
    started = time.monotonic()
    idle = False
    while time.monotonic() - started < 20:
        queue = json.loads(_request(port, "GET", "/health")[2])["queue"]
        if queue["running"] == 0 and queue["waiting"] == 0:
            idle = True
            break
        time.sleep(0.2)
    cancelled_after = time.monotonic() - started
    assert idle, "job still running after the client left"
    # Saying all 40 sentences takes far longer than this: the job stopped early.
    assert cancelled_after < 8.0
    assert _request(port, "POST", "/speak", {"text": "Still here."})[0] == 200


def test_remote_bind_needs_flag_and_token(run_cli):
    from edge_vc.serve.server import BindError, check_bind, is_loopback

    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    with pytest.raises(BindError):
        check_bind("0.0.0.0", allow_remote=False, token=None)
    with pytest.raises(BindError):
        check_bind("0.0.0.0", allow_remote=True, token="short")
    check_bind("0.0.0.0", allow_remote=True, token="a-long-enough-token-123")
    result = run_cli("serve", "--host", "0.0.0.0", "--port", "0", timeout=60)
    assert result.returncode == 11 and b"--allow-remote" in result.stderr


class _InProcessServer:
    """A Server on this process's own event loop thread (for options the CLI test server lacks)."""

    def __init__(self, config, base_voice, loader=None) -> None:
        from edge_vc.pipeline import VoicePipeline
        from edge_vc.serve.server import Server

        self.server = Server(config, loader=loader or (lambda name, threads: VoicePipeline(base_voice)))
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.start())
        self.started.set()
        self.loop.run_until_complete(self.server.serve_forever())

    def __enter__(self):
        self.thread.start()
        assert self.started.wait(60)
        return self.server

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.server.stop)
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_token_is_required_when_set(base_voice):
    from edge_vc.serve.engine import EngineConfig
    from edge_vc.serve.http import HttpConfig
    from edge_vc.serve.server import ServeConfig

    token = "secret-token-0123456789"
    config = ServeConfig(EngineConfig(workers=1, max_queue=1), HttpConfig(port=0, token=token), wyoming_port=None)
    with _InProcessServer(config, base_voice) as server:
        port = server.http_port
        assert _request(port, "GET", "/health")[0] == 200
        assert _request(port, "GET", "/voices")[0] == 401
        assert _request(port, "GET", "/voices", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert _request(port, "GET", "/voices", headers={"Authorization": f"Bearer {token}"})[0] == 200
        status, _, body = _request(port, "POST", "/speak", {"text": "Hi."}, {"Authorization": f"Bearer {token}"})
        assert status == 200 and _wav(body)[0].size > 1000


@pytest.mark.device
def test_http_play_reaches_the_local_speaker(pulse_audio, base_voice):
    import sounddevice as sd

    from edge_vc.serve.engine import EngineConfig
    from edge_vc.serve.http import HttpConfig
    from edge_vc.serve.server import ServeConfig

    http = HttpConfig(port=0, device=pulse_audio)
    config = ServeConfig(EngineConfig(workers=1, max_queue=1), http, wyoming_port=None)
    frames: list[np.ndarray] = []
    with _InProcessServer(config, base_voice) as server:
        with sd.InputStream(
            device=pulse_audio, samplerate=16000, channels=1, dtype="float32",
            callback=lambda indata, *_: frames.append(indata[:, 0].copy()),
        ):  # fmt: skip
            time.sleep(0.3)
            status, _, body = _request(server.http_port, "POST", "/speak", {"text": SENTENCE, "play": True})
            time.sleep(0.5)
    assert status == 200
    played = json.loads(body)["played_seconds"]
    assert 1.5 < played < 8.0
    recorded = np.concatenate(frames)
    assert float(np.sqrt(np.mean(recorded**2))) > 0.01, "nothing reached the device"


def test_voices_list_enrolled_profiles_for_http_and_wyoming(tmp_path, monkeypatch):
    from wyoming.info import Info

    from edge_vc.serve.server import list_voices
    from edge_vc.serve.wyoming import tts_info

    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path))
    (tmp_path / "profiles" / "grandma").mkdir(parents=True)
    (tmp_path / "profiles" / "grandma" / "profile.yaml").write_text("name: grandma\n")
    (tmp_path / "profiles" / "not-a-profile").mkdir()
    voices = {v["name"]: v["kind"] for v in list_voices()}
    assert voices == {"en_US-joe-medium": "voice", "en_US-joe-medium.int8": "voice", "grandma": "profile"}
    info = Info.from_event(tts_info(list_voices()))
    assert sorted(v.name for v in info.tts[0].voices) == ["en_US-joe-medium", "en_US-joe-medium.int8", "grandma"]


async def _wyoming_stream(port: int, pieces: list[str]):
    from wyoming.audio import AudioChunk
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart().event())
        for piece in pieces:
            await client.write_event(SynthesizeChunk(piece).event())
        await client.write_event(Synthesize("".join(pieces)).event())  # compatibility copy: must be ignored
        await client.write_event(SynthesizeStop().event())
        events, pcm = [], b""
        for _ in range(100_000):
            event = await asyncio.wait_for(client.read_event(), 60)
            events.append(event.type)
            if AudioChunk.is_type(event.type):
                pcm += AudioChunk.from_event(event).audio
            if event.type in ("synthesize-stopped", "error"):
                return events, pcm
    raise AssertionError("no synthesize-stopped")


def test_wyoming_streamed_text_is_spoken_sentence_by_sentence(server, asr):
    from wyoming.info import Describe, Info

    _, _, port = server

    async def describe():
        from wyoming.client import AsyncTcpClient

        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            return Info.from_event(await asyncio.wait_for(client.read_event(), 30))

    assert asyncio.run(describe()).tts[0].supports_synthesize_streaming
    events, pcm = asyncio.run(_wyoming_stream(port, ["Hello there. How", " are you today? Fi", "ne thanks"]))
    assert events[-1] == "synthesize-stopped"
    assert events.count("audio-start") == 3 and events.count("audio-stop") == 3
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32767.0
    assert asr.wer(audio, 22050, "Hello there. How are you today? Fine thanks") <= 0.25


@pytest.mark.slow
def test_client_that_stops_reading_is_dropped_and_its_job_cancelled(base_voice):
    from edge_vc.serve.engine import EngineConfig
    from edge_vc.serve.http import HttpConfig
    from edge_vc.serve.server import ServeConfig

    engine = EngineConfig(workers=1, max_queue=1, stall_seconds=2.0)
    config = ServeConfig(engine, HttpConfig(port=0, write_timeout=2.0), wyoming_port=None)
    text = " ".join(f"Sentence {i} keeps the stream going for a long time." for i in range(60))
    with _InProcessServer(config, base_voice) as server:
        port = server.http_port
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        body = json.dumps({"text": text, "stream": True}).encode()
        head = f"POST /speak HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        sock.sendall(head + body)  # ... and never read
        started = time.monotonic()
        idle = False
        while time.monotonic() - started < 60:
            queue = json.loads(_request(port, "GET", "/health")[2])["queue"]
            if queue["served"] >= 1 and queue["running"] == 0:
                idle = True
                break
            time.sleep(0.3)
        sock.close()
        assert idle, "the stalled client's job never ended"
        assert time.monotonic() - started < 40  # 60 sentences take far longer to say
        assert _request(port, "POST", "/speak", {"text": "Next please."})[0] == 200
