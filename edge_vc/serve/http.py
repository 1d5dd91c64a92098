"""The HTTP API: speak (WAV, streamed WAV or PCM, or played on the server), voices, health.

Endpoints and answers live here; the HTTP/1.1 transport (``http.server`` threads, limits, JSON
errors) is :mod:`edge_vc.serve.http_transport`, and request fields are checked by
:mod:`edge_vc.serve.request`. While a handler waits for audio it watches its connection: a client
that leaves (or stops reading for ``write_timeout``) has its job cancelled.
"""

from __future__ import annotations

import hmac
import logging
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from edge_vc.errors import EdgeVCError, InvalidTextError, VoiceNotFoundError
from edge_vc.serve.console import Console
from edge_vc.serve.engine import BusyError, Job, SpeechEngine, SpeechRequest
from edge_vc.serve.http_transport import ClientGone, Handler, HttpError, HttpServer, Request
from edge_vc.serve.request import RequestError, SpeakRequest, openai_request, speak_request, voice_not_found_text

__all__ = ["HttpApi", "HttpConfig", "HttpError", "WRITE_TIMEOUT"]

_LOGGER = logging.getLogger(__name__)
WRITE_TIMEOUT = 30.0
"""A client that takes longer than this to accept written data is dropped."""
_POLL = 0.2
"""How often a handler waiting for audio checks whether its client is still there (seconds)."""


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
    write_timeout: float = WRITE_TIMEOUT
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


class HttpApi:
    """Routes requests to the engine; ``listen()`` starts serving, ``close()`` stops and cancels jobs."""

    def __init__(self, engine: SpeechEngine, config: HttpConfig, voices: Callable[[], list[dict]]) -> None:
        config.validate()
        self.engine, self.config, self.voices = engine, config, voices
        self._device_lock = threading.Lock()
        self._active: dict[Job, Handler] = {}
        self._active_lock = threading.Lock()
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.console = Console(self)  # the installer console: page at GET /, API under /v1 (docs/serve.md)

    def listen(self) -> int:
        """Bind ``config.host``/``config.port`` and serve in a thread; returns the bound port."""
        assert self.config.port is not None
        self._server = HttpServer(self, self.config.host, self.config.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="edge-vc-http", daemon=True)
        self._thread.start()
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop accepting, cancel every running job and drop its connection."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.console.close()
        with self._active_lock:
            active = list(self._active.items())
        for job, handler in active:
            job.cancel()
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _authorised(self, request: Request) -> bool:
        if not self.config.token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.config.token}".encode())

    def route(self, handler: Handler, request: Request) -> None:
        if request.path == "/health":
            body = {"status": "ok", "voices_loaded": self.engine.loaded_voices(), "queue": self.engine.status()}
            handler.answer_json(200, body)
            return
        if self.console.static(handler, request):
            return
        if not self._authorised(request):
            raise HttpError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        if self.console.route(handler, request):
            return
        limit = self.engine.config.max_text_chars
        if request.path == "/voices" and request.method == "GET":
            handler.answer_json(200, {"voices": self.voices()})
        elif request.path == "/speak" and request.method == "POST":
            self._speak(handler, _fields(speak_request, request.params(), limit))
        elif request.path == "/v1/audio/speech" and request.method == "POST":
            self._speak(handler, _fields(openai_request, request.params(), limit))
        elif request.path in ("/voices", "/speak", "/v1/audio/speech"):
            raise HttpError(405, f"{request.method} is not allowed on {request.path}")
        else:
            raise HttpError(404, f"no endpoint {request.path}")

    def _speak(self, handler: Handler, spoken: SpeakRequest) -> None:
        job = self._submit(spoken.speech)
        with self._active_lock:
            self._active[job] = handler
        try:
            first = self._first(job, handler)
            if spoken.play:
                self._play(job, first, handler)
            elif spoken.stream:
                self._stream(job, first, handler, spoken.format)
            else:
                self._whole(job, first, handler, spoken.format)
        finally:
            job.cancel()
            with self._active_lock:
                self._active.pop(job, None)

    def _submit(self, request: SpeechRequest) -> Job:
        try:
            return self.engine.submit(request)
        except BusyError as exc:
            raise HttpError(503, str(exc), {"Retry-After": "1"}) from exc
        except Exception as exc:
            raise _http_error(exc) from exc

    def _next(self, job: Job, handler: Handler):
        """The job's next chunk (None at the end); ClientGone (and the job cancelled) if the client left."""
        while True:
            if handler.client_gone():
                job.cancel()
                raise ClientGone("client closed the connection")
            try:
                return job.next_chunk(timeout=_POLL)
            except queue.Empty:
                pass

    def _first(self, job: Job, handler: Handler):
        """The first chunk, mapping synthesis errors to HTTP errors before any header is sent."""
        try:
            return self._next(job, handler)
        except ClientGone:
            raise
        except Exception as exc:
            raise _http_error(exc) from exc

    def _collect(self, job: Job, first, handler: Handler) -> list:
        chunks = [first] if first is not None else []
        while chunks and (chunk := self._next(job, handler)) is not None:
            chunks.append(chunk)
        return chunks

    def _whole(self, job: Job, first, handler: Handler, fmt: str) -> None:
        import numpy as np

        from edge_vc.audio.io import wav_bytes
        from edge_vc.audio.sinks import int16_bytes

        chunks = self._collect(job, first, handler)
        rate = chunks[0].sample_rate if chunks else job.sample_rate or 22050
        audio = np.concatenate([c.audio for c in chunks]) if chunks else np.zeros(0, dtype=np.float32)
        body = wav_bytes(audio, rate) if fmt == "wav" else int16_bytes(audio)
        kind = "audio/wav" if fmt == "wav" else f"audio/L16; rate={rate}; channels=1"
        headers = {"Content-Type": kind, "X-Sample-Rate": str(rate), "X-Audio-Seconds": f"{len(audio) / rate:.3f}"}
        handler.answer(200, body, headers)

    def _stream(self, job: Job, first, handler: Handler, fmt: str) -> None:
        from edge_vc.audio.sinks import streaming_wav_header

        rate = first.sample_rate if first is not None else job.sample_rate or 22050
        kind = "audio/wav" if fmt == "wav" else f"audio/L16; rate={rate}; channels=1"
        handler.head(200, {"Content-Type": kind, "X-Sample-Rate": str(rate), "Transfer-Encoding": "chunked"})
        if fmt == "wav":
            _write_chunk(handler, streaming_wav_header(rate))
        chunk = first
        while chunk is not None:
            _write_chunk(handler, chunk.audio_int16.tobytes())  # ClientGone when the client has left
            chunk = self._next(job, handler)
        handler.write(b"0\r\n\r\n")

    def _play(self, job: Job, first, handler: Handler) -> None:
        from edge_vc.audio.sinks import DeviceSink

        chunks = self._collect(job, first, handler)
        with self._device_lock:
            sink = DeviceSink(self.config.device)
            try:
                for chunk in chunks:
                    sink.write(chunk)
            except EdgeVCError as exc:
                sink.abort()
                raise HttpError(500, str(exc)) from exc
            except BaseException:
                sink.abort()
                raise
            sink.close()
        handler.answer_json(200, {"played_seconds": round(sum(c.duration for c in chunks), 3)})


def _fields(parse, params: dict[str, Any], limit: int) -> SpeakRequest:
    try:
        return parse(params, limit)
    except Exception as exc:
        raise _http_error(exc) from exc


def _http_error(exc: BaseException) -> HttpError:
    """An engine or request error as the HTTP answer it gets."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, RequestError):
        return HttpError(exc.status, str(exc), field=exc.field)
    if isinstance(exc, VoiceNotFoundError):
        return HttpError(404, voice_not_found_text(exc, "; GET /voices lists every voice and profile"), field="voice")
    if isinstance(exc, InvalidTextError):
        return HttpError(400, str(exc), field="text")
    if isinstance(exc, EdgeVCError):
        return HttpError(500, str(exc))
    _LOGGER.error("synthesis failed", exc_info=exc)
    return HttpError(500, f"synthesis failed ({type(exc).__name__}); see the server log")


def _write_chunk(handler: Handler, data: bytes) -> None:
    if data:
        handler.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
