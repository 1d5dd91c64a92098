"""A systemd unit for ``edge-vc serve``: starts at boot, restarts on failure, runs as a non-root user."""

from __future__ import annotations

import os
import pwd
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

_SAFE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


@dataclass
class ServiceConfig:
    """What goes into the unit file."""

    user: str
    """Account the server runs as (never root); it gets the ``audio`` group as a supplementary group."""

    voice: str | None = None
    device: str | None = None
    host: str = "127.0.0.1"
    port: int = 5500
    wyoming_port: int = 10200
    threads: int | None = None
    max_queue: int = 4
    data_home: str | None = None
    """EDGE_VC_HOME for the service (voices and profiles); None: the user's default."""

    env_file: str | None = None
    """Optional EnvironmentFile (e.g. holding EDGE_VC_TOKEN=...), so no secret is in the unit."""

    allow_remote: bool = False
    user_unit: bool = False
    """A ``systemctl --user`` unit (for PipeWire/PulseAudio desktops): no User=, WantedBy=default.target."""

    python: str = field(default_factory=lambda: sys.executable)
    description: str = "edge-vc offline speech server (Wyoming + HTTP)"

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ServiceConfig:
        known = ServiceConfig.__dataclass_fields__
        config = ServiceConfig(**{k: v for k, v in data.items() if k in known})
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Raise ValueError for a root user, unsafe characters, or a remote bind without a token file."""
        if not self.user_unit:
            if self.user in ("root", "0"):
                raise ValueError("the service must not run as root; pass --user with a normal account")
            try:
                if pwd.getpwnam(self.user).pw_uid == 0:
                    raise ValueError(f"user {self.user} has uid 0; choose a non-root account")
            except KeyError:
                pass  # the account may be created later (useradd); systemd checks at start
        for name in ("user", "voice", "device", "host", "data_home", "env_file", "python"):
            value = getattr(self, name)
            if value is not None and any(ord(ch) < 32 or ch == "\x7f" for ch in str(value)):
                raise ValueError(f"{name} contains control characters")
        if not 1 <= self.port <= 65535 or not 1 <= self.wyoming_port <= 65535:
            raise ValueError("ports must be in [1, 65535]")
        if self.allow_remote and not self.env_file:
            raise ValueError("a remote bind needs --env-file with EDGE_VC_TOKEN=... (the token stays out of the unit)")


def quote(arg: str) -> str:
    """Quote one ExecStart argument for systemd (``%`` and ``$`` are escaped too)."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if _SAFE.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_start(config: ServiceConfig) -> str:
    args = [config.python, "-m", "edge_vc", "serve", "--host", config.host, "--port", str(config.port)]
    args += ["--wyoming-host", config.host, "--wyoming-port", str(config.wyoming_port)]
    args += ["--max-queue", str(config.max_queue)]
    if config.voice:
        args += ["--voice", config.voice]
    if config.device:
        args += ["--device", config.device]
    if config.threads:
        args += ["--threads", str(config.threads)]
    if config.allow_remote:
        args.append("--allow-remote")
    return " ".join(quote(a) for a in args)


def render_unit(config: ServiceConfig) -> str:
    """The unit file text."""
    config.validate()
    lines = [
        "[Unit]",
        f"Description={config.description}",
        "After=network-online.target sound.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=300",
        "StartLimitBurst=10",
        "",
        "[Service]",
        "Type=simple",
    ]
    if not config.user_unit:
        lines += [f"User={config.user}", "SupplementaryGroups=audio"]
    lines += [f"ExecStart={exec_start(config)}", "Restart=on-failure", "RestartSec=3", "TimeoutStopSec=20"]
    env = ["PYTHONUNBUFFERED=1"]
    if config.data_home:
        env.append(f"EDGE_VC_HOME={config.data_home}")
    lines += [f'Environment="{quote_env(e)}"' for e in env]
    if config.env_file:
        lines.append(f"EnvironmentFile={config.env_file}")
    lines += ["NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=full"]
    lines += ["", "[Install]", f"WantedBy={'default.target' if config.user_unit else 'multi-user.target'}", ""]
    return "\n".join(lines)


def quote_env(assignment: str) -> str:
    """Escape one Environment= assignment (specifiers, quotes; ``$`` is not expanded there)."""
    return assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def default_user() -> str:
    """The invoking account: $SUDO_USER under sudo, else the current user."""
    return os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
