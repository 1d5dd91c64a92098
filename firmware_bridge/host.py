"""Host side of the bridge: a serial port (pyserial) ↔ the edge-vc runtime.

SAY_TEXT / SAY_PROFILE speak (busy while speaking: refused, never queued), STOP stops speech or a
recording, PTT_DOWN/UP record a reply or an enrollment take, STATUS_REQ gets STATUS. The LED follows
the runtime: listening, speaking, busy (processing), fault, idle.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edge_vc.firmware_bridge.protocol import DecodeError, ErrorCode, Frame, FrameDecoder, MsgType, PttMode, State

from edge_vc.configs import from_mapping, to_mapping
from edge_vc.errors import ConfigError

try:
    import termios

    _TERMIOS_ERRORS: tuple = (termios.error,)
except ImportError:  # not a POSIX system
    _TERMIOS_ERRORS = ()

_LOGGER = logging.getLogger(__name__)
MAX_RECORD_SECONDS = 60.0
PROFILE_NAME_MAX = 32


class BridgeError(Exception):
    """A command the runtime refuses; ``code`` goes back to the microcontroller."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Recorder:
    """Records the microphone with sounddevice until ``stop()`` (at most MAX_RECORD_SECONDS)."""

    def __init__(self, device: str | int | None = None) -> None:
        self.device = device
        self._stream = None
        self._blocks: list[np.ndarray] = []
        self.sample_rate = 0

    def start(self) -> None:
        import sounddevice as sd

        from edge_vc.audio.devices import find_device

        info = find_device(self.device, "input")
        self.sample_rate = int(info.default_samplerate)
        limit = int(MAX_RECORD_SECONDS * self.sample_rate)
        self._blocks, count = [], [0]

        def callback(indata, frames, time_info, status) -> None:
            if count[0] < limit:
                self._blocks.append(indata[:, 0].copy())
                count[0] += frames

        self._stream = sd.InputStream(
            device=info.index, samplerate=self.sample_rate, channels=1, dtype="float32", callback=callback
        )
        self._stream.start()

    def stop(self) -> tuple[np.ndarray, int]:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        audio = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
        return audio, self.sample_rate


@dataclass
class RuntimeConfig:
    """How the bridge speaks and records."""

    voice: str | None = None
    device: str | None = None
    input_device: str | None = None
    threads: int | None = None
    out_dir: Path | None = None
    """Write each utterance to a WAV here instead of playing it (headless use and tests)."""

    record_dir: Path = Path("recordings")
    reply_command: str | None = None
    """Run on each push-to-talk reply with ``{wav}``; its stdout is spoken back."""

    enroll_command: str | None = None
    """Run on each enrollment take (``{wav}``, ``{profile}``, ``{takes}``); None: only save the take."""

    enroll_profile: str = "new-profile"
    """Profile that enrollment takes build (letters, digits, ``-`` and ``_``)."""
    command_timeout: float = 120.0

    @staticmethod
    def from_dict(data: dict) -> RuntimeConfig:
        """Settings from a mapping (other keys are ignored); ConfigError for wrong types or values."""
        return from_mapping(RuntimeConfig, data, what="bridge settings", unknown="ignore")

    def to_dict(self) -> dict:
        return to_mapping(self)

    def validate(self) -> None:
        """Raise ConfigError (a ValueError) for a profile name that is not a plain name, or a non-positive timeout."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", self.enroll_profile):
            raise ConfigError(f"enroll profile {self.enroll_profile!r}: use 1-32 letters, digits, '-' or '_'")
        if self.command_timeout <= 0:
            raise ConfigError("command_timeout must be > 0")


class EdgeRuntime:
    """Speech and recording for the bridge; reports state changes through ``on_state``."""

    def __init__(self, config: RuntimeConfig, recorder_factory: Callable[[], Recorder] | None = None) -> None:
        config.validate()
        self.config = config
        self.recorder_factory = recorder_factory or (lambda: Recorder(config.input_device))
        self.on_state: Callable[[State, ErrorCode, str], None] = lambda state, code, message: None
        self.state = State.IDLE
        self.last_error = ErrorCode.OK
        self._speakers: dict[str, object] = {}
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._recorder: Recorder | None = None
        self._mode = PttMode.REPLY
        self._lock = threading.Lock()
        self.utterances = 0
        self.recordings = 0
        self._active = False

    def _set(self, state: State, code: ErrorCode = ErrorCode.OK, message: str = "") -> None:
        self.state = state
        if code != ErrorCode.OK:
            self.last_error = code
        self.on_state(state, code, message)

    def busy(self) -> bool:
        """True while speaking, recording or processing (cleared just before the LED goes idle)."""
        return self._active or self._recorder is not None

    def say(self, text: str, profile: str | None = None) -> None:
        with self._lock:
            if self.busy():
                raise BridgeError(ErrorCode.BUSY, "speaking or recording; send STOP first")
            self._start(lambda: self._speak(text, profile))

    def _start(self, target: Callable[[], None]) -> None:
        self._stop.clear()
        self._active = True
        self._worker = threading.Thread(target=self._guard, args=(target,), daemon=True)
        self._worker.start()

    def _guard(self, target: Callable[[], None]) -> None:
        from edge_vc.errors import EdgeVCError, ProfileError, VoiceNotFoundError

        final = (State.IDLE, ErrorCode.OK, "")
        try:
            target()
        except (VoiceNotFoundError, ProfileError) as exc:
            final = (State.FAULT, ErrorCode.NOT_FOUND, str(exc))
        except (EdgeVCError, BridgeError, OSError, subprocess.SubprocessError) as exc:
            final = (State.FAULT, exc.code if isinstance(exc, BridgeError) else ErrorCode.FAILED, str(exc))
        except Exception as exc:  # the bridge must outlive any failure
            _LOGGER.exception("runtime failure")
            final = (State.FAULT, ErrorCode.FAILED, str(exc))
        with self._lock:
            self._active = False  # before the report: a command sent on "idle" must be accepted
        self._set(*final)

    def _speaker(self, name: str | None):
        from edge_vc.loader import load

        key = name or self.config.voice or ""
        if key not in self._speakers:
            self._speakers[key] = load(key or None, threads=self.config.threads)
        return self._speakers[key]

    def _speak(self, text: str, profile: str | None) -> None:
        from edge_vc.audio.sinks import DeviceSink, WavFileSink
        from edge_vc.render import SpeechRequest, render

        speaker = self._speaker(profile)
        self._set(State.SPEAKING)
        self.utterances += 1
        if self.config.out_dir is not None:
            sink = WavFileSink(Path(self.config.out_dir) / f"utterance-{self.utterances:04d}.wav", make_parents=True)
        else:
            sink = DeviceSink(self.config.device)
        render(speaker, SpeechRequest(text), [sink], cancelled=self._stop.is_set)

    def stop(self) -> None:
        self._stop.set()
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.stop()
            self._set(State.IDLE)

    def ptt_down(self, mode: PttMode) -> None:
        with self._lock:
            if self.busy():
                raise BridgeError(ErrorCode.BUSY, "speaking or recording; send STOP first")
            recorder = self.recorder_factory()
            recorder.start()
            self._recorder, self._mode = recorder, mode
            self.recordings += 1
            self._set(State.LISTENING)

    def ptt_up(self) -> None:
        with self._lock:
            recorder, self._recorder = self._recorder, None
            if recorder is None:
                raise BridgeError(ErrorCode.PAYLOAD, "push-to-talk was not down")
            audio, rate = recorder.stop()
            self._set(State.BUSY)
            self._start(lambda: self._after_recording(audio, rate, self._mode))

    def _after_recording(self, audio: np.ndarray, rate: int, mode: PttMode) -> None:
        from edge_vc.audio.io import write_wav

        if audio.size < 0.3 * max(rate, 1):
            raise BridgeError(ErrorCode.PAYLOAD, "recording shorter than 0.3 s")
        folder = Path(self.config.record_dir)
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.recordings:04d}"
        if mode == PttMode.ENROLL:
            profile = self.config.enroll_profile
            path = folder / f"enroll-{profile}-{stamp}.wav"
            write_wav(path, audio, rate)
            takes = sorted(folder.glob(f"enroll-{profile}-*.wav"))
            if self.config.enroll_command:
                self._run(self.config.enroll_command, path, takes)
            return
        path = folder / f"reply-{stamp}.wav"
        write_wav(path, audio, rate)
        if self.config.reply_command:
            reply = self._run(self.config.reply_command, path, [path]).strip()
        else:
            reply = f"I recorded {audio.size / rate:.1f} seconds."
        if reply:
            self._speak(reply[:2000], None)

    def _run(self, template: str, wav: Path, takes: list[Path]) -> str:
        """Run a hook: ``{wav}`` this take, ``{profile}`` the profile, ``{takes}`` every take (as arguments)."""
        args: list[str] = []
        for part in shlex.split(template):
            if part == "{takes}":
                option = args.pop() if args and args[-1].startswith("-") else None
                for take in takes:  # "--wav {takes}" becomes "--wav t1 --wav t2 ..."
                    args.extend([option, str(take)] if option else [str(take)])
            elif part == "{python}":
                args.append(sys.executable)
            else:
                args.append(part.replace("{wav}", str(wav)).replace("{profile}", self.config.enroll_profile))
        done = subprocess.run(args, capture_output=True, text=True, timeout=self.config.command_timeout)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            raise BridgeError(ErrorCode.FAILED, f"{Path(args[0]).name} exited {done.returncode}: {last[:120]}")
        return done.stdout


class BridgeHost:
    """Reads frames from ``port`` (a pyserial-like object) and drives the runtime."""

    def __init__(self, port, runtime: EdgeRuntime, name: str = "edge-vc") -> None:
        self.port = port
        self.runtime = runtime
        self.name = name
        self.decoder = FrameDecoder()
        self._seq = 0
        self._write_lock = threading.RLock()
        self._led: State | None = None
        runtime.on_state = self._on_state

    def send(self, type_: MsgType, payload: bytes = b"") -> None:
        with self._write_lock:
            frame = Frame(int(type_), self._seq, payload[:200])
            self._seq = (self._seq + 1) & 0xFF
            try:
                self.port.write(frame.encode())
                self.port.flush()
            except _TERMIOS_ERRORS as exc:  # termios errors are not OSErrors: report the link as lost
                raise OSError(f"serial link failed: {exc}") from exc

    def _on_state(self, state: State, code: ErrorCode, message: str) -> None:
        try:
            self._report(state, code, message)
        except OSError as exc:  # called from the runtime's thread: the read loop reports a lost link
            _LOGGER.warning("cannot report state %s: %s", state.name, exc)

    def _report(self, state: State, code: ErrorCode, message: str) -> None:
        with self._write_lock:
            if code != ErrorCode.OK:
                self.send(MsgType.ERROR, bytes([code]) + message.encode("utf-8")[:120])
            if state != self._led:
                self._led = state
                self.send(MsgType.LED_STATE, bytes([state]))

    def run(self, stop: threading.Event | None = None, max_seconds: float | None = None) -> None:
        """Serve until ``stop`` is set or ``max_seconds`` pass; the port needs a read timeout."""
        stop = stop or threading.Event()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._report(State.IDLE, ErrorCode.OK, "")
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                data = self.port.read(1)  # returns at the first byte (or the port's timeout)
                waiting = getattr(self.port, "in_waiting", 0) if data else 0
                if waiting:
                    data += self.port.read(min(waiting, 4096))
            except _TERMIOS_ERRORS as exc:
                raise OSError(f"serial link failed: {exc}") from exc
            if data:
                for item in self.decoder.feed(data):
                    self.handle(item)
        self.runtime.stop()

    def handle(self, item: Frame | DecodeError) -> None:
        if isinstance(item, DecodeError):
            if item.reason == "version":
                self.send(MsgType.ERROR, bytes([ErrorCode.VERSION]) + b"protocol version 1 only")
            return  # corrupt frames are dropped silently; the decoder has resynchronised
        try:
            self._dispatch(item)
        except BridgeError as exc:
            self.send(MsgType.ACK, bytes([item.seq, exc.code]))
            self.send(MsgType.ERROR, bytes([exc.code]) + str(exc).encode("utf-8")[:120])

    def _dispatch(self, frame: Frame) -> None:
        kind = frame.type
        if kind == MsgType.HELLO:
            from edge_vc import __version__

            self.send(MsgType.HELLO, bytes([1]) + f"{self.name} {__version__}".encode()[:32])
            return
        if kind == MsgType.STATUS_REQ:
            self.send(MsgType.STATUS, bytes([self.runtime.state, self.runtime.last_error]))
            return
        if kind in (MsgType.ACK, MsgType.ERROR, MsgType.STATUS, MsgType.LED_STATE):
            return  # the microcontroller's own reports: nothing to do
        if kind == MsgType.SAY_TEXT:
            self.runtime.say(_text(frame.payload))
        elif kind == MsgType.SAY_PROFILE:
            if not frame.payload or not 1 <= frame.payload[0] <= min(PROFILE_NAME_MAX, len(frame.payload) - 1):
                raise BridgeError(ErrorCode.PAYLOAD, "SAY_PROFILE needs a 1-32 byte profile name")
            size = frame.payload[0]
            profile = _text(frame.payload[1 : 1 + size], "profile name")
            self.runtime.say(_text(frame.payload[1 + size :]), profile)
        elif kind == MsgType.STOP:
            self.runtime.stop()
        elif kind == MsgType.PTT_DOWN:
            mode = frame.payload[0] if frame.payload else 0
            if mode not in (PttMode.REPLY, PttMode.ENROLL):
                raise BridgeError(ErrorCode.PAYLOAD, f"unknown push-to-talk mode {mode}")
            self.runtime.ptt_down(PttMode(mode))
        elif kind == MsgType.PTT_UP:
            self.runtime.ptt_up()
        else:
            raise BridgeError(ErrorCode.TYPE, f"unknown message type 0x{kind:02x}")
        self.send(MsgType.ACK, bytes([frame.seq, ErrorCode.OK]))


def _text(payload: bytes, what: str = "text") -> str:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BridgeError(ErrorCode.PAYLOAD, f"{what} is not UTF-8") from exc
    if not text.strip():
        raise BridgeError(ErrorCode.PAYLOAD, f"{what} is empty")
    return text


def open_port(port: str, baud: int = 115200):
    """Open a serial port with a short read timeout (pyserial)."""
    import serial

    return serial.Serial(port, baudrate=baud, timeout=0.05, write_timeout=2.0)
