"""The one place for reading, writing and resampling audio."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from edge_vc.errors import AudioFormatError
from edge_vc.fileio import atomic_write_bytes, new_file_mode  # noqa: F401  (new_file_mode: sinks.py)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono float32 audio with soxr (high quality, streaming-safe library)."""
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate or audio.size == 0:
        return audio
    import soxr

    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


def read_audio(
    path: str | Path, target_rate: int | None = None, max_seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Read a WAV/FLAC/OGG/MP3 file as mono float32; optionally resample.

    Stereo is averaged to mono; more than two channels is refused. Raises AudioFormatError
    with the reason for empty, corrupt or oversized files.
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"audio file not found: {path}")
    if path.stat().st_size == 0:
        raise AudioFormatError(f"audio file is empty (0 bytes): {path}")
    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError
        raise AudioFormatError(f"cannot read audio file {path}: not a supported audio format") from exc
    if info.channels > 2:
        raise AudioFormatError(f"{path} has {info.channels} channels; give a mono or stereo recording")
    if max_seconds is not None and info.frames > max_seconds * info.samplerate:
        raise AudioFormatError(
            f"{path} is {info.frames / info.samplerate:.0f} s long; at most {max_seconds:.0f} s accepted"
        )
    try:  # in 30 s blocks, mixed to mono as they come: a long stereo file never sits in memory twice
        rate = int(info.samplerate)
        blocks = soundfile.blocks(str(path), blocksize=30 * rate, dtype="float32", always_2d=True)
        parts = [block.mean(axis=1).astype(np.float32) for block in blocks]
    except Exception as exc:
        raise AudioFormatError(f"cannot decode audio file {path}: {exc}") from exc
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if audio.size == 0:
        raise AudioFormatError(f"audio file has no samples: {path}")
    if target_rate:
        audio, rate = resample(audio, rate, target_rate), target_rate
    return audio, int(rate)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 samples."""
    return np.clip(np.asarray(audio) * 32767.0, -32767, 32767).astype(np.int16)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A complete 16-bit mono WAV file in memory."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(to_int16(audio).tobytes())
    return buffer.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write a 16-bit mono WAV atomically (temp file in the same folder, then rename)."""
    atomic_write_bytes(Path(path), wav_bytes(audio, sample_rate))
