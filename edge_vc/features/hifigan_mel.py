"""The 80-band log-mel of the universal HiFi-GAN vocoder (22 050 Hz, n_fft 1024, hop 256, 0-8 kHz).

Built on the shared front-end in ``edge_vc.features.mel`` (same STFT and filterbank code), with
HiFi-GAN's conventions: magnitude ``sqrt(re² + im² + 1e-9)``, reflect padding of (n_fft - hop) / 2
instead of centring, natural log of the mel clamped at 1e-5. Frame ``t`` is centred on sample
``t * 256 + 128``; a clip of ``n`` samples gives ``n // 256`` frames.
"""

from __future__ import annotations

import numpy as np

from edge_vc.features.mel import MelConfig, mel_spectrogram

HIFIGAN_RATE = 22050
HIFIGAN_HOP = 256


def hifigan_mel_config() -> MelConfig:
    """MelConfig of HiFi-GAN V1 (universal and LJSpeech generators)."""
    return MelConfig(
        sample_rate=HIFIGAN_RATE,
        n_fft=1024,
        win_length=1024,
        hop_length=HIFIGAN_HOP,
        n_mels=80,
        fmin=0.0,
        fmax=8000.0,
        power=1.0,
        mag_eps=1e-9,
        center=False,
        pad_mode="reflect",
        pad=(1024 - HIFIGAN_HOP) // 2,
        log="ln",
        log_floor=1e-5,
    )


def hifigan_log_mel(audio: np.ndarray, sample_rate: int = HIFIGAN_RATE) -> np.ndarray:
    """Log-mel frames (n_frames, 80) float32 of mono audio (resampled to 22 050 Hz if needed)."""
    if sample_rate != HIFIGAN_RATE:
        from edge_vc.audio.io import resample

        audio = resample(audio, sample_rate, HIFIGAN_RATE)
    return mel_spectrogram(np.asarray(audio, dtype=np.float32), hifigan_mel_config())


def frame_times(n_frames: int) -> np.ndarray:
    """Centre time in seconds of each HiFi-GAN mel frame."""
    return (np.arange(n_frames) * HIFIGAN_HOP + HIFIGAN_HOP // 2) / HIFIGAN_RATE
