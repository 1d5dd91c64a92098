"""Run the Wyoming server (asyncio) and the HTTP server (http.server threads) around one SpeechEngine."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from edge_vc.errors import EdgeVCError
from edge_vc.serve.engine import EngineConfig, SpeechEngine
from edge_vc.serve.http import HttpApi, HttpConfig
from edge_vc.serve.wyoming import MAX_HEADER_BYTES, WyomingHandler

_LOGGER = logging.getLogger(__name__)


class BindError(EdgeVCError):
    """A server address is refused (remote bind without --allow-remote and --token)."""

    exit_code = 11


def is_loopback(host: str) -> bool:
    """True for localhost and addresses in 127.0.0.0/8 or ::1."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool, token: str | None) -> None:
    """Refuse a non-loopback address unless remote access was asked for and a token protects it."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise BindError(f"{host} is not a loopback address; add --allow-remote (and --token) to listen on it")
    if not token or len(token) < 16:
        raise BindError("listening beyond this machine needs --token with at least 16 characters")


def list_voices() -> list[dict]:
    """Installed voices and enrolled profiles, as the HTTP API and Wyoming ``info`` show them."""
    from edge_vc.base_voice.catalog import DEFAULT_VOICE, installed_voices, shipped_voices

    voices = [{"name": DEFAULT_VOICE, "kind": "voice", "language": "en_US", "description": "bundled voice"}]
    voices += [
        {"name": v.name, "kind": "voice", "language": "en_US", "description": f"shipped export ({v.model_path.name})"}
        for v in shipped_voices()
    ]
    voices += [
        {"name": v.name, "kind": "voice", "language": "", "description": str(v.model_path)} for v in installed_voices()
    ]
    for name in _profile_names():
        voices.append({"name": name, "kind": "profile", "language": "en_US", "description": "cloned voice"})
    return voices


def _profile_names() -> list[str]:
    """Enrolled profiles: the profile module's list when present, else folders holding a profile.yaml."""
    try:
        from edge_vc.profiles.profile import list_profiles
    except ImportError:
        from edge_vc.paths import profiles_dir

        folder = profiles_dir()
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and (p / "profile.yaml").is_file())
    try:
        return list_profiles()
    except Exception:  # a broken profile store must not take /voices down
        _LOGGER.exception("cannot list profiles")
        return []


@dataclass
class ServeConfig:
    """Everything ``edge-vc serve`` needs."""

    engine: EngineConfig
    http: HttpConfig
    wyoming_host: str = "127.0.0.1"
    wyoming_port: int | None = 10200
    """None disables the Wyoming server; 0 picks a free port."""

    allow_remote: bool = False
    preload: bool = True


class Server:
    """Both servers; ``start()`` binds, ``serve_forever()`` runs until ``stop()`` or a signal."""

    def __init__(self, config: ServeConfig, loader=None) -> None:
        check_bind(config.http.host, config.allow_remote, config.http.token)
        if config.wyoming_port is not None:
            check_bind(config.wyoming_host, config.allow_remote, config.http.token)
            if not is_loopback(config.wyoming_host):
                _LOGGER.warning("Wyoming has no authentication; %s exposes it to the network", config.wyoming_host)
        self.config = config
        self.engine = SpeechEngine(config.engine, loader=loader)
        self.http_api = HttpApi(self.engine, config.http, list_voices)
        self.wyoming = WyomingHandler(self.engine, list_voices)
        self._servers: list[asyncio.base_events.Server] = []
        self._stop: asyncio.Event | None = None
        self.http_port: int | None = None
        self.wyoming_port: int | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        capacity = self.config.engine.workers + self.config.engine.max_queue
        loop.set_default_executor(ThreadPoolExecutor(max_workers=2 * capacity + 4, thread_name_prefix="edge-vc-io"))
        if self.config.preload:
            await loop.run_in_executor(None, self.engine.speaker, None)
        self._stop = asyncio.Event()
        if self.config.http.port is not None:
            self.http_port = self.http_api.listen()  # its own threads (http.server), one per connection
        if self.config.wyoming_port is not None:
            wyoming = await asyncio.start_server(
                self.wyoming.handle, self.config.wyoming_host, self.config.wyoming_port, limit=MAX_HEADER_BYTES
            )
            self.wyoming_port = wyoming.sockets[0].getsockname()[1]
            self._servers.append(wyoming)

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError):
                pass
        assert self._stop is not None
        await self._stop.wait()
        if self.http_port is not None:
            await loop.run_in_executor(None, self.http_api.close)
        for server in self._servers:
            server.close()
            await server.wait_closed()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # open connections: cancel them (their jobs are cancelled in turn)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.engine.close()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


def run(config: ServeConfig, ready=None) -> None:
    """Start, report the bound ports through ``ready(server)``, and serve until a signal."""

    async def main() -> None:
        server = Server(config)
        await server.start()
        if ready is not None:
            ready(server)
        await server.serve_forever()

    asyncio.run(main())
