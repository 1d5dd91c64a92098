"""Split text into sentences lazily, so a long chapter streams in bounded memory."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

MAX_TEXT_CHARS = 1_000_000
"""Texts above this size are refused (a novel is ~500 kB)."""

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "no",
    "fig",
    "mt",
    "inc",
    "ltd",
    "co",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "approx",
    "dept",
    "est",
}
_SENTENCE_END = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)")
_MAX_SENTENCE_CHARS = 600


_TERMINAL_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves (ESC [ 31 m)
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC/DCS/SOS/PM/APC strings
    r"|\x1b[ -/]*[0-~]"  # other escape sequences (ESC c, ESC ( B, ESC 7)
)
"""Terminal escape sequences (ECMA-48), removed whole: ``\\x1b[31m`` is not read as "31 m"."""


def strip_terminal_escapes(text: str) -> str:
    """``text`` without terminal escape sequences (colours, titles, hyperlinks, cursor moves)."""
    return _TERMINAL_ESCAPE.sub("", text)


def clean_text(text: str) -> str:
    """Drop terminal escape sequences and control characters (keeping line breaks); NFC."""
    text = unicodedata.normalize("NFC", strip_terminal_escapes(text))
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)


def _split_long(sentence: str) -> Iterator[str]:
    """Cut a run-on sentence at clause punctuation, then at spaces, to bound its size."""
    while len(sentence) > _MAX_SENTENCE_CHARS:
        window = sentence[:_MAX_SENTENCE_CHARS]
        cut = max(window.rfind(p) for p in ",;:")
        if cut < _MAX_SENTENCE_CHARS // 3:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = _MAX_SENTENCE_CHARS - 1
        yield sentence[: cut + 1].strip()
        sentence = sentence[cut + 1 :]
    if sentence.strip():
        yield sentence.strip()


def _split_block(block: str) -> Iterator[str]:
    start = 0
    for match in _SENTENCE_END.finditer(block):
        end = match.end(1)
        words = block[start : match.start(1)].split()
        last_word = words[-1].lower().rstrip(".") if words else ""
        following = block[match.end() : match.end() + 1]
        if match.group(1) == "." and (
            last_word in _ABBREVIATIONS or len(last_word) == 1 or "." in last_word or following.islower()
        ):
            continue
        yield from _split_long(block[start:end])
        start = match.end()
    yield from _split_long(block[start:])


def split_sentences(text: str | Iterable[str]) -> Iterator[str]:
    """Yield sentences from a string or from an iterable of lines (e.g. a file).

    Blank lines end a paragraph; single line breaks are joined with a space.
    """
    lines = text.splitlines() if isinstance(text, str) else text
    paragraph: list[str] = []
    size = 0
    for line in lines:
        line = clean_text(line).strip()
        if line:
            paragraph.append(line)
            size += len(line)
        if paragraph and (not line or size > 8 * _MAX_SENTENCE_CHARS):
            block = " ".join(paragraph)
            paragraph, size = [], 0
            sentences = list(_split_block(block))
            if line and sentences:
                # Paragraph was cut for size: keep the unfinished tail for the next line.
                tail = sentences.pop()
                paragraph, size = [tail], len(tail)
            yield from sentences
    if paragraph:
        yield from _split_block(" ".join(paragraph))
