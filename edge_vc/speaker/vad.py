"""Voice activity detection with the bundled silero-vad model (MIT, see edge_vc/data/NOTICE.md).

The ONNX model (v5/v6 signature) takes ``input`` [batch, 64 + 512] (64 samples of context from the
previous window followed by 512 new samples at 16 kHz), ``state`` [2, batch, 128] and ``sr`` (int64
scalar), and returns ``output`` [batch, 1] speech probability plus the next ``stateN``. On the LiteRT
backend ``silero_vad.tflite`` is used: the 16 kHz branch of the same model rebuilt op for op
(``edge_vc.export.vad_tflite``), the same inputs and outputs without ``sr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

VAD_RATE = 16000
WINDOW = 512
"""New samples per model call at 16 kHz (32 ms)."""
CONTEXT = 64
SPEECH_THRESHOLD = 0.5
"""A window whose speech probability is at least this counts as speech."""


def vad_model_path(backend: str = "onnx") -> Path:
    """The bundled silero_vad.onnx, or silero_vad.tflite for ``backend="litert"``."""
    name = "silero_vad.tflite" if backend == "litert" else "silero_vad.onnx"
    return Path(str(resources.files("edge_vc.data").joinpath(name)))


@dataclass
class VadResult:
    """Per-window speech probabilities of one recording at 16 kHz."""

    probs: np.ndarray
    """Speech probability per 32 ms window."""

    hop_seconds: float = WINDOW / VAD_RATE

    @property
    def speech_mask(self) -> np.ndarray:
        return self.probs >= SPEECH_THRESHOLD

    @property
    def speech_seconds(self) -> float:
        return float(self.speech_mask.sum() * self.hop_seconds)

    def sample_mask(self, n_samples: int, sample_rate: int, pad_seconds: float = 0.0) -> np.ndarray:
        """Speech mask expanded to ``n_samples`` at ``sample_rate`` (optionally widened by ``pad_seconds``)."""
        mask = self.speech_mask.astype(bool)
        if pad_seconds > 0 and mask.size:
            width = int(round(pad_seconds / self.hop_seconds))
            mask = np.convolve(mask.astype(np.float32), np.ones(2 * width + 1, np.float32), mode="same") > 0
        times = np.arange(n_samples) / float(sample_rate)
        index = np.minimum((times / self.hop_seconds).astype(np.int64), max(mask.size - 1, 0))
        if mask.size == 0:
            return np.zeros(n_samples, dtype=bool)
        return np.asarray(mask, dtype=bool)[index]


class SileroVAD:
    """Streaming silero-vad over a whole recording (ONNX or TFLite: the active backend's file by default)."""

    def __init__(self, path: str | Path | None = None, threads: int | None = 1) -> None:
        from edge_vc.backends import select
        from edge_vc.backends.model import load_model

        self.model = load_model(Path(path) if path else vad_model_path(select.current()), threads=threads)
        names = self.model.input_names
        self._state_name = next((n for n in names if "state" in n), names[-1])
        self._input_name = next(n for n in names if n != self._state_name and "sr" != n)
        self._has_rate = "sr" in names
        outs = self.model.output_names
        self._state_out = next((i for i, n in enumerate(outs) if "state" in n.lower()), 1)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> VadResult:
        """Speech probability for each 32 ms window of ``audio``."""
        from edge_vc.audio.io import resample

        audio16 = resample(np.asarray(audio, dtype=np.float32), sample_rate, VAD_RATE)
        n = len(audio16) // WINDOW
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros((1, CONTEXT), dtype=np.float32)
        rate = np.array(VAD_RATE, dtype=np.int64)
        probs = np.zeros(n, dtype=np.float32)
        for i in range(n):
            frame = np.concatenate([context, audio16[None, i * WINDOW : (i + 1) * WINDOW]], axis=1)
            feed = {self._input_name: frame, self._state_name: state}
            if self._has_rate:
                feed["sr"] = rate
            outputs = self.model.run(feed)
            out, state = outputs[1 - self._state_out], outputs[self._state_out]
            context = frame[:, -CONTEXT:]
            probs[i] = float(out[0, 0])
        return VadResult(probs)
