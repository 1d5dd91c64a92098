"""Recording enrollment speech from an input device (sounddevice InputStream).

Shows a countdown, then a live level meter on stderr while recording; ``phases`` lets the caller
change the on-screen prompt at given times (say the challenge, then read the script).
"""

from __future__ import annotations

import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge_vc.errors import AudioDeviceError

READ_SCRIPT = (
    "The north wind and the sun were disputing which was the stronger, when a traveller came along "
    "wrapped in a warm cloak. They agreed that the one who first succeeded in making the traveller "
    "take his cloak off should be considered stronger than the other. Then the north wind blew as "
    "hard as he could, but the more he blew the more closely did the traveller fold his cloak around "
    "him; and at last the north wind gave up the attempt. Then the sun shined out warmly, and "
    "immediately the traveller took off his cloak. And so the north wind was obliged to confess that "
    "the sun was the stronger of the two."
)
"""'The North Wind and the Sun' — the standard phonetic reading passage (covers English sounds)."""


@dataclass
class Phase:
    """A prompt shown from ``start_s`` seconds into the recording."""

    start_s: float
    prompt: str


def meter_line(level_db: float, remaining_s: float, width: int = 30) -> str:
    """A text level meter: ``[#########.....]  -23 dBFS   12 s left``."""
    filled = int(np.clip((level_db + 60.0) / 60.0, 0.0, 1.0) * width)
    bar = "#" * filled + "." * (width - filled)
    hint = " CLIPPING" if level_db > -1.0 else (" too quiet" if level_db < -45.0 else "")
    return f"\r[{bar}] {level_db:6.1f} dBFS {remaining_s:5.1f} s left{hint:10s}"


METER_LINE_SECONDS = 5.0
"""Without a terminal (a pipe, systemd, a serial console) the meter prints one plain line this often."""


def record(
    seconds: float,
    device: str | int | None = None,
    phases: list[Phase] | None = None,
    countdown: int = 3,
    echo: Callable[[str], None] | None = None,
    meter: bool = True,
    on_level: Callable[[float, float], None] | None = None,
    on_block: Callable[[np.ndarray, int], str | None] | None = None,
) -> tuple[np.ndarray, int]:
    """Record ``seconds`` of mono audio; returns (float32 audio, device rate).

    On a terminal the level meter redraws one line 20 times a second; when stderr is not a terminal it
    prints a plain line (the level over the last :data:`METER_LINE_SECONDS`) every few seconds instead.
    ``on_level(dBFS, seconds recorded)`` is called for every 50 ms block (an exception it raises stops the recording);
    ``on_block(block, device rate)`` gets every block itself, and the text it returns is shown like a prompt.
    """
    from edge_vc.audio.devices import _sounddevice, find_device

    sd = _sounddevice()
    out = echo or (lambda message: print(message, file=sys.stderr, flush=True))
    info = find_device(device, kind="input")
    rate = int(info.default_samplerate) or 48000
    for n in range(countdown, 0, -1):
        out(f"recording starts in {n} ...")
        time.sleep(1.0)
    blocks: queue.Queue[np.ndarray] = queue.Queue()
    status_flags: list[str] = []

    def callback(indata, frames, time_info, status):  # runs on the audio thread
        if status:
            status_flags.append(str(status))
        blocks.put(indata[:, 0].copy())

    chunks: list[np.ndarray] = []
    total = int(seconds * rate)
    got = 0
    pending = list(sorted(phases or [], key=lambda p: p.start_s))
    live = meter and _is_terminal(sys.stderr)
    plain = meter and not live
    window: list[np.ndarray] = []
    try:
        stream = sd.InputStream(
            device=info.index, samplerate=rate, channels=1, dtype="float32", blocksize=int(rate * 0.05),
            callback=callback,
        )  # fmt: skip
    except Exception as exc:  # PortAudioError and friends
        raise AudioDeviceError(f"cannot open input device {info.name!r} at {rate} Hz: {exc}") from exc
    with stream:
        out(f"recording {seconds:.0f} s from {info.name} ({rate} Hz)")
        deadline = time.monotonic() + seconds + 5.0
        while got < total:
            while pending and got / rate >= pending[0].start_s:
                if live:
                    sys.stderr.write("\n")
                out(pending.pop(0).prompt)
            try:
                block = blocks.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise AudioDeviceError(f"input device {info.name!r} stopped delivering audio") from None
                continue
            chunks.append(block)
            got += block.size
            if on_level is not None:
                on_level(20.0 * float(np.log10(np.sqrt(np.mean(block**2)) + 1e-9)), got / rate)
            if on_block is not None and (note := on_block(block, rate)):
                if live:
                    sys.stderr.write("\n")
                out(note)
            if live:
                level = 20.0 * np.log10(float(np.sqrt(np.mean(block**2))) + 1e-9)
                sys.stderr.write(meter_line(level, max(0.0, seconds - got / rate)))
                sys.stderr.flush()
            elif plain:
                window.append(block)
                if sum(b.size for b in window) >= METER_LINE_SECONDS * rate or got >= total:
                    audio = np.concatenate(window)
                    level = 20.0 * np.log10(float(np.sqrt(np.mean(audio**2))) + 1e-9)
                    out(meter_line(level, max(0.0, seconds - got / rate)).lstrip("\r").rstrip())
                    window = []
    if live:
        sys.stderr.write("\n")
    out("recording finished")
    audio = np.concatenate(chunks)[:total] if chunks else np.zeros(0, np.float32)
    return audio.astype(np.float32), rate


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        return False
