"""Speaker encoder (GE2E d-vector) at run time: ONNX or TFLite, numpy front-end, no torch.

    encoder = SpeakerEncoder.load()                 # bundled INT8 model of the active backend
    vector = encoder.embed(audio, sample_rate)      # (256,) float32, L2-normalised
    encoder.similarity(vector, other)               # cosine

``embed`` follows resemblyzer's ``preprocess_wav`` + ``embed_utterance``: resample to 16 kHz, raise
quiet audio to -30 dBFS, trim long silences, cut 1.6 s partial windows every 0.77 s (rate 1.3/s,
last window kept if >= 75 % covered), embed each, average, L2-normalise. Every parameter is read
from the metadata stored inside the model file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_vc.audio.io import resample
from edge_vc.backends.model import ModelRunner, load_model
from edge_vc.errors import AudioFormatError, ModelLoadError, VoiceNotFoundError
from edge_vc.features.mel import MelConfig, mel_spectrogram
from edge_vc.speaker.preprocess import PreprocessConfig, normalize_volume, preprocess

KIND = "speaker-encoder"
EXPORT_VERSION = 1
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "data" / "speaker_encoder.int8.onnx"
BUNDLED_TFLITE = BUNDLED_MODEL.with_suffix(".tflite")
"""The same GE2E weights for LiteRT (dynamic-range INT8, first LSTM float; cosine to fp32 ONNX >= 0.997).

Its metadata names the ONNX file it stands in for (``twin_file``/``twin_sha256``): a profile records
that identity, so profiles enrolled on either backend load on both."""
REQUIRED_KEYS = (
    "edge_vc.kind",
    "edge_vc.export_version",
    "sample_rate",
    "mel",
    "preprocess",
    "partial_frames",
    "partial_rate",
    "min_coverage",
    "embedding_size",
    "input_name",
    "output_name",
)


@dataclass
class EncoderMetadata:
    """What the runtime needs to know about a speaker-encoder file (stored inside it)."""

    sample_rate: int = 16000
    mel: MelConfig = field(default_factory=MelConfig.resemblyzer)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    partial_frames: int = 160
    """Mel frames per partial window (160 = 1.6 s)."""

    partial_rate: float = 1.3
    """Partial windows per second of audio (resemblyzer's ``rate``)."""

    min_coverage: float = 0.75
    """The last partial window is kept if at least this fraction of it has audio."""

    embedding_size: int = 256
    input_name: str = "mels"
    output_name: str = "embedding"
    precision: str = "fp32"
    """``fp32`` or ``int8`` (informative)."""

    source: str = "resemblyzer 0.1.4 pretrained.pt (GE2E, Resemble AI)"
    license: str = "Apache-2.0"
    export_version: int = EXPORT_VERSION
    extra: dict[str, str] = field(default_factory=dict)
    """Other keys found in the file (parity figures, export command...)."""

    def validate(self) -> None:
        """Raise ValueError for inconsistent settings."""
        self.mel.validate()
        self.preprocess.validate()
        if self.mel.sample_rate != self.sample_rate:
            raise ValueError(f"mel sample_rate {self.mel.sample_rate} differs from model rate {self.sample_rate}")
        if self.partial_frames <= 0 or self.embedding_size <= 0:
            raise ValueError("partial_frames and embedding_size must be > 0")
        hop_seconds = self.mel.hop_length / self.sample_rate
        if not 1.0 / (self.partial_frames * hop_seconds) <= self.partial_rate <= 1.0 / hop_seconds:
            raise ValueError(f"partial_rate {self.partial_rate} leaves gaps between windows or is too high")
        if not 0 < self.min_coverage <= 1:
            raise ValueError(f"min_coverage must be in (0, 1], got {self.min_coverage}")

    @property
    def frame_step(self) -> int:
        """Mel frames between the starts of two partial windows (77 for resemblyzer)."""
        return int(np.round((self.sample_rate / self.partial_rate) / self.mel.hop_length))

    def to_dict(self) -> dict[str, str]:
        """Flat string map, as stored in ONNX ``metadata_props`` / the TFLite metadata entry."""
        values = dict(self.extra)
        values.update(
            {
                "edge_vc.kind": KIND,
                "edge_vc.export_version": str(self.export_version),
                "sample_rate": str(self.sample_rate),
                "mel": json.dumps(self.mel.to_dict(), sort_keys=True),
                "preprocess": json.dumps(self.preprocess.to_dict(), sort_keys=True),
                "partial_frames": str(self.partial_frames),
                "partial_rate": repr(float(self.partial_rate)),
                "min_coverage": repr(float(self.min_coverage)),
                "embedding_size": str(self.embedding_size),
                "input_name": self.input_name,
                "output_name": self.output_name,
                "precision": self.precision,
                "source": self.source,
                "license": self.license,
            }
        )
        return values

    @staticmethod
    def from_dict(values: dict[str, str], where: str = "model") -> EncoderMetadata:
        """Parse the stored map; ModelLoadError when keys are missing or belong to another kind of model."""
        if not values:
            raise ModelLoadError(f"{where} has no edge-vc metadata; export it with `edge-vc export speaker-encoder`")
        kind = values.get("edge_vc.kind")
        if kind is not None and kind != KIND:
            raise ModelLoadError(f"{where} is a {kind!r} model, not a {KIND}")
        missing = [k for k in REQUIRED_KEYS if k not in values]
        if missing:
            raise ModelLoadError(f"{where} is not an edge-vc speaker encoder: metadata lacks {', '.join(missing)}")
        version = int(values["edge_vc.export_version"])
        if version > EXPORT_VERSION:
            raise ModelLoadError(f"{where} has export version {version}; this edge-vc reads up to {EXPORT_VERSION}")
        known = set(REQUIRED_KEYS) | {"precision", "source", "license"}
        try:
            meta = EncoderMetadata(
                sample_rate=int(values["sample_rate"]),
                mel=MelConfig.from_dict(json.loads(values["mel"])),
                preprocess=PreprocessConfig.from_dict(json.loads(values["preprocess"])),
                partial_frames=int(values["partial_frames"]),
                partial_rate=float(values["partial_rate"]),
                min_coverage=float(values["min_coverage"]),
                embedding_size=int(values["embedding_size"]),
                input_name=values["input_name"],
                output_name=values["output_name"],
                precision=values.get("precision", "fp32"),
                source=values.get("source", ""),
                license=values.get("license", ""),
                export_version=version,
                extra={k: v for k, v in values.items() if k not in known},
            )
            meta.validate()
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(f"{where} has invalid speaker-encoder metadata: {exc}") from exc
        return meta


@dataclass
class WindowEmbeddings:
    """Per-window embeddings of one recording."""

    embeddings: np.ndarray
    """(n_windows, embedding_size), each row L2-normalised."""

    starts: np.ndarray
    """Start of each window in seconds of the input audio."""

    duration: float
    """Length of each window in seconds."""


def partial_slices(n_samples: int, meta: EncoderMetadata) -> list[slice]:
    """Mel-frame slices of the partial windows (resemblyzer's compute_partial_slices)."""
    hop = meta.mel.hop_length
    n_frames = int(np.ceil((n_samples + 1) / hop))
    step = meta.frame_step
    steps = max(1, n_frames - meta.partial_frames + step + 1)
    slices = [slice(i, i + meta.partial_frames) for i in range(0, steps, step)]
    last = slices[-1]
    coverage = (n_samples - last.start * hop) / ((last.stop - last.start) * hop)
    if coverage < meta.min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices


class SpeakerEncoder:
    """GE2E d-vector encoder over any backend; parameters come from the model file."""

    def __init__(self, model: ModelRunner, metadata: EncoderMetadata):
        self.model = model
        self.metadata = metadata
        self.path = Path(model.path)
        if len(model.input_names) != 1 and metadata.input_name not in model.input_names:
            raise ModelLoadError(
                f"{self.path}: metadata names input {metadata.input_name!r}, the model has {model.input_names}"
            )

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int | None = None) -> SpeakerEncoder:
        """Open an exported encoder (.onnx or .tflite); None = the bundled model of the active backend."""
        path = Path(path) if path is not None else bundled_model()
        model = load_model(path, threads)
        return cls(model, EncoderMetadata.from_dict(model.metadata, where=str(path)))

    def identity(self) -> tuple[str, str]:
        """(file name, sha256) a profile records: the ONNX twin's for a bundled TFLite conversion."""
        extra = self.metadata.extra
        if extra.get("twin_file") and extra.get("twin_sha256"):
            return extra["twin_file"], extra["twin_sha256"]
        import hashlib

        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return self.path.name, digest.hexdigest()

    @property
    def sample_rate(self) -> int:
        """Rate the encoder works at (input audio at other rates is resampled)."""
        return self.metadata.sample_rate

    @property
    def embedding_size(self) -> int:
        return self.metadata.embedding_size

    def prepare(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Resample, normalise volume and trim long silences (resemblyzer's preprocess_wav)."""
        audio = resample(_mono(audio), int(sample_rate), self.sample_rate)
        return preprocess(audio, self.sample_rate, self.metadata.preprocess)

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of partial windows (n, partial_frames, n_mels) → (n, embedding_size)."""
        mels = np.ascontiguousarray(mels, dtype=np.float32)
        fixed = getattr(self.model, "input_shape", None)
        batch = fixed()[0] if fixed else None
        if isinstance(batch, int) and batch > 0 and batch != mels.shape[0]:
            out = [self._run(mels[i : i + 1]) for i in range(mels.shape[0])]
            return np.concatenate(out, axis=0).astype(np.float32)
        return self._run(mels)

    def _run(self, mels: np.ndarray) -> np.ndarray:
        feed = [mels] if len(self.model.input_names) == 1 else {self.metadata.input_name: mels}
        return np.asarray(self.model.run(feed)[0], dtype=np.float32)

    def embed_prepared(self, audio: np.ndarray, return_partials: bool = False):
        """``embed_utterance`` on audio that is already preprocessed at ``sample_rate``."""
        audio = np.asarray(audio, dtype=np.float32)
        slices = partial_slices(audio.size, self.metadata)
        needed = slices[-1].stop * self.metadata.mel.hop_length
        if needed >= audio.size:
            audio = np.pad(audio, (0, needed - audio.size))
        mel = mel_spectrogram(audio, self.metadata.mel)
        partials = self.embed_mels(np.stack([mel[s] for s in slices]))
        embedding = _l2(partials.mean(axis=0))
        return (embedding, partials) if return_partials else embedding

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """One L2-normalised embedding (embedding_size,) for a recording of one speaker."""
        prepared = self.prepare(audio, sample_rate)
        if prepared.size == 0:
            raise AudioFormatError("no speech to embed: the audio is empty or silent")
        return self.embed_prepared(prepared)

    def embed_windows(self, audio: np.ndarray, sample_rate: int, hop_seconds: float | None = None) -> WindowEmbeddings:
        """Embeddings of 1.6 s windows across the recording, without silence trimming (times stay true).

        ``hop_seconds`` defaults to the encoder's partial hop (0.77 s). Use it to spot other voices:
        windows whose similarity to the recording's embedding is low.
        """
        meta = self.metadata
        audio = resample(_mono(audio), int(sample_rate), self.sample_rate)
        audio = normalize_volume(audio, meta.preprocess.target_dbfs)
        hop = meta.mel.hop_length
        step = meta.frame_step if hop_seconds is None else max(1, int(round(hop_seconds * self.sample_rate / hop)))
        mel = mel_spectrogram(audio, meta.mel)
        if mel.shape[0] < meta.partial_frames:
            mel = np.pad(mel, ((0, meta.partial_frames - mel.shape[0]), (0, 0)))
        starts = list(range(0, mel.shape[0] - meta.partial_frames + 1, step))
        windows = np.stack([mel[s : s + meta.partial_frames] for s in starts])
        return WindowEmbeddings(
            embeddings=self.embed_mels(windows),
            starts=np.asarray(starts, dtype=np.float64) * hop / self.sample_rate,
            duration=meta.partial_frames * hop / self.sample_rate,
        )

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        """Cosine similarity of two embeddings (1 = same direction)."""
        a = np.asarray(a, dtype=np.float64).ravel()
        b = np.asarray(b, dtype=np.float64).ravel()
        denom = np.linalg.norm(a) * np.linalg.norm(b)
        return float(a @ b / denom) if denom > 0 else 0.0

    def describe(self) -> dict[str, Any]:
        """Short summary for reports and ``--json`` output."""
        return {"path": str(self.path), "backend": self.path.suffix.lstrip("."), **self.metadata.to_dict()}


def bundled_model(backend: str | None = None) -> Path:
    """The shipped encoder for ``backend`` (None: the active one, ``edge_vc.backends.select.current()``)."""
    if backend is None:
        from edge_vc.backends import select

        backend = select.current()
    path = BUNDLED_TFLITE if backend == "litert" else BUNDLED_MODEL
    if not path.is_file():
        raise VoiceNotFoundError(f"speaker encoder for the {backend} backend is not installed ({path})")
    return path


def _mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1 if audio.shape[1] <= 2 else 0)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono, got shape {audio.shape}")
    return audio


def _l2(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)
