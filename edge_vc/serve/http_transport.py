"""HTTP/1.1 transport on the standard library's ``http.server``: one request per connection, with limits.

A ``ThreadingHTTPServer`` gives each connection a thread (at most ``max_connections``; more get 503 at
once). The request line and each header are at most 16 KiB (431), at most 100 headers (431), the body
at most ``max_body_bytes`` (413, judged from ``Content-Length``; no chunked request bodies: 411), and the
whole request must arrive within ``read_timeout`` (408). Every error answer is JSON ``{"error", "field"?}``.
What to answer is the API's job (``api.route(handler, request)``, see :mod:`edge_vc.serve.http`).
"""

from __future__ import annotations

import http.client
import json
import logging
import select
import socket
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

_LOGGER = logging.getLogger("edge_vc.serve.http")
MAX_LINE_BYTES = 16 * 1024
SEND_BUFFER_BYTES = 256 * 1024


class HttpError(Exception):
    """An answer other than 200: status, message (and the request field at fault, if one is)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.headers, self.field = status, message, headers or {}, field


class ClientGone(Exception):
    """The client closed its connection or stopped reading."""


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
        looks_json = self.body.lstrip()[:1] in (b"{", b"[")
        if kind == "application/json" or (kind in ("", "application/x-www-form-urlencoded") and looks_json):
            try:
                data = json.loads(self.body)
            except ValueError as exc:  # bad JSON or UTF-8, or an integer of more than 4300 digits
                raise HttpError(400, f"body is not valid JSON: {str(exc)[:200]}") from exc
            except RecursionError:
                raise HttpError(400, "body is not valid JSON: nested too deeply") from None
            if not isinstance(data, dict):
                raise HttpError(400, 'the body must be a JSON object, e.g. {"text": "Hello."}')
            params.update(data)
        elif kind in ("", "text/plain", "application/ssml+xml"):
            try:
                params["text"] = self.body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise HttpError(400, "text body must be UTF-8", field="text") from exc
            if kind == "application/ssml+xml":
                params["ssml"] = True
        else:
            raise HttpError(415, f"unsupported content type '{kind}'; send JSON or text/plain")
        return params


class _LineTooLong(http.client.LineTooLong):
    def __init__(self) -> None:
        Exception.__init__(self, f"a header line is longer than {MAX_LINE_BYTES} bytes")


class _Lines:
    """The request stream, with every line limited to MAX_LINE_BYTES (the headers parser reads lines)."""

    def __init__(self, raw) -> None:
        self.raw = raw

    def readline(self, size: int = -1) -> bytes:
        line = self.raw.readline(MAX_LINE_BYTES + 1)
        if len(line) > MAX_LINE_BYTES:
            raise _LineTooLong()
        return line

    def read(self, size: int = -1) -> bytes:
        return self.raw.read(size)

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed


class Handler(BaseHTTPRequestHandler):
    """One connection: read one request under the deadline, let the API answer it, close."""

    protocol_version = "HTTP/1.1"
    server_version = "edge-vc"
    sys_version = ""
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        self.api = self.server.api
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        self.connection.settimeout(self.api.config.read_timeout)
        self._raw = self.rfile
        self.rfile = _Lines(self.rfile)  # type: ignore[assignment]
        self.sent_head = False
        self._unread = True
        self._reading = True
        self._late = False
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------------
    def _too_late(self) -> None:
        """The read deadline passed: wake the blocked read (it sees the end of the stream)."""
        with self._lock:
            if self._reading:
                self._late = True
                try:
                    self.connection.shutdown(socket.SHUT_RD)
                except OSError:
                    pass

    def _check_late(self) -> None:
        if self._late:
            raise HttpError(408, "request not received in time")

    def _read(self) -> Request | None:
        """One request; None when the client closed without sending one (or parse_request answered)."""
        self.request_version, self.command, self.requestline = "HTTP/1.1", "", ""
        line = self._raw.readline(MAX_LINE_BYTES + 1)
        self._check_late()
        if not line:
            return None
        if len(line) > MAX_LINE_BYTES:
            raise HttpError(431, f"request line longer than {MAX_LINE_BYTES} bytes")
        self.raw_requestline = line
        if len(line.split()) != 3:
            self.requestline = line.decode("latin-1").rstrip("\r\n")[:200]
            raise HttpError(400, "malformed request line")
        if not self.parse_request():  # version and headers; it has answered the error itself
            return None
        self.close_connection = True
        self._check_late()
        if self.headers.defects or len(self.headers.get_all("content-length") or []) > 1:
            raise HttpError(400, "malformed header")
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = self._content_length(headers)
        body = self.rfile.read(length) if length else b""
        self._check_late()
        if len(body) < length:
            raise HttpError(400, "body shorter than Content-Length")
        self._unread = False
        url = urlsplit(self.path)
        return Request(self.command.upper(), url.path.rstrip("/") or "/", dict(parse_qsl(url.query)), headers, body)

    def _content_length(self, headers: dict[str, str]) -> int:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise HttpError(411, "chunked request bodies are not accepted; send Content-Length")
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
        if length < 0:
            raise HttpError(400, "bad Content-Length")
        limit = self.api.console.body_limit(self.command, self.path) or self.api.config.max_body_bytes
        if length > limit:
            raise HttpError(413, f"request body is {length} bytes; at most {limit} accepted")
        return length

    def handle_expect_100(self) -> bool:
        try:  # refuse an oversized body before the client sends it
            self._content_length({k.lower(): v for k, v in self.headers.items()})
        except HttpError as exc:
            self.answer_error(exc)
            return False
        return super().handle_expect_100()

    # -- the exchange -------------------------------------------------------------------------------
    def handle(self) -> None:
        self.close_connection = True
        timer = threading.Timer(self.api.config.read_timeout, self._too_late)
        timer.daemon = True
        timer.start()
        try:
            try:
                request = self._read()
            finally:
                with self._lock:
                    self._reading = False
                timer.cancel()
            if request is not None:
                self.connection.settimeout(self.api.config.write_timeout)
                self.api.route(self, request)
        except HttpError as exc:
            self.answer_error(exc)
        except TimeoutError:
            if self._unread:
                self.answer_error(HttpError(408, "request not received in time"))
        except (ClientGone, ConnectionError):
            pass
        except Exception:  # never let one request take the server down
            _LOGGER.exception("request failed")
            self.answer_error(HttpError(500, "internal error; see the server log"))
        finally:
            self._linger()

    def _linger(self) -> None:
        """After an early answer, read what the client still sends, so closing does not reset the answer."""
        if not self._unread:
            return
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            for _ in range(16):
                if not self.connection.recv(65536):
                    break
        except OSError:
            pass

    def client_gone(self) -> bool:
        """True when the client has closed its side of the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    # -- writing ------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except OSError as exc:  # reset, broken pipe, or no progress for write_timeout
            raise ClientGone(str(exc)) from exc

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.sent_head = True
        try:
            self.end_headers()
        except OSError as exc:
            raise ClientGone(str(exc)) from exc

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.head(status, headers | {"Content-Length": str(len(body))})
        self.write(body)

    def answer_json(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        body = (json.dumps(data) + "\n").encode()
        self.answer(status, body, {"Content-Type": "application/json"} | (headers or {}))

    def answer_error(self, exc: HttpError) -> None:
        if self.sent_head:
            return  # too late for a status; the connection just closes
        data = {"error": exc.message} | ({"field": exc.field} if exc.field else {})
        try:
            self.answer_json(exc.status, data, exc.headers)
        except ClientGone:
            pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """parse_request's errors (bad version, header limits) as JSON like every other error."""
        if self.request_version == "HTTP/0.9":  # not parsed yet: answer with a status line all the same
            self.request_version = "HTTP/1.1"
        text = message or self.responses.get(code, ("error",))[0]
        self.answer_error(HttpError(code, f"{text}: {explain}" if explain and explain != text else text))

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        _LOGGER.info("%s %s", self.address_string(), format % args)


class HttpServer(ThreadingHTTPServer):
    """Threads per connection, at most ``max_connections`` at once; IPv4 or IPv6 by the host's form."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def __init__(self, api, host: str, port: int) -> None:
        self.api = api
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.open_connections = 0
        self._count_lock = threading.Lock()
        super().__init__((host.strip("[]"), port), Handler)

    def server_bind(self) -> None:  # HTTPServer's looks up the host's FQDN, which can stall offline
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request, client_address) -> None:
        with self._count_lock:
            full = self.open_connections >= self.api.config.max_connections
            if not full:
                self.open_connections += 1
        if not full:
            super().process_request(request, client_address)
            return
        try:
            request.settimeout(1.0)
            body = b'{"error": "too many connections"}\n'
            request.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
        except OSError:
            pass
        self.shutdown_request(request)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count_lock:
                self.open_connections -= 1
