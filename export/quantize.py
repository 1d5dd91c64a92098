"""Graph surgery and INT8 helpers for Piper VITS voices (ONNX), used by ``export.voice``.

Why not ``quantize_dynamic``: it turns every Conv into ConvInteger, which onnxruntime runs with a slow
kernel (ASSETS.md: ~3x slower than fp32 on x86; 0.9x of fp32 speed with onnxruntime 1.32 here). Faster:

* the HiFi-GAN decoder (~90 % of the time) as static QDQ INT8 (QLinearConv, QLinearLeakyRelu), calibrated
  on real phoneme inputs (moving-average ranges), per-channel weights; the residual adds and the last
  convolution stay fp32;
* its ConvTranspose upsamplers rewritten first as an exactly equivalent Conv + depth-to-space
  (onnxruntime has no INT8 ConvTranspose, so they would stay fp32 and cost ~20 %);
* text encoder, duration predictor and flow (little time, numerically fragile) keep fp32 activations with
  INT8 weights stored as Cast + Mul, which onnxruntime folds back at load (weight-only: the file shrinks,
  compute is unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_vc.configs import from_mapping

INT64_MAX = np.iinfo(np.int64).max
CALIBRATION_SEED = 1234.0


@dataclass
class QuantRecipe:
    """Which parts of a Piper VITS graph become INT8, and how."""

    name: str = "dec-qdq-ma+wo"
    """Short label written into the model metadata and reports."""

    rewrite_conv_transpose: bool = True
    """Replace 1-D ConvTranspose by Conv + depth-to-space (exact in fp32) so it can run as QLinearConv."""

    static_prefixes: list[str] = field(default_factory=lambda: ["/dec/"])
    """Node-name prefixes quantized as static QDQ (activations and weights INT8)."""

    static_ops: list[str] = field(default_factory=lambda: ["Conv", "LeakyRelu", "Reshape", "Transpose", "Slice"])
    """Op types quantized statically inside ``static_prefixes``. The residual ``Add`` stays fp32: an 8-bit
    residual stream costs speaker similarity (GE2E cosine 0.97 -> 0.95 on joe) for ~15 % more speed."""

    exclude_nodes: list[str] = field(default_factory=lambda: ["/dec/conv_post/Conv", "/dec/LeakyRelu_3"])
    """Node names kept fp32 even when they match: by default the last convolution (its 8-bit output would
    be 8-bit audio) and the activation before it."""

    weight_only_ops: list[str] = field(default_factory=lambda: ["Conv", "MatMul"])
    """Op types whose remaining fp32 weights are stored as INT8 + Cast/Mul (weight-only; empty: none)."""

    calibrate_method: str = "MinMax"
    """onnxruntime CalibrationMethod name (Percentile/Entropy fail on sentences of different lengths)."""

    per_channel: bool = True
    """Per-output-channel weight scales."""

    moving_average: bool = True
    """Activation ranges as a moving average over the calibration sentences rather than the global min/max
    (outliers of one sentence no longer stretch the 8-bit grid: GE2E cosine 0.94 -> 0.97 on joe)."""

    def validate(self) -> None:
        """Raise ValueError for an unusable recipe."""
        if self.calibrate_method not in ("MinMax", "Percentile", "Entropy"):
            raise ValueError(f"calibrate_method must be MinMax, Percentile or Entropy, got {self.calibrate_method}")
        unknown = set(self.weight_only_ops) - {"Conv", "MatMul"}
        if unknown:
            raise ValueError(f"weight_only_ops supports Conv and MatMul, not {sorted(unknown)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rewrite_conv_transpose": self.rewrite_conv_transpose,
            "static_prefixes": list(self.static_prefixes),
            "static_ops": list(self.static_ops),
            "exclude_nodes": list(self.exclude_nodes),
            "weight_only_ops": list(self.weight_only_ops),
            "calibrate_method": self.calibrate_method,
            "per_channel": self.per_channel,
            "moving_average": self.moving_average,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> QuantRecipe:
        return from_mapping(QuantRecipe, data, what="quantization recipe", unknown="ignore")


def _initializers(model) -> dict[str, Any]:
    return {t.name: t for t in model.graph.initializer}


def _attr(node, name: str, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def rewrite_conv_transpose(model) -> int:
    """Replace each 1-D ConvTranspose (group 1, no dilation/output padding) by Conv + depth-to-space + Slice.

    With stride s, kernel K, padding p and M = ceil(K / s): output phase r of ConvTranspose is a plain
    convolution with M taps, so one Conv with s * C_out channels, a reshape to (C_out, s, L) -> (C_out, L, s)
    and a crop of p samples at each end give the same result. Edits ``model`` in place; returns the count.
    """
    from onnx import helper, numpy_helper

    inits = _initializers(model)
    new_nodes = []
    count = 0
    for node in model.graph.node:
        kernel = _attr(node, "kernel_shape")
        simple = (
            node.op_type == "ConvTranspose"
            and node.input[1] in inits
            and kernel is not None
            and len(kernel) == 1
            and _attr(node, "group", 1) == 1
            and all(d == 1 for d in _attr(node, "dilations", [1]))
            and not any(_attr(node, "output_padding", [0]))
            and _attr(node, "output_shape") is None
        )
        if not simple:
            new_nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)  # [Cin, Cout, K]
        c_in, c_out, k = weight.shape
        s = int(_attr(node, "strides", [1])[0])
        p_left, p_right = (list(_attr(node, "pads", [0, 0])) + [0, 0])[:2]
        m = -(-k // s)
        padded = np.zeros((c_in, c_out, m * s), np.float32)
        padded[:, :, :k] = weight
        # V[o * s + r, i, j] = W[i, o, (m - 1 - j) * s + r]
        taps = padded.reshape(c_in, c_out, m, s)[:, :, ::-1, :]  # [i, o, j, r]
        conv_w = np.ascontiguousarray(taps.transpose(1, 3, 0, 2)).reshape(c_out * s, c_in, m)
        base = node.name.replace("/", "_").strip("_") or f"convtranspose{count}"
        w_name = f"{base}_as_conv.weight"
        model.graph.initializer.append(numpy_helper.from_array(conv_w, w_name))
        conv_inputs = [node.input[0], w_name]
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            b_name = f"{base}_as_conv.bias"
            model.graph.initializer.append(numpy_helper.from_array(np.repeat(bias, s), b_name))
            conv_inputs.append(b_name)
        prefix = node.name.rsplit("/", 1)[0] + "/" if "/" in node.name else ""
        out = node.output[0]
        t_conv, t_r1, t_tr, t_r2 = (f"{out}__{x}" for x in ("conv", "r1", "tr", "r2"))
        shape1, shape2 = f"{base}_shape1", f"{base}_shape2"
        starts, ends, axes = f"{base}_starts", f"{base}_ends", f"{base}_axes"
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([0, c_out, s, -1], np.int64), shape1),
                numpy_helper.from_array(np.array([0, c_out, -1], np.int64), shape2),
                numpy_helper.from_array(np.array([p_left], np.int64), starts),
                numpy_helper.from_array(np.array([_crop_end(m * s - k + p_right)], np.int64), ends),
                numpy_helper.from_array(np.array([2], np.int64), axes),
            ]
        )
        new_nodes += [
            helper.make_node(
                "Conv", conv_inputs, [t_conv], name=f"{prefix}Conv_up", kernel_shape=[m], pads=[m - 1, m - 1]
            ),
            helper.make_node("Reshape", [t_conv, shape1], [t_r1], name=f"{prefix}Reshape_up1"),
            helper.make_node("Transpose", [t_r1], [t_tr], name=f"{prefix}Transpose_up", perm=[0, 1, 3, 2]),
            helper.make_node("Reshape", [t_tr, shape2], [t_r2], name=f"{prefix}Reshape_up2"),
            helper.make_node("Slice", [t_r2, starts, ends, axes], [out], name=f"{prefix}Slice_up"),
        ]
        count += 1
    if count:
        del model.graph.node[:]
        model.graph.node.extend(new_nodes)
        _drop_unused_initializers(model)
    return count


def _crop_end(right: int) -> int:
    return -right if right > 0 else int(INT64_MAX)


def _drop_unused_initializers(model) -> None:
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def weight_only_int8(model, op_types: Iterable[str], skip_nodes: Iterable[str] = ()) -> int:
    """Store fp32 Conv/MatMul weights as symmetric per-channel INT8 (Cast + Mul by scale); returns the count.

    Activations stay fp32, so the arithmetic is unchanged except for the weight rounding.
    """
    from onnx import TensorProto, helper, numpy_helper

    op_types, skip = set(op_types), set(skip_nodes)
    inits = _initializers(model)
    consumers: dict[str, int] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    new_nodes, done, count = [], {}, 0
    for node in model.graph.node:
        w = node.input[1] if len(node.input) > 1 else ""
        tensor = inits.get(w)
        eligible = (
            node.op_type in op_types
            and node.name not in skip
            and tensor is not None
            and tensor.data_type == TensorProto.FLOAT
            and len(tensor.dims) >= 2
        )
        if not eligible:
            new_nodes.append(node)
            continue
        if w not in done:
            arr = numpy_helper.to_array(tensor).astype(np.float32)
            axis = 0 if node.op_type == "Conv" else arr.ndim - 1
            reduce_axes = tuple(a for a in range(arr.ndim) if a != axis)
            scale = np.abs(arr).max(axis=reduce_axes) / 127.0
            scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
            shape = [1] * arr.ndim
            shape[axis] = -1
            q = np.clip(np.round(arr / scale.reshape(shape)), -127, 127).astype(np.int8)
            q_name, s_name = f"{w}_int8", f"{w}_scale"
            model.graph.initializer.extend(
                [numpy_helper.from_array(q, q_name), numpy_helper.from_array(scale.reshape(shape), s_name)]
            )
            cast, deq = f"{w}_int8_as_float", f"{w}_dequantized"
            # Cast + Mul rather than DequantizeLinear: onnxruntime constant-folds these at load (it keeps
            # DequantizeLinear for QDQ fusion), so the fp32 kernels run with pre-packed weights.
            new_nodes += [
                helper.make_node("Cast", [q_name], [cast], name=f"{w}_Cast", to=TensorProto.FLOAT),
                helper.make_node("Mul", [cast, s_name], [deq], name=f"{w}_Scale"),
            ]
            done[w] = deq
            count += 1
        node.input[1] = done[w]
        new_nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    _drop_unused_initializers(model)
    return count


class PhonemeCalibrationReader:
    """onnxruntime CalibrationDataReader over Piper feeds built from real sentences."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        self._iter = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self._feeds)


def static_node_names(model, recipe: QuantRecipe) -> list[str]:
    """Names of the nodes the recipe quantizes statically."""
    excluded = set(recipe.exclude_nodes)
    return [
        n.name
        for n in model.graph.node
        if n.op_type in recipe.static_ops
        and any(n.name.startswith(p) for p in recipe.static_prefixes)
        and n.name not in excluded
    ]


def quantize_model(model, recipe: QuantRecipe, feeds: Sequence[dict[str, np.ndarray]], workdir) -> Any:
    """The fp32 ``model`` (ModelProto) turned into INT8 by ``recipe``; returns a new ModelProto."""
    import copy
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    recipe.validate()
    model = copy.deepcopy(model)
    if recipe.rewrite_conv_transpose:
        rewrite_conv_transpose(model)
    nodes = static_node_names(model, recipe)
    if nodes:
        src, dst = Path(workdir) / "rewritten.onnx", Path(workdir) / "static.onnx"
        set_random_seed(model, CALIBRATION_SEED)  # reproducible calibration ranges despite the noise inputs
        onnx.save(model, str(src))
        quantize_static(
            str(src),
            str(dst),
            PhonemeCalibrationReader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(recipe.static_ops),
            nodes_to_quantize=nodes,
            per_channel=recipe.per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, recipe.calibrate_method),
            extra_options={
                "CalibTensorRangeSymmetric": False,
                "CalibMovingAverage": recipe.moving_average,
            },
        )
        model = onnx.load(str(dst))
        set_random_seed(model, None)
    if recipe.weight_only_ops:
        weight_only_int8(model, recipe.weight_only_ops)
    return model


def set_random_seed(model, seed: float | None) -> int:
    """Set (or with None remove) the ``seed`` of every RandomNormal(Like) node; returns the count."""
    from onnx import helper

    count = 0
    for node in model.graph.node:
        if node.op_type not in ("RandomNormalLike", "RandomNormal", "RandomUniformLike", "RandomUniform"):
            continue
        kept = [a for a in node.attribute if a.name != "seed"]
        del node.attribute[:]
        node.attribute.extend(kept)
        if seed is not None:
            node.attribute.append(helper.make_attribute("seed", float(seed)))
        count += 1
    return count
