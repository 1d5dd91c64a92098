"""Malformed server requests: every bad field gets a 400 (or 404/413) with a JSON error naming it.

Runs an in-process server (HTTP and Wyoming on free loopback ports) with the bundled voice; the
requests here are refused before synthesis, so the whole file takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from tests.test_serve import _InProcessServer, _request, _wav

HUGE = 10**400
"""A JSON integer far beyond a float (``float()`` raises OverflowError on it)."""

COMMON_BAD = [None, True, False, ["a"], [], {"a": 1}, {}, [[["deep"]]]]
SPEAK_BAD = {
    "text": [None, 123, 1.5, True, ["hi"], {"text": "hi"}, [[["hi"]]]],
    "voice": [123, 1.5, True, False, ["a"], [], {"name": "joe"}, [[["a"]]], HUGE],
    "ssml": [1.5, 2, "maybe", ["a"], [], {}, {"a": 1}, HUGE],
    "rate": COMMON_BAD + ["fast", "nan", "inf", "-inf", "", HUGE, -HUGE, 1e300, -1, 0, 0.1, 100, "1e400"],
    "volume": COMMON_BAD + ["loud", "nan", "Infinity", HUGE, -0.5, 5, 1e300],
    "speaker": [True, False, 1.5, "x", "1e3", "-1", "", -1, 10**6, HUGE, -HUGE, ["1"], [], {"id": 1}, {}],
    "format": COMMON_BAD + [123, 1.5, "mp3", "wav; rm -rf", HUGE],
    "stream": [None, 2, 1.5, "maybe", ["a"], [], {}, {"a": 1}, HUGE],
    "play": [None, 2, 1.5, "maybe", ["a"], [], {}, {"a": 1}, HUGE],
}
# "speaker": "" means "no speaker" (as in a query string), so it is not malformed.
SPEAK_BAD["speaker"].remove("")
OPENAI_BAD = {
    "input": [None, 123, 1.5, True, ["hi"], [], {"text": "hi"}],
    "voice": [123, 1.5, True, False, ["alloy"], [], {"name": "alloy"}, HUGE],
    "speed": COMMON_BAD + ["fast", "nan", "inf", HUGE],
    "response_format": COMMON_BAD + [123, "mp3", "opus", HUGE],
    "stream_format": [True, False, 1, "sse", "video", ["audio"], [], {}, HUGE],
}


@pytest.fixture(scope="module")
def live(base_voice):
    from edge_vc.serve.engine import EngineConfig
    from edge_vc.serve.http import HttpConfig
    from edge_vc.serve.server import ServeConfig

    engine = EngineConfig(workers=1, max_queue=1, max_text_chars=2000)
    config = ServeConfig(engine, HttpConfig(port=0, read_timeout=2.0), wyoming_port=0)

    def loader(name, threads):  # the session's base voice for the default; real resolution for other names
        from edge_vc.loader import load
        from edge_vc.pipeline import VoicePipeline

        return VoicePipeline(base_voice) if name in (None, "en_US-joe-medium") else load(name, threads=threads)

    with _InProcessServer(config, base_voice, loader) as server:
        yield server


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    for _ in range(100):
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    return data


def _refused(port: int, path: str, body, field: str) -> tuple[int, dict]:
    status, headers, raw = _request(port, "POST", path, body, timeout=30)
    assert headers.get("Content-Type") == "application/json", (field, body, status, raw[:200])
    answer = json.loads(raw)
    message = answer.get("error")
    assert isinstance(message, str) and message, (field, body, answer)
    assert "NoneType" not in message and "argument" not in message and "Traceback" not in message, message
    return status, answer


@pytest.mark.parametrize(("path", "table", "base"), [
    ("/speak", SPEAK_BAD, {"text": "hi"}),
    ("/v1/audio/speech", OPENAI_BAD, {"model": "tts-1", "input": "hi", "voice": "alloy"}),
])  # fmt: skip
def test_every_malformed_field_gets_400_naming_the_field(live, path, table, base):
    port = live.http_port
    failures = []
    for field, values in table.items():
        for value in values:
            status, answer = _refused(port, path, base | {field: value}, field)
            named = field in answer["error"] and answer.get("field") == field
            if status != 400 or not named:
                failures.append((field, repr(value)[:30], status, answer))
    assert not failures, failures
    assert live.engine.status()["served"] == 0, "a malformed request reached synthesis"
    assert _request(port, "GET", "/health")[0] == 200


@pytest.mark.parametrize("body", [b"[1,2,3]", b"null", b"42", b'"hi"', b"true", b"[]"])
def test_json_body_that_is_not_an_object_is_400_not_415(live, body):
    status, answer = _refused(live.http_port, "/speak", body, "body")
    assert status == 400 and "the body must be a JSON object" in answer["error"]


@pytest.mark.parametrize("body", [
    b"[" * 60_000,  # nested past the parser's recursion limit
    b'{"text": "hi", "rate": ' + b"9" * 5000 + b"}",  # an integer beyond Python's 4300-digit limit
    b'{"text": "hi"',
    b'{"text": "\xff\xfe"}',
])  # fmt: skip
def test_broken_json_bodies_are_400(live, body):
    status, answer = _refused(live.http_port, "/speak", body, "body")
    assert status == 400 and "JSON" in answer["error"]


def test_openai_missing_input_names_input(live):
    status, answer = _refused(live.http_port, "/v1/audio/speech", {"model": "tts-1", "voice": "alloy"}, "input")
    assert status == 400 and answer["field"] == "input"
    assert "'input'" in answer["error"] and "'text'" not in answer["error"]


def test_volume_null_names_the_field(live):
    status, answer = _refused(live.http_port, "/speak", {"text": "hi", "volume": None}, "volume")
    assert status == 400 and answer == {"error": "'volume' must be a number, not null", "field": "volume"}


def test_text_over_the_limit_is_413_naming_text(live):
    status, answer = _refused(live.http_port, "/speak", {"text": "x" * 2001}, "text")
    assert status == 413 and answer["field"] == "text" and "2000" in answer["error"]


def test_unknown_voice_from_a_request_has_no_path_hint(live):
    status, answer = _refused(live.http_port, "/speak", {"text": "hi", "voice": "no-such-voice"}, "voice")
    assert status == 404 and answer["field"] == "voice"
    assert "unknown voice 'no-such-voice'" in answer["error"] and "en_US-joe-medium" in answer["error"]
    assert ".onnx" not in answer["error"] and "path" not in answer["error"]


def test_command_line_unknown_voice_keeps_its_path_hint():
    from edge_vc.base_voice.catalog import UnknownVoiceError, resolve_voice
    from edge_vc.errors import VoiceNotFoundError

    with pytest.raises(UnknownVoiceError) as caught:
        resolve_voice("no-such-voice")
    assert isinstance(caught.value, VoiceNotFoundError) and str(caught.value).endswith("(or give a .onnx path)")
    assert not caught.value.message(paths=False).endswith("path)")


def test_query_string_fields_are_checked_too(live):
    port = live.http_port
    plain = {"Content-Type": "text/plain"}
    status, _, raw = _request(port, "POST", "/speak?rate=fast", b"Hello.", plain)
    assert status == 400 and json.loads(raw)["field"] == "rate"
    status, _, raw = _request(port, "POST", "/speak?stream=perhaps", b"Hello.", plain)
    assert status == 400 and json.loads(raw)["field"] == "stream"
    status, headers, raw = _request(port, "POST", "/speak?rate=1.5&format=wav", b"Hello.", plain)
    assert status == 200 and _wav(raw)[0].size > 1000


def test_good_values_of_every_kind_are_accepted(live):
    port = live.http_port
    body = {"text": "Hi.", "voice": None, "ssml": False, "rate": "1.2", "volume": 0.8, "speaker": 0, "stream": False}
    status, _, raw = _request(port, "POST", "/speak", body)
    assert status == 200 and _wav(raw)[0].size > 1000
    body = {"model": "tts-1", "input": "Hi.", "voice": "nova", "speed": 9, "response_format": "pcm"}
    status, headers, raw = _request(port, "POST", "/v1/audio/speech", body)  # speed is clamped, as before
    assert status == 200 and headers["Content-Type"].startswith("audio/L16") and len(raw) > 2000


def test_malformed_wyoming_fields_get_error_events(live):
    from wyoming.client import AsyncTcpClient
    from wyoming.event import Event

    async def exchange(data: dict):
        async with AsyncTcpClient("127.0.0.1", live.wyoming_port) as client:
            await client.write_event(Event(type="synthesize", data=data))
            return await asyncio.wait_for(client.read_event(), 30)

    cases = [
        ({"text": "hi", "voice": {"name": 123}}, "bad-request", "voice.name"),
        ({"text": "hi", "voice": {"name": ["a"]}}, "bad-request", "voice.name"),
        ({"text": "hi", "voice": "joe"}, "bad-request", "voice"),
        ({"text": "hi", "voice": {"speaker": "left"}}, "bad-request", "voice.speaker"),
        ({"text": "hi", "voice": {"speaker": True}}, "bad-request", "voice.speaker"),
        ({"text": ["hi"]}, "bad-text", "text"),
        ({"text": "hi", "voice": {"name": "no-such-voice"}}, "unknown-voice", "no-such-voice"),
    ]
    for data, code, named in cases:
        event = asyncio.run(exchange(data))
        assert event.type == "error" and event.data["code"] == code and named in event.data["text"], (data, event)
        assert ".onnx" not in event.data["text"]


def test_whole_wav_request_is_cancelled_when_the_client_leaves(live):
    port = live.http_port
    text = " ".join(f"Sentence {i} keeps this answer going for a long while." for i in range(30))
    assert len(text) < 2000
    body = json.dumps({"text": text}).encode()
    before = live.engine.status()["served"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST /speak HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.5)
    started = time.monotonic()
    while time.monotonic() - started < 30 and live.engine.status()["served"] == before:
        time.sleep(0.1)
    assert live.engine.status()["served"] == before + 1 and live.engine.status()["running"] == 0
    assert time.monotonic() - started < 10  # saying 30 sentences takes far longer


def test_slow_request_gets_408_and_garbage_gets_json_errors(live):
    port = live.http_port
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST /speak HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")  # ... and never the rest
        sock.settimeout(15)
        reply = _read_all(sock)
    assert b" 408 " in reply and b'"error"' in reply
    for raw, code in [(b"GET / FOO\r\n\r\n", b" 400 "), (b"GET /health HTTP/1.1\r\nBad header\r\n\r\n", b" 400 ")]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(raw)
            reply = _read_all(sock)
        assert code in reply and b"application/json" in reply, reply
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n")
        assert b" 431 " in sock.recv(4096)


def test_engine_checks_requests_from_any_protocol():
    from edge_vc.errors import InvalidTextError
    from edge_vc.render import SpeechRequest
    from edge_vc.serve.request import RequestError, check_request, check_speaker

    for bad, field in [
        (SpeechRequest("hi", voice=123), "voice"),  # was a TypeError in the engine: no reply at all
        (SpeechRequest("hi", voice=["a"]), "voice"),
        (SpeechRequest("hi", rate=None), "rate"),
        (SpeechRequest("hi", volume=float("nan")), "volume"),
        (SpeechRequest("hi", speaker_id=True), "speaker"),
        (SpeechRequest("hi", ssml="yes"), "ssml"),
        (SpeechRequest(None), "text"),
    ]:
        with pytest.raises(RequestError) as caught:
            check_request(bad, 100)
        assert caught.value.field == field and field in str(caught.value)
    with pytest.raises(InvalidTextError):
        check_request(SpeechRequest("  "), 100)
    check_speaker(SpeechRequest("hi", speaker_id=3), num_speakers=4)
    check_speaker(SpeechRequest("hi", speaker_id=9), num_speakers=1)  # a single-speaker voice ignores it
    with pytest.raises(RequestError, match="speakers 0-3"):
        check_speaker(SpeechRequest("hi", speaker_id=4), num_speakers=4)
