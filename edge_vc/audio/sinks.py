"""Where audio chunks go: a WAV/FLAC/OGG file, stdout, or a sound device."""

from __future__ import annotations

import collections
import os
import struct
import sys
import tempfile
import threading
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from edge_vc.audio.chunk import AudioChunk
from edge_vc.audio.devices import find_device, supported_rate
from edge_vc.audio.io import new_file_mode, to_int16
from edge_vc.errors import AudioDeviceError, AudioFormatError


class AudioSink:
    """Receives chunks in order; ``close()`` finishes, ``abort()`` discards."""

    def write(self, chunk: AudioChunk) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the output (flush, rename, drain)."""

    def abort(self) -> None:
        """Stop without finishing; leave no partial output behind."""
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


FILE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
"""Output file types by name ending: (libsndfile format, subtype). 16-bit WAV is written with ``wave``."""


def check_output_path(path: str | Path, make_parents: bool = False) -> Path:
    """``path`` as an output file: a known ending (.wav, .flac, .ogg) and an existing folder.

    Raises AudioFormatError for another ending (the file would not hold what its name promises) or a
    missing folder (unless ``make_parents``: then the folders are made).
    """
    path = Path(path)
    if path.suffix.lower() not in FILE_FORMATS:
        kinds = ", ".join(FILE_FORMATS)
        what = f"'{path.suffix}'" if path.suffix else "no file type"
        raise AudioFormatError(f"cannot write {path}: {what} is not a supported output type (use {kinds})")
    if path.is_dir():
        raise AudioFormatError(f"cannot write {path}: it is a folder; give a file name")
    if not path.parent.is_dir():
        if not make_parents:
            raise AudioFormatError(
                f"cannot write {path}: folder {path.parent} does not exist (create it, or pass --mkdir)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AudioFormatError(f"cannot create folder {path.parent}: {exc}") from exc
    return path


class WavFileSink(AudioSink):
    """Streams into a temporary file beside ``path``; renamed into place only on success.

    The type follows the name: ``.wav`` (16-bit PCM), ``.flac`` (16-bit) or ``.ogg`` (Vorbis); any other
    ending, or a missing folder (unless ``make_parents``), is refused before anything is written. The
    file gets the mode the user's umask gives new files (0644 under umask 022), as other tools do.
    """

    def __init__(self, path: str | Path, make_parents: bool = False) -> None:
        self.path = check_output_path(path, make_parents)
        self.format, self.subtype = FILE_FORMATS[self.path.suffix.lower()]
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=str(self.path.parent))
        except OSError as exc:
            raise AudioFormatError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        os.fchmod(fd, new_file_mode())
        os.close(fd)
        self._wav: wave.Wave_write | None = None
        self._sf = None

    def write(self, chunk: AudioChunk) -> None:
        if self.format != "WAV":
            if self._sf is None:
                import soundfile

                self._sf = soundfile.SoundFile(
                    self._tmp, "w", samplerate=chunk.sample_rate, channels=1, format=self.format,
                    subtype=self.subtype,
                )  # fmt: skip
            self._sf.write(chunk.audio_int16 if self.subtype == "PCM_16" else np.clip(chunk.audio, -1.0, 1.0))
            return
        if self._wav is None:
            self._wav = wave.open(self._tmp, "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(chunk.sample_rate)
        self._wav.writeframes(chunk.audio_int16.tobytes())

    def close(self) -> None:
        opened = self._wav if self._wav is not None else self._sf
        if opened is None:
            self.abort()
            return
        opened.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        for opened in (self._wav, self._sf):
            if opened is not None:
                opened.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


class ClipMeter(AudioSink):
    """Counts samples at full scale (hard-clipped by ``--volume`` or a loud stage) in what is written."""

    LIMIT = 0.999

    def __init__(self) -> None:
        self.samples = 0
        self.clipped = 0

    def write(self, chunk: AudioChunk) -> None:
        self.samples += chunk.audio.size
        self.clipped += int(np.count_nonzero(np.abs(chunk.audio) >= self.LIMIT))

    @property
    def share(self) -> float:
        """Share of the samples at full scale (0 when nothing was written)."""
        return self.clipped / self.samples if self.samples else 0.0


def streaming_wav_header(sample_rate: int) -> bytes:
    """A WAV header for a stream of unknown length (sizes set to the maximum)."""
    data_size = 0xFFFFFFFF - 36
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_size)
    )


class StreamSink(AudioSink):
    """Raw 16-bit PCM (or a streaming WAV) to a binary stream such as stdout."""

    def __init__(self, stream: BinaryIO | None = None, wav_header: bool = False) -> None:
        self.stream = stream or sys.stdout.buffer
        self.wav_header = wav_header
        self._started = False

    def write(self, chunk: AudioChunk) -> None:
        if not self._started and self.wav_header:
            self.stream.write(streaming_wav_header(chunk.sample_rate))
        self._started = True
        self.stream.write(chunk.audio_int16.tobytes())
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class DeviceSink(AudioSink):
    """Plays chunks on a sound device, resampling (soxr, streaming) when the rate is refused.

    A callback stream pulls from a queue and plays silence while the next chunk is still being
    synthesized, so a slow sentence makes a pause, never a PortAudio underrun.
    """

    def __init__(self, device: str | int | None = None, sample_rate: int | None = None) -> None:
        self.device = find_device(device, "output")
        self._requested_rate = sample_rate
        self._stream = None
        self._resampler = None
        self._pending: collections.deque[np.ndarray] = collections.deque()
        self._offset = 0
        self._lock = threading.Lock()
        self._drained = threading.Event()
        self.device_rate: int | None = None

    def _callback(self, outdata, frames, time_info, status) -> None:
        filled = 0
        with self._lock:
            while filled < frames and self._pending:
                head = self._pending[0]
                take = min(frames - filled, len(head) - self._offset)
                outdata[filled : filled + take, 0] = head[self._offset : self._offset + take]
                filled += take
                self._offset += take
                if self._offset >= len(head):
                    self._pending.popleft()
                    self._offset = 0
            if not self._pending:
                self._drained.set()
        outdata[filled:, 0] = 0.0

    def _open(self, rate: int) -> None:
        import sounddevice as sd

        self.device_rate = supported_rate(self.device, self._requested_rate or rate, "output")
        if self.device_rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.device_rate, 1, dtype="float32")
        try:
            self._stream = sd.OutputStream(
                device=self.device.index,
                samplerate=self.device_rate,
                channels=1,
                dtype="float32",
                latency="high",
                blocksize=1024,
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:
            raise AudioDeviceError(
                f"cannot open output device '{self.device.name}' at {self.device_rate} Hz: {exc}"
            ) from exc

    def _queue(self, audio: np.ndarray) -> None:
        if audio.size:
            with self._lock:
                self._pending.append(np.ascontiguousarray(audio, dtype=np.float32))
                self._drained.clear()

    def write(self, chunk: AudioChunk) -> None:
        if self._stream is None:
            self._open(chunk.sample_rate)
        audio = chunk.audio.astype(np.float32)
        if self._resampler is not None:
            audio = self._resampler.resample_chunk(audio)
        self._queue(audio)

    def close(self) -> None:
        """Wait until everything written has played, then close the device."""
        if self._stream is None:
            return
        if self._resampler is not None:
            self._queue(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        with self._lock:
            seconds_left = sum(len(a) for a in self._pending) / float(self.device_rate or 1)
        self._drained.wait(timeout=seconds_left + 5.0)
        self._stream.stop()  # stop() lets the device play out its buffer
        self._stream.close()
        self._stream = None

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream.close()
            self._stream = None


def int16_bytes(audio: np.ndarray) -> bytes:
    """Float audio as little-endian 16-bit PCM bytes."""
    return to_int16(audio).tobytes()
