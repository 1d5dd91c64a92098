"""The learned stage's adapted decoder as TFLite (``decoder.tflite`` beside ``decoder.onnx``), for LiteRT.

Written by ``edge-vc adapt`` (``edge_vc.train.adapt.export_decoder``) when TensorFlow is installed, so a
board without onnxruntime (and without TensorFlow) only loads it. The decoder is rebuilt in TensorFlow
from the PyTorch weights with the speaker fixed: the content standardisation is folded into the input
1×1 conv, each block's FiLM scale and shift into its dilated conv, the speaker's mel bias into the
output conv (exact algebra, float32). The frame count stays dynamic (TFLite resizes the inputs), the
GELU is the exact (erf) one, inputs and output keep the ONNX names and layout: ``content`` [1, T, 384],
``pitch`` [1, T, 2] (pitch decoders), ``mel`` [1, 80, T]. Weights stay float32 (~10 MB, like the ONNX).
"""

from __future__ import annotations

import os

import numpy as np


def torch_state(model) -> tuple[dict[str, np.ndarray], list[int]]:
    """``VoiceDecoder``'s parameters as numpy (state-dict names) and each block's dilation."""
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return state, [int(block.conv.dilation[0]) for block in model.blocks]


def onnx_state(path) -> tuple[dict[str, np.ndarray], list[int], dict[str, str]]:
    """The same from an exported ``decoder.onnx`` (its initializers keep the PyTorch names), with its metadata.

    For profiles adapted before ``decoder.tflite`` existed: no PyTorch needed, only onnx and TensorFlow.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    prefix = "decoder."
    state = {
        i.name[len(prefix) :]: numpy_helper.to_array(i) for i in model.graph.initializer if i.name.startswith(prefix)
    }
    dilations: dict[int, int] = {}
    for node in model.graph.node:
        weight = node.input[1] if node.op_type == "Conv" and len(node.input) > 1 else ""
        if weight.startswith(prefix + "blocks.") and weight.endswith(".conv.weight"):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            dilations[int(weight.split(".")[2])] = int(attrs.get("dilations", [1])[0])
    if "inp.weight" not in state or "film.weight" not in state or len(dilations) == 0:
        raise ValueError(f"{path} is not an edge-vc learned decoder (missing decoder.* initializers)")
    metadata = {p.key: p.value for p in model.metadata_props}
    speaker = next((numpy_helper.to_array(i) for i in model.graph.initializer if i.name == "speaker"), None)
    metadata["speaker"] = str(int(np.asarray(speaker).reshape(-1)[0])) if speaker is not None else "1"
    return state, [dilations[i] for i in range(len(dilations))], metadata


def folded_weights(state: dict[str, np.ndarray], dilations: list[int], speaker: int = 1) -> dict:
    """Weights of the decoder fixed to ``speaker``, with standardisation, FiLM and mel bias folded in."""

    def conv(name: str) -> tuple[np.ndarray, np.ndarray]:  # torch (out, in, k) -> tf (k, in, out)
        return state[name + ".weight"].transpose(2, 1, 0).astype(np.float64), state[name + ".bias"].astype(np.float64)

    mean = state["content_mean"].astype(np.float64)
    std = state["content_std"].astype(np.float64)
    w_in, b_in = conv("inp")
    w_in = w_in / std[None, :, None]
    b_in = b_in - np.einsum("kio,i->o", w_in, mean)
    film = state["film.weight"][speaker].astype(np.float64).reshape(len(dilations), 2, -1)
    blocks = []
    for i, dilation in enumerate(dilations):
        w, b = conv(f"blocks.{i}.conv")
        scale = 1.0 + film[i, 0]
        blocks.append(
            {
                "w": w * scale[None, None, :],
                "b": b * scale + film[i, 1],
                "dilation": dilation,
                "pad": dilation * (w.shape[0] - 1) // 2,
                "proj": conv(f"blocks.{i}.proj"),
            }
        )
    w_out, b_out = conv("out")
    b_out = b_out + state["mel_bias.weight"][speaker].astype(np.float64)
    pitch = conv("pitch_inp") if "pitch_inp.weight" in state else None
    return {"inp": (w_in, b_in), "pitch": pitch, "blocks": blocks, "out": (w_out, b_out)}


def tf_module(weights: dict, content_dim: int, pitch_dim: int):
    """A tf.Module whose ``decode(content[, pitch])`` returns ``{"mel": [1, n_mels, T]}``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    def const(pair):
        return tf.constant(pair[0].astype(np.float32)), tf.constant(pair[1].astype(np.float32))

    w_in, b_in = const(weights["inp"])
    w_pitch, b_pitch = const(weights["pitch"]) if weights["pitch"] is not None else (None, None)
    blocks = [(*const((b["w"], b["b"])), *const(b["proj"]), b["dilation"], b["pad"]) for b in weights["blocks"]]
    w_out, b_out = const(weights["out"])

    def body(content, pitch):
        x = tf.nn.conv1d(content, w_in, stride=1, padding="VALID") + b_in
        if pitch is not None:
            x = x + tf.nn.conv1d(pitch, w_pitch, stride=1, padding="VALID") + b_pitch
        for w, b, w_p, b_p, dilation, pad in blocks:
            h = tf.pad(x, [[0, 0], [pad, pad], [0, 0]])
            h = tf.nn.conv1d(h, w, stride=1, padding="VALID", dilations=dilation) + b
            x = x + tf.nn.conv1d(tf.nn.gelu(h, approximate=False), w_p, stride=1, padding="VALID") + b_p
        mel = tf.nn.conv1d(x, w_out, stride=1, padding="VALID") + b_out
        return {"mel": tf.transpose(mel, [0, 2, 1])}

    content_spec = tf.TensorSpec([1, None, content_dim], tf.float32, name="content")
    if pitch_dim:
        pitch_spec = tf.TensorSpec([1, None, pitch_dim], tf.float32, name="pitch")

        class PitchDecoder(tf.Module):
            @tf.function(input_signature=[content_spec, pitch_spec])
            def decode(self, content, pitch):
                return body(content, pitch)

        return PitchDecoder()

    class Decoder(tf.Module):
        @tf.function(input_signature=[content_spec])
        def decode(self, content):
            return body(content, None)

    return Decoder()


def convert(state: dict[str, np.ndarray], dilations: list[int], metadata: dict[str, str], speaker: int = 1) -> bytes:
    """TFLite flatbuffer of the decoder (``torch_state``/``onnx_state``) fixed to ``speaker``, with ``metadata``."""
    import tensorflow as tf
    from edge_vc.export.speaker_encoder_tflite import add_metadata

    weights = folded_weights(state, dilations, speaker)
    pitch_dim = 0 if weights["pitch"] is None else int(weights["pitch"][0].shape[1])
    module = tf_module(weights, int(weights["inp"][0].shape[1]), pitch_dim)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.decode.get_concrete_function()], module)
    return add_metadata(converter.convert(), metadata)


def export(model, path, metadata: dict[str, str], probe: list[np.ndarray], expected: np.ndarray, speaker: int = 1):
    """Write ``path`` (.tflite) and check it on ``probe`` against the PyTorch ``expected`` mel.

    Returns max |TFLite - torch| (also stored in the file as ``torch_max_abs_diff``), or None when
    TensorFlow is not installed: then no TFLite decoder is written and a stale one is removed.
    """
    from pathlib import Path

    from edge_vc.backends.tflite import TFLiteModel
    from edge_vc.fileio import atomic_path

    path = Path(path)
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        path.unlink(missing_ok=True)
        return None
    flatbuffer = convert(*torch_state(model.eval()), metadata, speaker)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(flatbuffer)
        runner = TFLiteModel(tmp, threads=1)
        names = ["content", "pitch"][: len(probe)]
        feed = {next(n for n in runner.input_names if key in n): a for key, a in zip(names, probe, strict=True)}
        got = runner.run(feed)[0]
        diff = float(np.abs(got - expected).max())
        from edge_vc.export.speaker_encoder_tflite import add_metadata

        Path(tmp).write_bytes(add_metadata(flatbuffer, {**metadata, "torch_max_abs_diff": f"{diff:.3g}"}))
    return diff


def convert_onnx(onnx_path, out=None, frames: int = 311) -> tuple[object, float]:
    """``decoder.tflite`` beside an exported ``decoder.onnx`` (or at ``out``); returns (path, max |TFLite - ONNX|).

    The check runs both on random content around the decoder's own statistics (onnxruntime needed).
    """
    from pathlib import Path

    from edge_vc.backends.model import OnnxModel
    from edge_vc.backends.tflite import TFLiteModel
    from edge_vc.fileio import atomic_path

    onnx_path = Path(onnx_path)
    out = Path(out) if out else onnx_path.with_suffix(".tflite")
    state, dilations, metadata = onnx_state(onnx_path)
    speaker = int(metadata.pop("speaker"))
    flatbuffer = convert(state, dilations, metadata, speaker)
    rng = np.random.default_rng(0)
    content = rng.standard_normal((1, frames, state["content_mean"].size)).astype(np.float32)
    probe = {"content": content * state["content_std"] + state["content_mean"]}
    if "pitch_inp.weight" in state:
        probe["pitch"] = (rng.standard_normal((1, frames, state["pitch_inp.weight"].shape[1])) * 0.5).astype(np.float32)
    expected = OnnxModel(onnx_path, threads=1).run({k: v.astype(np.float32) for k, v in probe.items()})[0]
    with atomic_path(out) as tmp:
        Path(tmp).write_bytes(flatbuffer)
        runner = TFLiteModel(tmp, threads=1)
        feed = {next(n for n in runner.input_names if n.split(":")[0].endswith(k)): v for k, v in probe.items()}
        diff = float(np.abs(runner.run(feed)[0] - expected).max())
        from edge_vc.export.speaker_encoder_tflite import add_metadata

        Path(tmp).write_bytes(add_metadata(flatbuffer, {**metadata, "onnx_max_abs_diff": f"{diff:.3g}"}))
    return out, diff


def main(argv: list[str] | None = None) -> None:
    """``python -m edge_vc.export.decoder_tflite PROFILE_DIR|decoder.onnx ...``: add decoder.tflite to profiles."""
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    if not args:
        raise SystemExit("usage: python -m edge_vc.export.decoder_tflite PROFILE_DIR|decoder.onnx ...")
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            path = path / "learned" / "decoder.onnx" if (path / "learned").is_dir() else path / "decoder.onnx"
        out, diff = convert_onnx(path)
        print(f"{out}: {out.stat().st_size:,} bytes, max |TFLite - ONNX| on mel {diff:.2g}")


if __name__ == "__main__":
    main()
