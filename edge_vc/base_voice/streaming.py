"""Streaming by decoder windows: split a Piper VITS into "phoneme ids → latent" and "latent → audio".

The HiFi-GAN decoder of a VITS voice is convolutional with a short receptive field, so the latent
``z`` can be decoded in windows with a few frames of context on each side and the pieces join
exactly. The first sound then waits only for the text encoder/flow and one small window, not for the
whole sentence. The split is done once per voice with the ``onnx`` package and cached.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_vc.fileio import atomic_path, atomic_write_text
from edge_vc.paths import cache_dir

_LOGGER = logging.getLogger(__name__)

DECODER_WEIGHT = "dec.conv_pre.weight"
"""Initializer name of the decoder's first convolution in Piper exports."""

CONTEXT_FRAMES = 12
"""Latent frames of context on each side of a window (measured exact to 1e-6 on joe)."""

FIRST_WINDOW_FRAMES = 16
"""First window: ~0.19 s of audio at hop 256 / 22 050 Hz."""

MAX_WINDOW_FRAMES = 256


@dataclass
class SplitPaths:
    encoder: Path
    decoder: Path
    decoder_input: str
    hop_length: int


def _stamp(model_path: Path) -> dict[str, int]:
    stat = model_path.stat()
    return {"size": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)}


def split_voice(model_path: Path, name: str) -> SplitPaths | None:
    """Encoder and decoder parts of a Piper voice (cached); None if it can't be split here.

    Any failure (no ``onnx`` package, unreadable model, unwritable cache) means "no split": the
    caller then loads the whole model, which reports real problems with the file itself.
    """
    if not model_path.is_file():
        return None
    try:
        return _split_voice(model_path, name)
    except Exception as exc:  # noqa: BLE001 - a failed split only costs streaming granularity
        _LOGGER.debug("cannot split %s for streaming: %s", model_path, exc)
        return None


def _split_voice(model_path: Path, name: str) -> SplitPaths | None:
    folder = cache_dir() / "streaming" / name
    stamp_file = folder / "split.json"
    stamp = _stamp(model_path)
    if stamp_file.is_file():
        try:
            saved = json.loads(stamp_file.read_text("utf-8"))
            if saved.get("stamp") == stamp and (folder / "encoder.onnx").is_file():
                return SplitPaths(
                    folder / "encoder.onnx", folder / "decoder.onnx", saved["decoder_input"], int(saved["hop_length"])
                )
            if saved.get("stamp") == stamp and saved.get("unsplittable"):
                return None
        except (OSError, ValueError, KeyError):
            pass
    try:
        import onnx
        from onnx.utils import Extractor
    except ImportError:
        return None
    model = onnx.load(str(model_path))
    decoder_input = _decoder_input(model)
    folder.mkdir(parents=True, exist_ok=True)
    if decoder_input is None:
        atomic_write_text(stamp_file, json.dumps({"stamp": stamp, "unsplittable": True}))
        return None
    graph_inputs = [i.name for i in model.graph.input]
    extractor = Extractor(model)
    encoder = extractor.extract_model(graph_inputs, [decoder_input])
    decoder = extractor.extract_model([decoder_input], [o.name for o in model.graph.output])
    hop_length = _hop_length(model)
    for part, path in ((encoder, folder / "encoder.onnx"), (decoder, folder / "decoder.onnx")):
        with atomic_path(path) as tmp:
            onnx.save(part, str(tmp))
    atomic_write_text(
        stamp_file, json.dumps({"stamp": stamp, "decoder_input": decoder_input, "hop_length": hop_length})
    )
    return SplitPaths(folder / "encoder.onnx", folder / "decoder.onnx", decoder_input, hop_length)


def _decoder_input(model) -> str | None:
    producers = {o: n for n in model.graph.node for o in n.output}

    def through_qdq(name: str) -> str:
        """Skip (Quantize ->) DequantizeLinear of an INT8 export back to the fp32 tensor / weight name."""
        node = producers.get(name)
        while node is not None and node.op_type in ("DequantizeLinear", "QuantizeLinear"):
            name = node.input[0]
            node = producers.get(name)
        return name

    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2:
            continue
        weight = through_qdq(node.input[1])
        if weight in (DECODER_WEIGHT, DECODER_WEIGHT + "_quantized"):
            return through_qdq(node.input[0])
    return None


def _hop_length(model) -> int:
    """Product of the decoder's ConvTranspose strides (samples per latent frame)."""
    hop = 1
    for node in model.graph.node:
        if node.op_type == "ConvTranspose" and node.name.startswith("/dec"):
            for attribute in node.attribute:
                if attribute.name == "strides":
                    hop *= int(attribute.ints[0])
    return hop if hop > 1 else 256


def decode_windows(
    decode, z: np.ndarray, hop_length: int, first: int = FIRST_WINDOW_FRAMES, context: int = CONTEXT_FRAMES
) -> Iterator[tuple[np.ndarray, bool]]:
    """(audio, is final) of latent ``z`` [1, C, T] in growing windows (first, 4×first, … up to a cap)."""
    frames = z.shape[2]
    start, window = 0, first
    while start < frames:
        end = min(frames, start + window)
        if frames - end < window // 2:  # don't leave a tiny last window
            end = frames
        lo, hi = max(0, start - context), min(frames, end + context)
        audio = decode(z[:, :, lo:hi]).reshape(-1)
        offset = (start - lo) * hop_length
        yield audio[offset : offset + (end - start) * hop_length], end == frames
        start, window = end, min(window * 4, MAX_WINDOW_FRAMES)
