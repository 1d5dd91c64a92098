"""Where audio chunks go: a WAV file, stdout, or a sound device."""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import AudioDeviceError
from ..tts.chunks import AudioChunk
from .devices import find_device, supported_rate
from .io import to_int16


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


class WavFileSink(AudioSink):
    """Streams into a temporary WAV beside ``path``; renamed into place only on success."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=str(self.path.parent))
        os.close(fd)
        self._wav: wave.Wave_write | None = None

    def write(self, chunk: AudioChunk) -> None:
        if self._wav is None:
            self._wav = wave.open(self._tmp, "wb")
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(chunk.sample_rate)
        self._wav.writeframes(chunk.audio_int16.tobytes())

    def close(self) -> None:
        if self._wav is None:
            self.abort()
            return
        self._wav.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._wav is not None:
            self._wav.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


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
    """Plays chunks on a sound device, resampling (soxr, streaming) when the rate is refused."""

    def __init__(self, device: str | int | None = None, sample_rate: int | None = None) -> None:
        self.device = find_device(device, "output")
        self._requested_rate = sample_rate
        self._stream = None
        self._resampler = None
        self.device_rate: int | None = None

    def _open(self, rate: int) -> None:
        import sounddevice as sd

        self.device_rate = supported_rate(self.device, self._requested_rate or rate, "output")
        if self.device_rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.device_rate, 1, dtype="float32")
        try:
            self._stream = sd.OutputStream(
                device=self.device.index, samplerate=self.device_rate, channels=1, dtype="float32"
            )
            self._stream.start()
        except Exception as exc:
            raise AudioDeviceError(
                f"cannot open output device '{self.device.name}' at {self.device_rate} Hz: {exc}"
            ) from exc
        self._input_rate = rate

    def write(self, chunk: AudioChunk) -> None:
        if self._stream is None:
            self._open(chunk.sample_rate)
        audio = chunk.audio.astype(np.float32)
        if self._resampler is not None:
            audio = self._resampler.resample_chunk(audio)
        if audio.size:
            self._stream.write(audio.reshape(-1, 1))

    def close(self) -> None:
        if self._stream is None:
            return
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if tail.size:
                self._stream.write(tail.reshape(-1, 1))
        self._stream.stop()  # stop() drains what was written
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
