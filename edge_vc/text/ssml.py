"""A lenient SSML subset and the speech plan that the voice renders.

Supported: ``<speak>``, ``<break time|strength>``, ``<prosody rate pitch>``, ``<say-as
interpret-as="characters|spell-out|digits|telephone|cardinal|ordinal|date">``, ``<sub alias>``,
``<emphasis level>``, ``<s>``, ``<p>``. Unknown tags are dropped (their text is kept); a stray
``<`` or an unclosed tag is read as text; unclosed elements end with the document. The parser is
one regular-expression scan, linear in the input, and never raises on malformed markup.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from edge_vc.errors import InvalidTextError
from edge_vc.text.normalize import normalize_text, spell_characters, spell_digits
from edge_vc.text.sentences import split_sentences, strip_terminal_escapes

MAX_BREAK_SECONDS = 10.0
"""One ``<break>`` lasts at most this long."""

MAX_TOTAL_PAUSE_SECONDS = 60.0
"""All breaks of one document add up to at most this much silence."""

PARAGRAPH_PAUSE_SECONDS = 0.35
"""Silence after a ``<p>``."""

_TAG = re.compile(r"<(/?)([A-Za-z][\w:.-]*)(\s[^<>]*|/)?>|<[!?][^<>]*>")
_ATTR = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_BREAK_STRENGTH = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.0}
_RATE_NAMES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.3, "x-fast": 1.7}
_PITCH_NAMES = {"x-low": 0.8, "low": 0.9, "medium": 1.0, "default": 1.0, "high": 1.12, "x-high": 1.25}
_EMPHASIS_RATE = {"strong": 0.85, "moderate": 0.92, "none": 1.0, "reduced": 1.1}
_BASE_PITCH_HZ = 120.0
"""Assumed voice pitch for ``pitch="+20Hz"`` style values."""


@dataclass
class Utterance:
    """Words to speak with a rate (speed factor) and pitch (frequency factor)."""

    text: str
    rate: float = 1.0
    pitch: float = 1.0


@dataclass
class Pause:
    """Silence of a given length."""

    seconds: float


def looks_like_ssml(text: str) -> bool:
    """True when the text is an SSML document: it starts with ``<speak``, or with an XML declaration or a
    ``<!DOCTYPE`` followed by ``<speak`` within its first 400 characters."""
    head = text.lstrip()[:400].lower()
    return head.startswith("<speak") or (looks_like_xml(head) and "<speak" in head)


def looks_like_xml(text: str) -> bool:
    """True when the text starts with an XML declaration (``<?xml``) or a ``<!DOCTYPE``."""
    head = text.lstrip()[:16].lower()
    return head.startswith(("<?xml", "<!doctype"))


def _seconds(value: str) -> float | None:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", value or "")
    if not match:
        return None
    number = float(match.group(1))
    return number / 1000.0 if match.group(2) == "ms" else number


def parse_rate(value: str) -> float:
    """SSML rate to a speed factor: names, ``"80%"``, ``"+20%"``, ``"1.5"``; unknown → 1."""
    value = (value or "").strip().lower()
    if value in _RATE_NAMES:
        return _RATE_NAMES[value]
    match = re.fullmatch(r"([+-])?(\d+(?:\.\d+)?)(%)?", value)
    if not match:
        return 1.0
    sign, number, percent = match.groups()
    number = float(number)
    if sign:
        factor = 1.0 + (number if sign == "+" else -number) / (100.0 if percent else 1.0)
    else:
        factor = number / 100.0 if percent else number
    return min(max(factor, 0.25), 4.0)


def parse_pitch(value: str) -> float:
    """SSML pitch to a frequency factor: names, ``"+10%"``, ``"-2st"``, ``"+20Hz"``; unknown → 1."""
    value = (value or "").strip().lower()
    if value in _PITCH_NAMES:
        return _PITCH_NAMES[value]
    match = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)(%|st|hz)", value)
    if not match:
        return 1.0
    sign, number, unit = match.groups()
    number = -float(number) if sign == "-" else float(number)
    if unit == "%":
        factor = 1.0 + number / 100.0
    elif unit == "st":
        factor = math.pow(2.0, number / 12.0)
    else:
        factor = (_BASE_PITCH_HZ + number) / _BASE_PITCH_HZ if sign else number / _BASE_PITCH_HZ
    return min(max(factor, 0.5), 2.0)


def _say_as(mode: str, text: str) -> str:
    mode = mode.lower()
    if mode in ("characters", "spell-out", "verbatim"):
        return spell_characters(text)
    if mode in ("digits", "telephone"):
        return " ".join(spell_digits(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))
    if mode == "ordinal":
        return normalize_text(re.sub(r"^(\d+)$", r"\1th", text.strip()))
    return text


@dataclass
class _Frame:
    tag: str
    rate: float
    pitch: float
    say_as: str = ""
    alias: str | None = None


class _Parser:
    def __init__(self) -> None:
        self.stack: list[_Frame] = [_Frame("", 1.0, 1.0)]
        self.buffer: list[str] = []
        self.paused = 0.0
        self.out: list[Utterance | Pause] = []

    @property
    def top(self) -> _Frame:
        return self.stack[-1]

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer = []
        if text:
            self.out.append(Utterance(text, self.top.rate, self.top.pitch))

    def pause(self, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), MAX_BREAK_SECONDS, MAX_TOTAL_PAUSE_SECONDS - self.paused)
        self.flush()
        if seconds > 0:
            self.paused += seconds
            self.out.append(Pause(seconds))

    def text(self, raw: str) -> None:
        if self.top.alias is not None or not raw:
            return
        text = html.unescape(raw)
        if self.top.say_as:
            text = " " + _say_as(self.top.say_as, text) + " "
        self.buffer.append(text)

    def open(self, tag: str, attrs: dict[str, str], self_closing: bool) -> None:
        top = self.top
        if tag == "break":
            strength = attrs.get("strength", "").lower()
            seconds = _seconds(attrs["time"]) if "time" in attrs else None
            if seconds is None:
                seconds = _BREAK_STRENGTH.get(strength, _BREAK_STRENGTH["medium"])
            self.pause(seconds)
            return
        if self_closing:
            if tag == "sub" and attrs.get("alias"):
                self.buffer.append(" " + attrs["alias"] + " ")
            return
        frame = _Frame(tag, top.rate, top.pitch, top.say_as, top.alias)
        if tag in ("prosody", "emphasis"):
            self.flush()
            if tag == "prosody":
                frame.rate = top.rate * parse_rate(attrs.get("rate", ""))
                frame.pitch = top.pitch * parse_pitch(attrs.get("pitch", ""))
            else:
                frame.rate = top.rate * _EMPHASIS_RATE.get(attrs.get("level", "moderate").lower(), 1.0)
            frame.rate = min(max(frame.rate, 0.25), 4.0)
            frame.pitch = min(max(frame.pitch, 0.5), 2.0)
        elif tag in ("s", "p", "speak"):
            self.flush()
        elif tag == "say-as":
            frame.say_as = attrs.get("interpret-as", "")
        elif tag == "sub":
            if top.alias is None:
                self.buffer.append(" " + attrs.get("alias", "") + " ")
            frame.alias = attrs.get("alias", "")
        self.stack.append(frame)

    def close(self, tag: str) -> None:
        if not any(frame.tag == tag for frame in self.stack[1:]):
            return  # a stray closing tag: ignore it
        while len(self.stack) > 1:
            frame = self.stack[-1]
            if frame.tag in ("prosody", "emphasis", "s", "p", "speak"):
                self.flush()
            self.stack.pop()
            if frame.tag == "p":
                self.pause(PARAGRAPH_PAUSE_SECONDS)
            if frame.tag == tag:
                break


def parse_ssml(document: str) -> list[Utterance | Pause]:
    """Utterances and pauses of an SSML document (lenient: never raises on bad markup)."""
    parser = _Parser()
    position = 0
    for match in _TAG.finditer(document):
        parser.text(document[position : match.start()])
        position = match.end()
        if match.group(2) is None:
            continue  # comment or processing instruction
        closing, tag, attr_text = match.groups()
        attr_text = (attr_text or "").rstrip()
        self_closing = attr_text.endswith("/")
        tag = tag.lower().rstrip("/").split(":")[-1]
        if closing:
            parser.close(tag)
        else:
            attrs = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                     for m in _ATTR.finditer(attr_text)}  # fmt: skip
            parser.open(tag, attrs, self_closing)
    parser.text(document[position:])
    parser.flush()
    return parser.out


def speech_plan(
    text: str | Iterable[str], ssml: bool | None = None, normalize: bool = True
) -> Iterator[Utterance | Pause]:
    """Sentences to speak (normalised) and pauses, from plain text or SSML.

    ``ssml=None`` detects SSML by a leading ``<speak>`` (see :func:`looks_like_ssml`); plain text (a string
    or lines) is split lazily so a long text streams in bounded memory. Any other XML document (``<?xml``,
    ``<!DOCTYPE``) is refused unless ``ssml`` is True: its markup would be read aloud.
    """
    if ssml is None:
        ssml = isinstance(text, str) and looks_like_ssml(text)
    if not ssml and isinstance(text, str) and looks_like_xml(text):
        raise InvalidTextError(
            "the text is an XML document (it starts with <?xml or <!DOCTYPE): read it as SSML (say --ssml; "
            '"ssml": true in a server request), or give plain text'
        )
    if not ssml:
        for sentence in split_sentences(text):
            yield Utterance(normalize_text(sentence) if normalize else sentence)
        return
    document = strip_terminal_escapes(text if isinstance(text, str) else "\n".join(text))
    for item in parse_ssml(document):
        if isinstance(item, Pause):
            yield item
            continue
        for sentence in split_sentences(item.text):
            yield Utterance(normalize_text(sentence) if normalize else sentence, item.rate, item.pitch)
