"""silero-vad (16 kHz branch) as a TFLite model: ``edge_vc/data/silero_vad.tflite`` for the LiteRT backend.

The bundled ``silero_vad.onnx`` holds both rates behind an ONNX ``If`` (8 kHz / 16 kHz), which onnx2tf
cannot convert. edge-vc only calls it at 16 kHz, so this rebuilds the 16 kHz branch in TensorFlow from
the ONNX constants, op for op: reflect pad 64 → STFT as a stride-128 convolution (258 filters of 256)
→ magnitude → four 3-tap convolutions (strides 1, 2, 2, 1) with ReLU → one LSTM cell step → ReLU →
1×1 convolution → sigmoid. Inputs ``input`` [1, 576] (64 context + 512 new samples) and ``state``
[2, 1, 128]; outputs ``output`` [1, 1] and ``stateN`` [2, 1, 128] (no ``sr``: always 16 kHz).
Weights stay float32 (1.2 MB; the model is too small for INT8 to matter).

    python -m edge_vc.export.vad_tflite [--out edge_vc/data/silero_vad.tflite]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import numpy as np

from edge_vc.speaker.vad import CONTEXT, VAD_RATE, WINDOW, vad_model_path

STATE = 128


def branch_constants(onnx_path: Path, rate: int = VAD_RATE) -> dict[str, np.ndarray]:
    """The named weight constants of the ONNX ``If`` branch for ``rate`` (then = 16 kHz)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    node = next(n for n in graph.node if n.op_type == "If")
    branch = next(a.g for a in node.attribute if a.name == ("then_branch" if rate == 16000 else "else_branch"))
    out: dict[str, np.ndarray] = {}
    for n in branch.node:
        if n.op_type != "Constant":
            continue
        name = n.output[0].split("Inline_0__", 1)[-1]
        if "." in name and not name.startswith("/"):
            out[name] = numpy_helper.to_array(n.attribute[0].t).astype(np.float32)
    expected = {"stft.forward_basis_buffer", "decoder.rnn.weight_ih", "decoder.decoder.2.weight"}
    if not expected <= set(out):
        raise RuntimeError(f"{onnx_path}: unexpected silero-vad layout, found {sorted(out)}")
    return out


def tf_module(w: dict[str, np.ndarray]):
    """A tf.Module whose ``step(input, state)`` is one silero-vad call at 16 kHz."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    def conv_filter(weight: np.ndarray):  # torch (out, in, k) -> tf (k, in, out)
        return tf.constant(np.ascontiguousarray(weight.transpose(2, 1, 0)))

    basis = conv_filter(w["stft.forward_basis_buffer"])
    half = w["stft.forward_basis_buffer"].shape[0] // 2
    convs = [
        (conv_filter(w[f"encoder.{i}.reparam_conv.weight"]), tf.constant(w[f"encoder.{i}.reparam_conv.bias"]), s)
        for i, s in enumerate((1, 2, 2, 1))
    ]
    w_ih, w_hh = tf.constant(w["decoder.rnn.weight_ih"].T), tf.constant(w["decoder.rnn.weight_hh"].T)
    bias = tf.constant(w["decoder.rnn.bias_ih"] + w["decoder.rnn.bias_hh"])
    w_out = tf.constant(w["decoder.decoder.2.weight"][:, :, 0].T)  # (128, 1)
    b_out = tf.constant(w["decoder.decoder.2.bias"])

    class Vad(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([1, CONTEXT + WINDOW], tf.float32, name="input"),
                tf.TensorSpec([2, 1, STATE], tf.float32, name="state"),
            ]
        )
        def step(self, audio, state):
            x = tf.pad(audio, [[0, 0], [0, CONTEXT]], mode="REFLECT")[:, :, None]
            spec = tf.nn.conv1d(x, basis, stride=128, padding="VALID")
            x = tf.sqrt(tf.square(spec[..., :half]) + tf.square(spec[..., half:]))
            for kernel, b, stride in convs:
                x = tf.pad(x, [[0, 0], [1, 1], [0, 0]])
                x = tf.nn.relu(tf.nn.conv1d(x, kernel, stride=stride, padding="VALID") + b)
            x = x[:, -1, :]  # one frame left
            h, c = state[0], state[1]
            gates = tf.matmul(x, w_ih) + tf.matmul(h, w_hh) + bias
            i, f, g, o = tf.split(gates, 4, axis=-1)  # torch LSTMCell gate order
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            prob = tf.sigmoid(tf.matmul(tf.nn.relu(h), w_out) + b_out)
            return {"output": prob, "stateN": tf.stack([h, c])}

    return Vad()


def convert(onnx_path: Path) -> bytes:
    """The TFLite flatbuffer (float32) with edge-vc metadata."""
    import tensorflow as tf
    from edge_vc.export.speaker_encoder_tflite import add_metadata

    module = tf_module(branch_constants(onnx_path))
    concrete = module.step.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    flatbuffer = converter.convert()
    values = {
        "edge_vc.kind": "vad",
        "source": "silero-vad v5/v6 16 kHz branch (MIT), rebuilt from silero_vad.onnx by edge_vc.export.vad_tflite",
        "sample_rate": str(VAD_RATE),
        "window": str(WINDOW),
        "context": str(CONTEXT),
    }
    return add_metadata(flatbuffer, values)


def parity(tflite_path: Path, onnx_path: Path, audio: np.ndarray) -> dict[str, float]:
    """Max absolute difference of the per-window speech probability, TFLite vs ONNX, on ``audio`` (16 kHz)."""
    from edge_vc.speaker.vad import SileroVAD

    ref = SileroVAD(onnx_path)(audio, VAD_RATE).probs
    got = SileroVAD(tflite_path)(audio, VAD_RATE).probs
    return {
        "windows": int(ref.size),
        "max_abs_diff": float(np.max(np.abs(ref - got))),
        "decision_agreement": float(np.mean((ref >= 0.5) == (got >= 0.5))),
    }


@click.command()
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--check", "check_wav", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(out_path: Path | None, check_wav: Path | None) -> None:
    """Write silero_vad.tflite (default: next to the bundled silero_vad.onnx) and print its parity."""
    source = vad_model_path()
    out_path = out_path or source.with_suffix(".tflite")
    out_path.write_bytes(convert(source))
    click.echo(f"wrote {out_path} ({out_path.stat().st_size:,} bytes)")
    if check_wav is not None:
        from edge_vc.audio.io import read_audio

        audio, _ = read_audio(check_wav, VAD_RATE)
        click.echo(json.dumps(parity(out_path, source, audio)))


if __name__ == "__main__":
    main()
