"""The Wyoming protocol (Home Assistant's TTS transport), as wyoming-piper speaks it.

``describe`` → ``info``; ``synthesize`` → ``audio-start``, ``audio-chunk``…, ``audio-stop``; streamed
text (``synthesize-start/-chunk/-stop``) is spoken sentence by sentence, then ``synthesize-stopped``; errors
and a full queue answer with an ``error`` event (code ``busy``, ``bad-text``, ``bad-request``,
``unknown-voice``); fields are checked by :mod:`edge_vc.serve.request`, as HTTP's are.
Events are built with the ``wyoming`` package; reading is ours, with limits on every length field,
because a peer may announce any size.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from edge_vc.errors import EdgeVCError, InvalidTextError, VoiceNotFoundError
from edge_vc.serve.engine import BusyError, SpeechEngine, SpeechRequest
from edge_vc.serve.http import WRITE_TIMEOUT
from edge_vc.serve.request import MAX_SPEAKER_ID, RequestError, integer_field, voice_field, voice_not_found_text

_LOGGER = logging.getLogger(__name__)
MAX_HEADER_BYTES = 16 * 1024
MAX_DATA_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = 1024 * 1024
SAMPLES_PER_CHUNK = 1024
IDLE_TIMEOUT = 300.0
"""A connection that sends nothing for this long is closed."""


class ProtocolError(Exception):
    """The peer broke the framing or a limit; the connection is closed."""


async def read_event(reader: asyncio.StreamReader):
    """One Wyoming event, or None at end of stream; ProtocolError on bad framing or oversize fields."""
    from wyoming.event import Event

    try:
        line = await reader.readline()
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise ProtocolError("event header too long") from exc
    if not line:
        return None
    try:
        header = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("event header is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("event header lacks a type")
    data = header.get("data") or {}
    data_length = header.get("data_length") or 0
    payload_length = header.get("payload_length") or 0
    if not isinstance(data, dict) or not isinstance(data_length, int) or not isinstance(payload_length, int):
        raise ProtocolError("event header has fields of the wrong type")
    if not 0 <= data_length <= MAX_DATA_BYTES or not 0 <= payload_length <= MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"event too large (data {data_length}, payload {payload_length} bytes)")
    if data_length:
        try:
            extra = json.loads(await reader.readexactly(data_length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError("event data is not JSON") from exc
        if not isinstance(extra, dict):
            raise ProtocolError("event data is not an object")
        data.update(extra)
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=header["type"], data=data, payload=payload)


def tts_info(voices: list[dict]):
    """The ``info`` event: one TTS program whose voices are the installed voices and profiles."""
    from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

    from edge_vc import __version__

    attribution = Attribution(name="edge-vc", url="https://pypi.org/project/edge-vc/")
    tts_voices = [
        TtsVoice(
            name=v["name"],
            description=v.get("description") or v["name"],
            attribution=attribution,
            installed=True,
            version=None,
            languages=[v.get("language") or "en_US"],
        )
        for v in voices
    ]
    program = TtsProgram(
        name="edge-vc",
        description="Offline voice cloning TTS (Piper VITS voices and cloned profiles)",
        attribution=attribution,
        installed=True,
        version=__version__,
        voices=tts_voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program]).event()


_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s")


@dataclass
class _Voice:
    name: str | None = None
    speaker_id: int | None = None
    ssml: bool | None = None


def _voice_of(event) -> _Voice:
    """Voice, speaker and text format from a synthesize or synthesize-start event (RequestError if malformed)."""
    data = event.data or {}
    voice = data.get("voice")
    if voice is None:
        voice = {}
    if not isinstance(voice, dict):
        raise RequestError("voice", "'voice' must be an object with 'name' (and 'speaker')")
    speaker_id = integer_field(voice.get("speaker"), "voice.speaker", 0, MAX_SPEAKER_ID)
    text_format = data.get("text_format")
    if text_format is not None and not isinstance(text_format, str):
        raise RequestError("text_format", "'text_format' must be a string such as 'ssml'")
    ssml = str(text_format or "").endswith("ssml") or None
    return _Voice(voice_field(voice.get("name"), "voice.name"), speaker_id, ssml)


def _request_error(exc: Exception):
    """The error event for a refused request (RequestError, InvalidTextError, VoiceNotFoundError)."""
    if isinstance(exc, VoiceNotFoundError):
        return _error(voice_not_found_text(exc), "unknown-voice")
    if isinstance(exc, RequestError) and exc.field != "text":
        return _error(str(exc), "bad-request")
    return _error(str(exc), "bad-text")


class WyomingHandler:
    """One client connection.

    Whole texts: ``synthesize`` → one audio-start … audio-stop. Streamed text (``synthesize-start``,
    ``synthesize-chunk``…, ``synthesize-stop``): each completed sentence is spoken as it arrives (its own
    audio-start … audio-stop), then ``synthesize-stopped``; a ``synthesize`` inside a stream is ignored,
    as wyoming-piper does.
    """

    def __init__(self, engine: SpeechEngine, voices: Callable[[], list[dict]]) -> None:
        self.engine = engine
        self.voices = voices

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from wyoming.event import async_write_event

        stream: _Voice | None = None
        buffer = ""
        try:
            while True:
                event = await asyncio.wait_for(read_event(reader), IDLE_TIMEOUT)
                if event is None:
                    break
                kind = event.type
                if kind == "describe":
                    await async_write_event(tts_info(self.voices()), writer)
                elif kind == "ping":
                    await async_write_event(_event("pong", {"text": event.data.get("text")}), writer)
                elif kind == "synthesize" and stream is None:
                    text = event.data.get("text")
                    try:
                        voice = _voice_of(event)
                        if not isinstance(text, str):
                            raise InvalidTextError("synthesize needs a text (a string)")
                    except (RequestError, InvalidTextError, VoiceNotFoundError) as exc:
                        await async_write_event(_request_error(exc), writer)
                        continue
                    await self._speak(text, voice, writer)
                elif kind == "synthesize-start":
                    try:
                        stream, buffer = _voice_of(event), ""
                    except (RequestError, VoiceNotFoundError) as exc:
                        await async_write_event(_request_error(exc), writer)
                elif kind == "synthesize-chunk" and stream is not None:
                    piece = event.data.get("text", "")
                    if not isinstance(piece, str):
                        await async_write_event(_error("synthesize-chunk needs a text (a string)", "bad-text"), writer)
                        continue
                    buffer += piece
                    if len(buffer) > self.engine.config.max_text_chars:
                        await async_write_event(
                            _error("streamed text too long without a sentence end", "bad-text"), writer
                        )
                        buffer = ""
                    ends = list(_SENTENCE_END.finditer(buffer))
                    if ends:
                        done, buffer = buffer[: ends[-1].end()], buffer[ends[-1].end() :]
                        await self._speak(done, stream, writer)
                elif kind == "synthesize-stop" and stream is not None:
                    if buffer.strip():
                        await self._speak(buffer, stream, writer)
                    stream, buffer = None, ""
                    await async_write_event(_event("synthesize-stopped", {}), writer)
                # Other events are ignored.
        except (ProtocolError, asyncio.IncompleteReadError) as exc:
            _LOGGER.info("wyoming client dropped: %s", exc)
            await _try_write(writer, _error(str(exc), "protocol"))
        except (asyncio.TimeoutError, TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            _LOGGER.exception("wyoming connection failed")
        finally:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 2.0)
            except (Exception, asyncio.CancelledError):
                pass

    async def _speak(self, text: str, voice: _Voice, writer: asyncio.StreamWriter) -> None:
        """Synthesize one text: audio-start, audio-chunk…, audio-stop (or one error event)."""
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.event import async_write_event

        request = SpeechRequest(text, voice=voice.name, ssml=voice.ssml, speaker_id=voice.speaker_id)
        try:
            job = self.engine.submit(request)
        except BusyError as exc:
            await async_write_event(_error(str(exc), "busy"), writer)
            return
        except (RequestError, InvalidTextError, VoiceNotFoundError) as exc:
            await async_write_event(_request_error(exc), writer)
            return
        loop = asyncio.get_running_loop()
        started = False
        try:
            while True:
                try:
                    chunk = await loop.run_in_executor(None, job.next_chunk)
                except (RequestError, InvalidTextError, VoiceNotFoundError) as exc:
                    await async_write_event(_request_error(exc), writer)
                    return
                except EdgeVCError as exc:
                    await async_write_event(_error(str(exc), "synthesis-failed"), writer)
                    return
                if chunk is None:
                    break
                rate = chunk.sample_rate
                if not started:
                    await _send(AudioStart(rate=rate, width=2, channels=1).event(), writer)
                    started = True
                pcm = chunk.audio_int16.tobytes()
                step = SAMPLES_PER_CHUNK * 2
                for start in range(0, len(pcm), step):
                    piece = AudioChunk(rate=rate, width=2, channels=1, audio=pcm[start : start + step])
                    await _send(piece.event(), writer)
            if started:
                await _send(AudioStop().event(), writer)
        finally:
            job.cancel()


async def _send(event, writer: asyncio.StreamWriter) -> None:
    """Write one event; a client that stops reading for WRITE_TIMEOUT is dropped (ConnectionError)."""
    from wyoming.event import async_write_event

    try:
        await asyncio.wait_for(async_write_event(event, writer), WRITE_TIMEOUT)
    except (asyncio.TimeoutError, TimeoutError) as exc:
        writer.transport.abort()
        raise ConnectionError("client stopped reading") from exc


def _event(kind: str, data: dict):
    from wyoming.event import Event

    return Event(type=kind, data={k: v for k, v in data.items() if v is not None})


def _error(text: str, code: str):
    from wyoming.error import Error

    return Error(text=text, code=code).event()


async def _try_write(writer: asyncio.StreamWriter, event) -> None:
    from wyoming.event import async_write_event

    try:
        await asyncio.wait_for(async_write_event(event, writer), 2.0)
    except (Exception, asyncio.CancelledError):
        pass
