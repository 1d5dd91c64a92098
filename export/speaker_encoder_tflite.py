"""TFLite speaker encoder: the GE2E weights in a Keras-2 (tf_keras) model, converted by TensorFlow.

The three LSTMs become TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM (no Flex ops). Modes:
``fp32``; ``dynamic`` (dynamic-range INT8 weights, float activations); ``dynamic-lstm23`` (the same with
the first LSTM's weights restored to float32: its input, the linear power mel, is too heavy-tailed for
8-bit activations; shipped); ``int8`` (full-integer, calibrated on real speech; inaccurate and slow, kept
for comparison). The 16x8 mode (int16 activations) fails to prepare the fused LSTM in LiteRT 2.3
(``output_state != nullptr``), so it is not offered. Input and output stay float32.

edge-vc metadata is written into the flatbuffer's ``metadata`` list (name ``edge_vc``, JSON of
strings) with TensorFlow's own schema classes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from edge_vc.backends.tflite import METADATA_NAME
from edge_vc.speaker.encoder import EncoderMetadata


def keras_model(net, meta: EncoderMetadata, batch: int = 1):
    """tf_keras model with the torch network's weights (gate order i, f, g, o is the same in both)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras as keras

    lstm = net.lstm
    inputs = keras.Input(shape=(meta.partial_frames, meta.mel.n_mels), batch_size=batch, name=meta.input_name)
    x = inputs
    layers = []
    for i in range(lstm.num_layers):
        layer = keras.layers.LSTM(lstm.hidden_size, return_sequences=i < lstm.num_layers - 1, name=f"lstm{i}")
        x = layer(x)
        layers.append(layer)
    dense = keras.layers.Dense(net.linear.out_features, activation="relu", name="linear")
    x = dense(x)
    x = keras.layers.UnitNormalization(axis=-1, name=meta.output_name)(x)
    model = keras.Model(inputs, x)
    for i, layer in enumerate(layers):
        w_ih = getattr(lstm, f"weight_ih_l{i}").detach().numpy()
        w_hh = getattr(lstm, f"weight_hh_l{i}").detach().numpy()
        bias = (getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}")).detach().numpy()
        layer.set_weights([w_ih.T, w_hh.T, bias])
    dense.set_weights([net.linear.weight.detach().numpy().T, net.linear.bias.detach().numpy()])
    return model


def convert(model, calibration: np.ndarray, mode: str = "int8") -> bytes:
    """TFLite flatbuffer: ``fp32``, ``dynamic`` (INT8 weights) or ``int8`` (full-integer, float I/O)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "dynamic":  # weights int8, activations float (TFLite "dynamic range" / hybrid kernels)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative():
            for window in calibration:
                yield [window[None].astype(np.float32)]

        converter.representative_dataset = representative
        if mode != "int8":
            raise ValueError(f"unknown TFLite mode {mode}")
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def float_first_lstm(quantized: bytes, fp32: bytes) -> bytes:
    """Put the first LSTM's weights back to float32, taken from the fp32 conversion of the same model.

    Its input, the linear power mel, is too heavy-tailed for 8-bit activations; the hybrid kernel
    runs float when the op's weights are float.
    """
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(quantized, 0))
    reference = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(fp32, 0))

    def first_lstm(m):
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
        lstm = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
        return next(op for op in m.subgraphs[0].operators if codes[op.opcodeIndex] == lstm)

    graph, ref_graph = model.subgraphs[0], reference.subgraphs[0]
    restored = 0
    # the op's input slots (input, 4 input weights, 4 recurrent weights, ...) match one to one
    for index, ref_index in zip(first_lstm(model).inputs, first_lstm(reference).inputs, strict=True):
        if index < 0 or graph.tensors[index].type != schema.TensorType.INT8:
            continue
        tensor, ref = graph.tensors[index], ref_graph.tensors[ref_index]
        if list(tensor.shape) != list(ref.shape) or ref.type != schema.TensorType.FLOAT32:
            raise RuntimeError(f"first LSTM input {tensor.name} does not match the fp32 conversion")
        buffer = schema.BufferT()
        buffer.data = reference.buffers[ref.buffer].data
        model.buffers.append(buffer)
        tensor.buffer = len(model.buffers) - 1
        tensor.type = schema.TensorType.FLOAT32
        tensor.quantization = None
        restored += 1
    if restored == 0:
        raise RuntimeError("no int8 weights found on the first LSTM; TFLite layout changed")
    builder = flatbuffers.Builder(len(quantized) * 2)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def add_metadata(flatbuffer: bytes, values: dict[str, str]) -> bytes:
    """Append an ``edge_vc`` metadata entry (JSON of strings) to a TFLite flatbuffer."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(values, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()] + [entry]
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def op_names(flatbuffer: bytes) -> list[str]:
    """Builtin operator names in a TFLite model (for the report)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        names.append(codes.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM"))
    return sorted(set(names))


def export_tflite_int8(net, path: Path, meta: EncoderMetadata, calibration: np.ndarray, mode: str = "int8") -> dict:
    """Write the TFLite model with metadata; returns conversion details for the report."""
    model = keras_model(net, meta)
    if mode == "dynamic-lstm23":
        flatbuffer = float_first_lstm(convert(model, calibration, "dynamic"), convert(model, calibration, "fp32"))
    else:
        flatbuffer = convert(model, calibration, mode)
    tfl_meta = EncoderMetadata(**{**meta.__dict__, "precision": "fp32" if mode == "fp32" else "int8"})
    values = tfl_meta.to_dict()
    values["quantization"] = f"tflite-{mode}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(add_metadata(flatbuffer, values))
    return {
        "converter": "tf_keras + tf.lite.TFLiteConverter",
        "mode": mode,
        "ops": op_names(flatbuffer),
        "calibration_windows": int(len(calibration)),
    }
