"""A Piper VITS voice on LiteRT (TFLite): three fixed-size parts and the numpy glue between them.

``edge-vc export voice --format tflite`` writes ``NAME.encoder.tflite``, ``NAME.flow.tflite``,
``NAME.decoder.tflite`` and ``NAME.tflite.json`` (the Piper config plus the part sizes)::

    encoder  ids [1, P] (padded), input_lengths, scales, noise [1, 2, P] -> m_p, logs_p, logw, x_mask
    flow     z_p [1, 192, W], y_mask [1, 1, W]                          -> z [1, 192, W]  (windows)
    decoder  z [1, 192, W]                                               -> audio [W * hop] (windows)

Durations -> frames, the prior noise and the duration predictor's noise run in numpy here, so the
parts have static shapes (what TFLite and NPUs need). A sentence longer than the encoder's P ids is
encoded in pieces cut at word gaps. ``LatentSession`` and ``DecoderSession`` give ``BaseVoice`` the
``run(None, feeds)`` it calls on onnxruntime sessions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from edge_vc.configs import from_mapping
from edge_vc.errors import ModelLoadError, VoiceNotFoundError

HOP = 256
PART_NAMES = ("encoder", "flow", "decoder")
SIDECAR_SUFFIX = ".tflite.json"
Runner = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


@dataclass
class PartsConfig:
    """Fixed sizes of the parts (frames are 256 samples)."""

    max_phonemes: int = 256
    flow_core: int = 256
    flow_context: int = 40
    """Frames of context on each side of a flow window (4 couplings x 4 WaveNet layers x kernel 5 -> 32)."""

    decoder_core: int = 128
    decoder_context: int = 12
    """Frames of context on each side of a decoder window (HiFi-GAN receptive field ~ +-8 frames)."""

    def validate(self) -> None:
        if min(self.max_phonemes, self.flow_core, self.decoder_core) < 8:
            raise ValueError("part sizes must be >= 8")
        if self.flow_context < 0 or self.decoder_context < 0:
            raise ValueError("contexts must be >= 0")

    @property
    def flow_window(self) -> int:
        return self.flow_core + 2 * self.flow_context

    @property
    def decoder_window(self) -> int:
        return self.decoder_core + 2 * self.decoder_context

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @staticmethod
    def from_dict(data: dict) -> PartsConfig:
        return from_mapping(PartsConfig, data, what="TFLite voice parts", unknown="ignore")


def expand_durations(m_p, logs_p, logw, x_mask, length_scale: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Repeat each phoneme's prior by its (ceil) duration, as Piper's graph does; returns m, logs, frames."""
    w = np.exp(logw) * x_mask * length_scale
    w_ceil = np.ceil(w)[0, 0].astype(np.int64)
    frames = max(int(w_ceil.sum()), 1)
    index = np.repeat(np.arange(w_ceil.size), w_ceil)
    if index.size == 0:
        index = np.zeros(1, dtype=np.int64)
    return m_p[:, :, index], logs_p[:, :, index], frames


def windows(total: int, core: int, context: int):
    """(window start, core start, core end) triples covering [0, total); windows may reach outside."""
    for start in range(0, total, core):
        yield start - context, start, min(start + core, total)


def run_windowed(run: Runner, x: np.ndarray, core: int, context: int, mask: bool, hop: int = 1) -> np.ndarray:
    """Apply a fixed-size part over the last axis of ``x`` in overlapping windows; keep each window's core."""
    total = x.shape[-1]
    size = core + 2 * context
    pieces = []
    for w_start, c_start, c_end in windows(total, core, context):
        chunk = np.zeros(x.shape[:-1] + (size,), dtype=np.float32)
        lo, hi = max(w_start, 0), min(w_start + size, total)
        chunk[..., lo - w_start : hi - w_start] = x[..., lo:hi]
        feeds: dict[str, np.ndarray] = {"x": chunk}
        if mask:
            m = np.zeros((1, 1, size), dtype=np.float32)
            m[..., lo - w_start : hi - w_start] = 1.0
            feeds["mask"] = m
        out = run(feeds)[0]
        out = out.reshape(out.shape[0], -1, out.shape[-1]) if out.ndim > 2 else out
        a, b = (c_start - w_start) * hop, (c_end - w_start) * hop
        pieces.append(out[..., a:b])
    return np.concatenate(pieces, axis=-1)


def split_ids(ids: list[int], limit: int, gaps: set[int]) -> list[list[int]]:
    """Pieces of at most ``limit`` ids, cut after the last word gap (else hard) before the limit."""
    pieces, rest = [], list(ids)
    while len(rest) > limit:
        cut = max((i + 1 for i in range(limit // 2, limit) if rest[i] in gaps), default=limit)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return pieces + [rest] if rest else pieces


@dataclass
class PartsVoice:
    """Synthesis through the three parts: encoder once per piece, flow and decoder in windows."""

    encoder: Runner
    flow: Runner
    decoder: Runner
    config: PartsConfig
    gaps: set[int] = field(default_factory=set)
    """Ids at which a sentence longer than the encoder may be cut (the voice's space phoneme)."""

    def prior(self, ids: list[int], scales, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(m, logs) [1, 192, frames] of the ids, expanded by the predicted durations."""
        cfg = self.config
        means, logs = [], []
        for piece in split_ids(ids, cfg.max_phonemes, self.gaps):
            padded = np.zeros((1, cfg.max_phonemes), dtype=np.int64)
            padded[0, : len(piece)] = piece
            feeds: dict[str, np.ndarray] = {
                "input": padded,
                "input_lengths": np.asarray([len(piece)], dtype=np.int64),
                "scales": np.asarray(scales, dtype=np.float32),
                "noise": rng.standard_normal((1, 2, cfg.max_phonemes)).astype(np.float32),
            }
            m_p, logs_p, logw, x_mask = self.encoder(feeds)
            m, s, _ = expand_durations(m_p, logs_p, logw, x_mask, float(scales[1]))
            means.append(m)
            logs.append(s)
        return np.concatenate(means, axis=-1), np.concatenate(logs, axis=-1)

    def latent(self, ids: list[int], scales=(0.0, 1.0, 0.0), rng: np.random.Generator | None = None) -> np.ndarray:
        """Flow output z [1, 192, frames] for one phoneme-id sequence."""
        cfg = self.config
        rng = rng or np.random.default_rng()
        m, logs = self.prior(ids, scales, rng)
        noise = rng.standard_normal(m.shape).astype(np.float32)
        z_p = (m + noise * np.exp(logs) * float(scales[0])).astype(np.float32)
        return run_windowed(
            lambda f: self.flow({"z_p": f["x"], "y_mask": f["mask"]}), z_p, cfg.flow_core, cfg.flow_context, True
        )

    def decode(self, z: np.ndarray) -> np.ndarray:
        cfg = self.config
        audio = run_windowed(
            lambda f: self.decoder({"z_in": f["x"]}), z, cfg.decoder_core, cfg.decoder_context, False, HOP
        )
        return audio.reshape(-1).astype(np.float32)

    def render(self, ids: list[int], scales=(0.0, 1.0, 0.0)) -> np.ndarray:
        return self.decode(self.latent(ids, scales))


def tflite_runner(
    path: str | Path, output_shapes, order: list[int] | None = None, threads: int | None = None
) -> Runner:
    """A part on LiteRT with the ONNX part's layout: onnx2tf's channels-last tensors are transposed back.

    ``order[i]`` is the interpreter output that holds the ONNX part's output ``i`` (measured at export).
    Feeds the part does not take are ignored. With ``output_shapes`` None it returns the raw outputs.
    """
    from edge_vc.backends.tflite import interpreter_class

    try:
        interpreter = interpreter_class()(model_path=str(path), num_threads=int(threads or os.cpu_count() or 1))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load TFLite model {path}: {exc}") from exc
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    outputs = interpreter.get_output_details()
    order = list(order) if order is not None else list(range(len(outputs)))
    shapes = [tuple(s) for s in output_shapes] if output_shapes is not None else None

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        for name, value in feeds.items():
            detail = inputs.get(name)
            if detail is None:
                continue
            value = np.asarray(value, dtype=detail["dtype"])
            if tuple(value.shape) != tuple(detail["shape"]) and value.ndim == 3:
                value = np.ascontiguousarray(value.transpose(0, 2, 1))
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        if shapes is None:
            return [np.array(interpreter.get_tensor(d["index"])) for d in outputs]
        results = []
        for index, shape in zip(order, shapes, strict=True):
            out = interpreter.get_tensor(outputs[index]["index"])
            if out.shape != shape and out.ndim == 3 and out.shape == (shape[0], shape[2], shape[1]):
                out = out.transpose(0, 2, 1)
            results.append(np.ascontiguousarray(out).reshape(shape))
        return results

    return run


def find_sidecar(model_path: Path, name: str) -> Path | None:
    """``NAME.tflite.json`` beside the voice, in the voice store or among the shipped voices."""
    from edge_vc.data import voices
    from edge_vc.paths import voices_dir

    for folder in (model_path.parent, voices_dir(), voices.FOLDER):
        candidate = folder / f"{name}{SIDECAR_SUFFIX}"
        if candidate.is_file() and all((folder / f"{name}.{part}.tflite").is_file() for part in PART_NAMES):
            return candidate
    return None


def load_parts(sidecar: str | Path, threads: int | None = None) -> PartsVoice:
    """The three LiteRT parts named by a ``NAME.tflite.json``; ModelLoadError when one is missing."""
    sidecar = Path(sidecar)
    if not sidecar.is_file():
        raise VoiceNotFoundError(f"TFLite voice config not found: {sidecar}")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        cfg = PartsConfig.from_dict(data["edge_vc_tflite_parts"])
        shapes = data["edge_vc_tflite_output_shapes"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"{sidecar} is not an edge-vc TFLite voice config: {exc}") from exc
    orders = data.get("edge_vc_tflite_output_order", {})
    stem = sidecar.name[: -len(SIDECAR_SUFFIX)]
    runners = []
    for part in PART_NAMES:
        path = sidecar.with_name(f"{stem}.{part}.tflite")
        if not path.is_file():
            raise ModelLoadError(
                f"{path.name} is missing beside {sidecar.name}: convert the voice with "
                "'edge-vc export voice --format tflite'"
            )
        runners.append(tflite_runner(path, shapes[part], orders.get(part), threads))
    gaps = {int(i) for i in data.get("phoneme_id_map", {}).get(" ", [])}
    encoder, flow, decoder = runners
    return PartsVoice(encoder, flow, decoder, cfg, gaps=gaps)


class LatentSession:
    """Phoneme ids -> flow output z, through the LiteRT encoder and flow (an onnxruntime-like ``run``)."""

    def __init__(self, parts: PartsVoice):
        self.parts = parts

    def get_inputs(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(name=n) for n in ("input", "input_lengths", "scales")]

    def run(self, _outputs, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        ids = [int(i) for i in np.asarray(feeds["input"]).reshape(-1)[: int(np.asarray(feeds["input_lengths"])[0])]]
        return [self.parts.latent(ids, tuple(float(s) for s in np.asarray(feeds["scales"]).reshape(-1)))]


class DecoderSession:
    """Latent z -> audio through the LiteRT decoder in fixed windows (an onnxruntime-like ``run``)."""

    input_name = "z_in"

    def __init__(self, parts: PartsVoice):
        self.parts = parts

    def run(self, _outputs, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.parts.decode(np.asarray(feeds[self.input_name], dtype=np.float32))]
