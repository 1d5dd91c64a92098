"""Server requests → :class:`~edge_vc.render.SpeechRequest`, every field type-checked in one place.

HTTP (``/speak``, ``/v1/audio/speech``) and Wyoming hand their raw fields (decoded JSON, or query-string
strings) to the parsers here; a malformed field raises :class:`RequestError`, which names the field
and becomes HTTP 400 (413 for a text over the limit) or a Wyoming ``error`` event. The engine checks
every request it admits with :func:`check_request`, whatever protocol built it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_vc.errors import EdgeVCError, InvalidTextError, VoiceNotFoundError
from edge_vc.render import SpeechRequest

RATE_RANGE = (0.25, 4.0)
VOLUME_RANGE = (0.0, 4.0)
MAX_SPEAKER_ID = 65535
MAX_VOICE_CHARS = 128
FORMATS = ("wav", "pcm")
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse"}
"""OpenAI's built-in voice names: they select the server's default voice."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class RequestError(EdgeVCError):
    """A request field is missing, of the wrong type or out of range; ``field`` names it."""

    exit_code = 2

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.status = field, status


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text_field(value: Any, field: str, max_chars: int) -> str:
    """The text to say: a string of at most ``max_chars`` characters (over it: status 413)."""
    if value is None:
        raise RequestError(field, f"give the text to say as '{field}' (a string)")
    if not isinstance(value, str):
        raise RequestError(field, f"'{field}' must be a string (the text to say), not {_kind(value)}")
    if len(value) > max_chars:
        raise RequestError(field, f"'{field}' is {len(value)} characters; at most {max_chars} accepted", 413)
    return value


def voice_field(value: Any, field: str = "voice") -> str | None:
    """A voice or profile name; null or "" is the server's default voice. Paths are refused (404)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RequestError(field, f"'{field}' must be a string (a voice or profile name), not {_kind(value)}")
    pathlike = "/" in value or "\\" in value or value.startswith(".") or value.endswith(".onnx")
    if pathlike or len(value) > MAX_VOICE_CHARS:
        raise VoiceNotFoundError(f"voice {value[:40]!r}: requests name a voice or profile, never a file path")
    return value


def number_field(value: Any, field: str, low: float, high: float, clamp: bool = False) -> float:
    """A finite number (or a numeric string, as query strings give) in [low, high] (or clamped to it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RequestError(field, f"'{field}' must be a number, not {_kind(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise RequestError(field, f"'{field}' must be a number, got {_show(value)}") from None
    if not math.isfinite(number):
        raise RequestError(field, f"'{field}' must be a finite number, got {_show(value)}")
    if clamp:
        return min(max(number, low), high)
    if not low <= number <= high:
        raise RequestError(field, f"'{field}' must be in [{low:g}, {high:g}], got {_show(value)}")
    return number


def integer_field(value: Any, field: str, low: int, high: int) -> int | None:
    """A whole number (or a string of digits) in [low, high]; null or "" is None."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise RequestError(field, f"'{field}' must be a whole number, got {_show(value)}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RequestError(field, f"'{field}' must be a whole number, not {_kind(value)}")
    if isinstance(value, str):
        if not value.strip().isdigit() or len(value.strip()) > 12:
            raise RequestError(field, f"'{field}' must be a whole number, got {_show(value)}")
        value = int(value)
    if not low <= value <= high:
        raise RequestError(field, f"'{field}' must be in [{low}, {high}], got {_show(value)}")
    return value


def flag_field(value: Any, field: str) -> bool:
    """true/false (or "1"/"0", "yes"/"no", "on"/"off", as query strings give)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise RequestError(field, f"'{field}' must be true or false, not {_show(value)}")


def choice_field(value: Any, field: str, choices: tuple[str, ...], why: str = "") -> str:
    if not isinstance(value, str):
        raise RequestError(field, f"'{field}' must be a string ({' or '.join(choices)}), not {_kind(value)}")
    if value.lower() not in choices:
        raise RequestError(field, f"{field} '{value[:40]}' is not supported{why}; use {' or '.join(choices)}")
    return value.lower()


@dataclass
class SpeakRequest:
    """One HTTP speech request: what to say, and how the answer is delivered."""

    speech: SpeechRequest
    format: str = "wav"
    stream: bool = False
    play: bool = False


def speak_request(params: Mapping[str, Any], max_text_chars: int) -> SpeakRequest:
    """``POST /speak`` fields: text, voice, ssml, rate, volume, speaker, format, stream, play."""
    text = text_field(params.get("text"), "text", max_text_chars)
    ssml = params.get("ssml")
    speech = SpeechRequest(
        text=text,
        voice=voice_field(params.get("voice")),
        ssml=None if ssml is None else flag_field(ssml, "ssml"),
        rate=number_field(params.get("rate", 1.0), "rate", *RATE_RANGE),
        volume=number_field(params.get("volume", 1.0), "volume", *VOLUME_RANGE),
        speaker_id=integer_field(params.get("speaker"), "speaker", 0, MAX_SPEAKER_ID),
    )
    return SpeakRequest(
        speech,
        format=choice_field(params.get("format", "wav"), "format", FORMATS),
        stream=flag_field(params.get("stream", False), "stream"),
        play=flag_field(params.get("play", False), "play"),
    )


def openai_request(params: Mapping[str, Any], max_text_chars: int) -> SpeakRequest:
    """``POST /v1/audio/speech`` fields: input, voice, speed (clamped to [0.25, 4]), response_format,
    stream_format ("audio" streams). OpenAI's voice names select the default voice; model is ignored."""
    text = text_field(params.get("input"), "input", max_text_chars)
    voice = params.get("voice")
    if isinstance(voice, str) and (voice.lower() in OPENAI_VOICES or voice == "default"):
        voice = None
    speed = number_field(params.get("speed", 1.0), "speed", *RATE_RANGE, clamp=True)
    fmt = choice_field(params.get("response_format", "wav"), "response_format", FORMATS, " offline")
    stream_format = params.get("stream_format")
    if stream_format is not None:
        choice_field(stream_format, "stream_format", ("audio",), " (no server-sent events)")
    speech = SpeechRequest(text=text, voice=voice_field(voice), rate=speed)
    return SpeakRequest(speech, format=fmt, stream=stream_format is not None)


def check_request(request: SpeechRequest, max_text_chars: int) -> None:
    """What the engine admits, however the request was built (InvalidTextError, RequestError, 404)."""
    text_field(request.text, "text", max_text_chars)
    if not request.text.strip():
        raise InvalidTextError("text is empty: nothing to say")
    voice_field(request.voice)
    if request.ssml is not None and not isinstance(request.ssml, bool):
        raise RequestError("ssml", f"'ssml' must be true or false, not {_kind(request.ssml)}")
    number_field(request.rate, "rate", *RATE_RANGE)
    number_field(request.volume, "volume", *VOLUME_RANGE)
    integer_field(request.speaker_id, "speaker", 0, MAX_SPEAKER_ID)


def check_speaker(request: SpeechRequest, num_speakers: int) -> None:
    """A speaker id beyond a multi-speaker voice's count is refused (a single-speaker voice ignores it)."""
    if request.speaker_id is not None and num_speakers > 1 and request.speaker_id >= num_speakers:
        raise RequestError(
            "speaker", f"'speaker' {request.speaker_id} is out of range: this voice has speakers 0-{num_speakers - 1}"
        )


def voice_not_found_text(exc: VoiceNotFoundError, hint: str = "") -> str:
    """The message for a request's unknown voice: no hint about paths, which requests cannot give."""
    from edge_vc.base_voice.catalog import UnknownVoiceError

    if isinstance(exc, UnknownVoiceError):
        return exc.message(paths=False) + hint
    return str(exc)
