"""Parsing and checking of the console's request values (names, numbers, flags, uploads, hosts)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from edge_vc.errors import ProfileError
from edge_vc.serve.http_transport import HttpError


def name(name: str) -> str:
    from edge_vc.profiles.profile import validate_name

    try:
        return validate_name(name)
    except ProfileError as exc:
        raise HttpError(400, str(exc), field="name") from exc


def number(value: Any, low: float, high: float, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise HttpError(400, f"{field} must be a number", field=field) from None
    if not low <= number <= high:
        raise HttpError(400, f"{field} must be between {low:g} and {high:g}", field=field)
    return number


def flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on") if value is not None else False


def consent(value: str) -> bool:
    if value not in ("check", "skip"):
        raise HttpError(400, "consent must be 'check' (spoken challenge at the device mic) or 'skip'", field="consent")
    return value == "check"


def audio_suffix(body: bytes) -> str:
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        return ".wav"
    if body[:4] == b"fLaC":
        return ".flac"
    raise HttpError(415, "send a WAV or FLAC recording (the body does not start like either)")


def upload_name(value: str | None) -> str:
    stem = Path(value or "upload").stem
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:60].lstrip(".") or "upload"


def loopback(host: str) -> bool:
    hostname = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    if hostname in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
