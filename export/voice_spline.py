"""Rewrite a Piper voice's stochastic duration predictor so onnx2tf can convert it (static shapes, no gathers).

Piper's ONNX runs each spline coupling (``/dp/flows.K``) with boolean indexing: ``NonZero`` →
``GatherND`` → spline on the points inside the tail bound → ``ScatterND`` back. onnx2tf cannot
translate that (it stops at ``/dp/flows.7/Concat_20``: the scattered ``[1, 1, T]`` tensor and the
NHWC-transposed half do not line up), and TFLite has no shape-changing ``NonZero`` either.

Here the spline is computed for every position in the coupling's own ``[1, channels, T]`` layout:
the input is clamped to the tail bound, the bin is selected by a one-hot mask (a step function of
comparisons, no gather), slices, padding and the knots' cumulative sums are 1x1 convolutions with
constant weights (small enough that dynamic-range quantization leaves them float), and positions
outside the bound keep their input (``Where``), as Piper's linear tails do.
The noise of the predictor (``RandomNormalLike``) becomes a graph input ``noise`` [1, 2, T], so
the numpy runtime draws it (and tests can fix it).
"""

from __future__ import annotations

import math

import numpy as np

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
TAIL_BOUND = 5.0
NOISE_INPUT = "noise"


class _Builder:
    """Appends nodes/initializers with a unique prefix."""

    def __init__(self, model, prefix: str):
        self.model, self.prefix, self.count = model, prefix, 0
        self.nodes: list = []

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}/{hint}_{self.count}"

    def const(self, value, hint: str = "const") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        from onnx import helper

        out = self.name(op_type)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def _spline_inverse(b: _Builder, x1: str, h: str, bins: int, scale: float) -> str:
    """Inverse RQ spline of x1 [1, 1, T] with parameters h [1, 3 * bins - 1, T]; returns [1, 1, T].

    Channel-axis work is done by 1x1 convolutions with constant 0/1 (or 1/scale) weights, reductions
    over the channel axis and elementwise ops: the layout onnx2tf converts like any conv net.
    """
    f32 = np.float32
    params = 3 * bins - 1

    def conv(x: str, weight: np.ndarray, bias: np.ndarray | None = None) -> str:
        w = b.const(weight.astype(f32)[:, :, None], "weight")
        return b.op("Conv", x, w, *([b.const(bias.astype(f32), "bias")] if bias is not None else []), kernel_shape=[1])

    def select(start: int, end: int, channels: int, factor: float = 1.0) -> np.ndarray:
        return np.eye(channels, dtype=f32)[start:end] * factor

    def channel_sum(x: str) -> str:
        return b.op("ReduceSum", x, b.const(np.array([1], np.int64)), keepdims=1)

    widths_u = conv(h, select(0, bins, params, 1.0 / scale))
    heights_u = conv(h, select(bins, 2 * bins, params, 1.0 / scale))
    # derivatives: the bins - 1 inner ones, padded at both ends with the constant that gives slope 1
    pad = np.zeros((bins + 1, bins - 1), f32)
    pad[1:bins, :] = np.eye(bins - 1, dtype=f32)
    edge = np.zeros(bins + 1, f32)
    edge[[0, bins]] = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)
    derivs = conv(h, pad @ select(2 * bins, params, params), edge)
    derivs = b.op("Add", b.op("Softplus", derivs), b.const(f32(MIN_DERIVATIVE)))  # [1, bins + 1, T]
    d_lo, d_hi = conv(derivs, select(0, bins, bins + 1)), conv(derivs, select(1, bins + 1, bins + 1))
    # knot positions: cum[:, j] = sum_{i < j} sizes[:, i] scaled to [-B, B]; bin sizes = 2 B sizes
    lower = np.tril(np.ones((bins, bins), f32), k=-1) * (2 * TAIL_BOUND)

    def knots(unnormalized: str, minimum: float) -> tuple[str, str]:
        sizes = b.op("Softmax", unnormalized, axis=1)
        sizes = b.op("Add", b.op("Mul", sizes, b.const(f32(1 - minimum * bins))), b.const(f32(minimum)))
        starts = conv(sizes, lower, np.full(bins, -TAIL_BOUND, f32))  # left edge of each bin [1, bins, T]
        return starts, b.op("Mul", sizes, b.const(f32(2 * TAIL_BOUND)))

    x_starts, widths = knots(widths_u, MIN_BIN_WIDTH)
    y_starts, heights = knots(heights_u, MIN_BIN_HEIGHT)
    clamped = b.op("Clip", x1, b.const(f32(-TAIL_BOUND)), b.const(f32(TAIL_BOUND)))
    # bin of each value: the last left edge at or below it (one-hot as differences of a step function)
    above = b.op("Cast", b.op("GreaterOrEqual", clamped, y_starts), to=1)  # [1, bins, T], 1 then 0
    step = np.eye(bins, dtype=f32) - np.eye(bins, k=1, dtype=f32)
    onehot = conv(above, step)

    def pick(t: str) -> str:
        return channel_sum(b.op("Mul", t, onehot))

    x_k, w_k, y_k, h_k = pick(x_starts), pick(widths), pick(y_starts), pick(heights)
    d_k, d_k1 = pick(d_lo), pick(d_hi)
    s_k = b.op("Div", h_k, w_k)
    dy = b.op("Sub", clamped, y_k)
    q = b.op("Sub", b.op("Add", d_k1, d_k), b.op("Mul", s_k, b.const(f32(2))))
    a = b.op("Add", b.op("Mul", dy, q), b.op("Mul", h_k, b.op("Sub", s_k, d_k)))
    bb = b.op("Sub", b.op("Mul", h_k, d_k), b.op("Mul", dy, q))
    c = b.op("Neg", b.op("Mul", s_k, dy))
    disc = b.op("Relu", b.op("Sub", b.op("Mul", bb, bb), b.op("Mul", b.const(f32(4)), b.op("Mul", a, c))))
    theta = b.op("Div", b.op("Mul", c, b.const(f32(2))), b.op("Sub", b.op("Neg", bb), b.op("Sqrt", disc)))
    out = b.op("Add", b.op("Mul", theta, w_k), x_k)
    low = b.op("GreaterOrEqual", x1, b.const(f32(-TAIL_BOUND)))
    inside = b.op("And", low, b.op("LessOrEqual", x1, b.const(f32(TAIL_BOUND))))
    return b.op("Where", inside, out, x1)


def rewrite_duration_predictor(model) -> int:
    """Replace every dynamic spline coupling of ``/dp/flows.K`` and the predictor's noise, in place.

    Returns how many couplings were rewritten; ValueError when the graph does not look like Piper's.
    Dead nodes are left for the caller's extraction to drop.
    """
    import onnx
    from onnx import helper, numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model)
    dims = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    inits = {t.name: t for t in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    spline_nodes = [n for n in model.graph.node if n.name.startswith("/dp/flows.") and n.op_type == "NonZero"]
    flows = sorted({n.name.split("/")[2] for n in spline_nodes})
    count = 0
    for flow in flows:
        prefix = f"/dp/{flow}/"
        nodes = [n for n in model.graph.node if n.name.startswith(prefix)]
        split = next((n for n in nodes if n.op_type == "Split" and len(n.output) == 2), None)
        transposes = (n for n in nodes if n.op_type == "Transpose" and list(n.attribute[0].ints) == [0, 1, 3, 2])
        transpose = next(transposes, None)
        if split is None or transpose is None:
            raise ValueError(f"{prefix}: no Split/Transpose of a spline coupling (not a Piper VITS export?)")
        x0, x1 = split.output
        concat = next((n for n in nodes if n.op_type == "Concat" and n.input[0] == x0), None)
        pre = inits.get(f"dp.{flow}.pre.weight")
        reshape = producers.get(transpose.input[0])
        h = reshape.input[0] if reshape is not None and reshape.op_type == "Reshape" else ""
        shape = dims.get(h)
        if concat is None or pre is None or not shape or len(shape) != 3 or shape[0] != 1:
            raise ValueError(f"{prefix}: spline coupling not recognised")
        bins = (shape[1] + 1) // 3
        scale = math.sqrt(numpy_helper.to_array(pre).shape[0])
        builder = _Builder(model, f"/dp/{flow}/static_spline")
        out = _spline_inverse(builder, x1, h, bins, scale)
        at = list(model.graph.node).index(concat)
        for offset, node in enumerate(builder.nodes):
            model.graph.node.insert(at + offset, node)
        concat.input[1] = out
        count += 1
    for node in list(model.graph.node):
        if node.op_type == "RandomNormalLike" and node.name.startswith("/dp/"):
            shape = dims.get(node.output[0]) or dims.get(node.input[0])
            rename = node.output[0]
            model.graph.node.remove(node)
            model.graph.input.append(helper.make_tensor_value_info(NOISE_INPUT, onnx.TensorProto.FLOAT, shape))
            for other in model.graph.node:
                other.input[:] = [NOISE_INPUT if i == rename else i for i in other.input]
    return count


ERF_COEFFICIENTS = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
ERF_P = 0.3275911


def replace_erf(model) -> int:
    """Every ``Erf`` (the predictor's GELUs) as builtin-only ops, in place; returns how many.

    TFLite has no builtin Erf (onnx2tf emits ``FlexErf``, which LiteRT cannot run). Abramowitz & Stegun
    7.1.26 on |x| with the sign restored by ``Where``: max abs error 1.5e-7.
    """
    count = 0
    for node in list(model.graph.node):
        if node.op_type != "Erf":
            continue
        b = _Builder(model, f"{node.name or node.output[0]}_as_poly")
        f32 = np.float32
        x = node.input[0]
        a = b.op("Abs", x)
        t = b.op("Reciprocal", b.op("Add", b.op("Mul", a, b.const(f32(ERF_P))), b.const(f32(1))))
        poly = b.const(f32(ERF_COEFFICIENTS[-1]))
        for coefficient in reversed(ERF_COEFFICIENTS[:-1]):
            poly = b.op("Add", b.op("Mul", poly, t), b.const(f32(coefficient)))
        poly = b.op("Mul", poly, t)
        y = b.op("Sub", b.const(f32(1)), b.op("Mul", poly, b.op("Exp", b.op("Neg", b.op("Mul", a, a)))))
        negative = b.op("Less", x, b.const(f32(0)))
        from onnx import helper

        where = helper.make_node("Where", [negative, b.op("Neg", y), y], list(node.output), name=b.name("Where"))
        b.nodes.append(where)
        at = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        for offset, new in enumerate(b.nodes):
            model.graph.node.insert(at + offset, new)
        count += 1
    return count
