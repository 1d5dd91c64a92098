"""A small HTTP/1.1 API on asyncio (stdlib only): speak, WAV, streamed PCM, voices, health.

One request per connection (``Connection: close``); request line, headers and body are size-limited
and read under a timeout; connections beyond ``max_connections`` get 503 at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import socket
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import EdgeVCError, InvalidTextError, VoiceNotFoundError
from .engine import BusyError, Job, SpeechEngine, SpeechRequest

_LOGGER = logging.getLogger(__name__)
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            408: "Request Timeout", 411: "Length Required", 413: "Payload Too Large",
            415: "Unsupported Media Type", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip
_OPENAI_SPEED = (0.25, 4.0)
_OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"}
"""OpenAI's built-in voice names: they select the server's default voice."""


@dataclass
class HttpConfig:
    """Where and how the HTTP API listens."""

    host: str = "127.0.0.1"
    port: int | None = 5500
    """None disables the HTTP server; 0 picks a free port."""

    token: str | None = None
    """Bearer token required on every endpoint but /health (required for non-loopback binds)."""

    max_body_bytes: int = 64 * 1024
    max_connections: int = 32
    read_timeout: float = 10.0
    write_timeout: float = 30.0
    """A client that accepts no data for this long is disconnected (its job is cancelled)."""

    device: str | None = None
    """Output device for ``"play": true`` (index or name; None: the default device)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["token"] = "***" if self.token else None
        return data

    def validate(self) -> None:
        if self.port is not None and not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range")
        if self.max_body_bytes < 256 or self.max_connections < 1 or self.read_timeout <= 0:
            raise ValueError("max_body_bytes >= 256, max_connections >= 1 and read_timeout > 0 are required")


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def params(self) -> dict[str, Any]:
        """JSON object body, or plain-text body as ``text``, merged over the query string."""
        params: dict[str, Any] = dict(self.query)
        if not self.body:
            return params
        kind = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("", "application/json", "application/x-www-form-urlencoded") and self.body.lstrip()[:1] == b"{":
            try:
                data = json.loads(self.body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise HttpError(400, f"body is not valid JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise HttpError(400, "JSON body must be an object")
            params.update(data)
        elif kind in ("", "text/plain", "application/ssml+xml"):
            try:
                params["text"] = self.body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HttpError(400, "text body must be UTF-8") from exc
            if kind == "application/ssml+xml":
                params["ssml"] = True
        else:
            raise HttpError(415, f"unsupported content type '{kind}'; send JSON or text/plain")
        return params


async def read_request(reader: asyncio.StreamReader, max_body: int) -> Request | None:
    """Parse one request; None when the client closed without sending one."""
    try:
        line = await reader.readline()
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise HttpError(431, "request line too long") from exc
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise HttpError(400, "malformed request line")
    method, target = parts[0].upper(), parts[1]
    headers: dict[str, str] = {}
    for _ in range(101):
        try:
            raw = await reader.readline()
        except (ValueError, asyncio.LimitOverrunError) as exc:
            raise HttpError(431, "header line too long") from exc
        if raw in (b"\r\n", b"\n", b""):
            break
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise HttpError(400, "malformed header")
        headers[name.strip().lower()] = value.strip()
    else:
        raise HttpError(431, "too many headers")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise HttpError(411, "chunked request bodies are not accepted; send Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise HttpError(400, "bad Content-Length") from exc
    if length < 0:
        raise HttpError(400, "bad Content-Length")
    if length > max_body:
        raise HttpError(413, f"request body is {length} bytes; at most {max_body} accepted")
    body = await reader.readexactly(length) if length else b""
    url = urlsplit(target)
    return Request(method, url.path.rstrip("/") or "/", dict(parse_qsl(url.query)), headers, body)


SEND_BUFFER_BYTES = 256 * 1024
WRITE_TIMEOUT = 30.0
"""A client that takes longer than this to accept written data is dropped."""


async def drain(writer: asyncio.StreamWriter, seconds: float = WRITE_TIMEOUT) -> None:
    """``writer.drain()`` with a deadline; a stalled reader's connection is aborted (ConnectionError)."""
    try:
        await asyncio.wait_for(writer.drain(), seconds)
    except (asyncio.TimeoutError, TimeoutError) as exc:
        writer.transport.abort()
        raise ConnectionError("client stopped reading") from exc


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")


class HttpApi:
    """Routes requests to the engine; one instance per server."""

    def __init__(self, engine: SpeechEngine, config: HttpConfig, voices) -> None:
        config.validate()
        self.engine, self.config, self.voices = engine, config, voices
        self._connections = 0
        self._device_lock = asyncio.Lock()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:  # bound what one slow reader can park in the kernel (~6 s of audio)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        try:
            if self._connections > self.config.max_connections:
                await self._send_json(writer, 503, {"error": "too many connections"}, {"Retry-After": "1"})
                return
            try:
                request = await asyncio.wait_for(
                    read_request(reader, self.config.max_body_bytes), self.config.read_timeout
                )
                if request is None:
                    return
                await self._route(request, writer)
            except HttpError as exc:
                await self._send_json(writer, exc.status, {"error": exc.message}, exc.headers)
            except (asyncio.TimeoutError, TimeoutError):
                await self._send_json(writer, 408, {"error": "request not received in time"})
            except asyncio.IncompleteReadError:
                await self._send_json(writer, 400, {"error": "body shorter than Content-Length"})
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # never let one request take the server down
            _LOGGER.exception("request failed")
        finally:
            self._connections -= 1
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2.0)
            except (Exception, asyncio.CancelledError):
                pass

    def _authorised(self, request: Request) -> bool:
        if not self.config.token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.config.token}".encode())

    async def _route(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if request.path == "/health":
            body = {"status": "ok", "voices_loaded": self.engine.loaded_voices(), "queue": self.engine.status()}
            await self._send_json(writer, 200, body)
            return
        if not self._authorised(request):
            raise HttpError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        if request.path == "/voices" and request.method == "GET":
            await self._send_json(writer, 200, {"voices": self.voices()})
        elif request.path == "/speak" and request.method == "POST":
            await self._speak(request.params(), writer)
        elif request.path == "/v1/audio/speech" and request.method == "POST":
            await self._openai(request.params(), writer)
        elif request.path in ("/voices", "/speak", "/v1/audio/speech"):
            raise HttpError(405, f"{request.method} is not allowed on {request.path}")
        else:
            raise HttpError(404, f"no endpoint {request.path}")

    def _submit(self, params: dict[str, Any]) -> Job:
        text = params.get("text")
        if not isinstance(text, str):
            raise HttpError(400, "give the text to say as 'text' (JSON) or as a text/plain body")
        try:
            speaker = params.get("speaker")
            request = SpeechRequest(
                text=text,
                voice=params.get("voice") or None,
                ssml=_bool(params["ssml"]) if "ssml" in params else None,
                rate=float(params.get("rate", 1.0)),
                volume=float(params.get("volume", 1.0)),
                speaker_id=int(speaker) if speaker not in (None, "") else None,
            )
        except (TypeError, ValueError) as exc:
            raise HttpError(400, f"bad parameter: {exc}") from exc
        if len(text) > self.engine.config.max_text_chars:
            raise HttpError(413, f"text is {len(text)} characters; at most {self.engine.config.max_text_chars}")
        try:
            return self.engine.submit(request)
        except BusyError as exc:
            raise HttpError(503, str(exc), {"Retry-After": "1"}) from exc
        except InvalidTextError as exc:
            raise HttpError(400, str(exc)) from exc
        except VoiceNotFoundError as exc:
            raise HttpError(404, str(exc)) from exc

    async def _first(self, job: Job):
        """The first chunk, mapping synthesis errors to HTTP errors before any header is sent."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, job.next_chunk)
        except VoiceNotFoundError as exc:
            raise HttpError(404, str(exc)) from exc
        except InvalidTextError as exc:
            raise HttpError(400, str(exc)) from exc
        except EdgeVCError as exc:
            raise HttpError(500, str(exc)) from exc

    async def _speak(self, params: dict[str, Any], writer: asyncio.StreamWriter, fmt: str | None = None) -> None:
        fmt = (fmt or str(params.get("format", "wav"))).lower()
        if fmt not in ("wav", "pcm"):
            raise HttpError(400, f"format '{fmt}' is not supported; use wav or pcm")
        play = _bool(params.get("play", False))
        stream = _bool(params.get("stream", False))
        job = self._submit(params)
        try:
            first = await self._first(job)
            if play:
                await self._play(job, first, writer)
            elif stream:
                await self._stream(job, first, writer, fmt)
            else:
                await self._whole(job, first, writer, fmt)
        finally:
            job.cancel()

    async def _openai(self, params: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        fmt = str(params.get("response_format", "wav")).lower()
        if fmt not in ("wav", "pcm"):
            raise HttpError(400, f"response_format '{fmt}' is not supported offline; use wav or pcm")
        speed = params.get("speed", 1.0)
        try:
            speed = min(max(float(speed), _OPENAI_SPEED[0]), _OPENAI_SPEED[1])
        except (TypeError, ValueError) as exc:
            raise HttpError(400, "speed must be a number") from exc
        voice = params.get("voice")
        default = voice in (None, "", "default") or voice in _OPENAI_VOICES
        mapped = {"text": params.get("input"), "voice": None if default else voice}
        await self._speak(mapped | {"rate": speed, "stream": params.get("stream_format") == "audio"}, writer, fmt)

    async def _collect(self, job: Job, first) -> list:
        loop = asyncio.get_running_loop()
        chunks = [first] if first is not None else []
        while chunks and (chunk := await loop.run_in_executor(None, job.next_chunk)) is not None:
            chunks.append(chunk)
        return chunks

    async def _whole(self, job: Job, first, writer: asyncio.StreamWriter, fmt: str) -> None:
        import numpy as np

        from ..audio.io import wav_bytes
        from ..audio.sinks import int16_bytes

        chunks = await self._collect(job, first)
        rate = chunks[0].sample_rate
        audio = np.concatenate([c.audio for c in chunks])
        body = wav_bytes(audio, rate) if fmt == "wav" else int16_bytes(audio)
        kind = "audio/wav" if fmt == "wav" else f"audio/L16; rate={rate}; channels=1"
        headers = {"Content-Type": kind, "X-Sample-Rate": str(rate), "X-Audio-Seconds": f"{len(audio) / rate:.3f}"}
        await self._send(writer, 200, body, headers)

    async def _stream(self, job: Job, first, writer: asyncio.StreamWriter, fmt: str) -> None:
        from ..audio.sinks import streaming_wav_header

        loop = asyncio.get_running_loop()
        rate = first.sample_rate
        kind = "audio/wav" if fmt == "wav" else f"audio/L16; rate={rate}; channels=1"
        head = {"Content-Type": kind, "X-Sample-Rate": str(rate), "Transfer-Encoding": "chunked"}
        writer.write(self._head(200, head))
        if fmt == "wav":
            self._write_chunk(writer, streaming_wav_header(rate))
        chunk = first
        while chunk is not None:
            self._write_chunk(writer, chunk.audio_int16.tobytes())
            await drain(writer, self.config.write_timeout)  # ConnectionError when the client has gone
            chunk = await loop.run_in_executor(None, job.next_chunk)
        writer.write(b"0\r\n\r\n")
        await drain(writer, self.config.write_timeout)

    async def _play(self, job: Job, first, writer: asyncio.StreamWriter) -> None:
        from ..audio.sinks import DeviceSink

        loop = asyncio.get_running_loop()
        chunks = await self._collect(job, first)
        async with self._device_lock:

            def play() -> float:
                sink = DeviceSink(self.config.device)
                try:
                    for chunk in chunks:
                        sink.write(chunk)
                except BaseException:
                    sink.abort()
                    raise
                sink.close()
                return sum(c.duration for c in chunks)

            try:
                seconds = await loop.run_in_executor(None, play)
            except EdgeVCError as exc:
                raise HttpError(500, str(exc)) from exc
        await self._send_json(writer, 200, {"played_seconds": round(seconds, 3)})

    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
        if data:
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    async def _send(self, writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str]) -> None:
        writer.write(self._head(status, headers | {"Content-Length": str(len(body))}) + body)
        await drain(writer, self.config.write_timeout)

    async def _send_json(self, writer, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        body = (json.dumps(data) + "\n").encode()
        await self._send(writer, status, body, {"Content-Type": "application/json"} | (headers or {}))
