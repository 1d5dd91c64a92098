"""Split a Piper VITS ONNX voice into fixed-size parts (text encoder + durations, flow, decoder) + numpy glue.

The parts are what TFLite needs (static shapes, no data-dependent ops) and what streaming needs (decode the
latent in overlapping windows). Length regulation (durations -> frames) and the noise run in numpy
(``edge_vc.base_voice.litert_voice``, the runtime side).

    encoder  input ids [1, T] (padded), input_lengths, scales, noise [1, 2, T]
                                                            -> m_p, logs_p [1, 192, T], logw, x_mask [1, 1, T]
    flow     z_p [1, 192, W], y_mask [1, 1, W]                -> z [1, 192, W]      (windows with context)
    decoder  z [1, 192, W]                                     -> audio [.., W * hop] (windows with context)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_vc.base_voice.litert_voice import (  # noqa: F401 - the numpy glue lives in the runtime
    HOP,
    PartsConfig,
    PartsVoice,
    Runner,
    expand_durations,
    run_windowed,
    windows,
)

ENCODER_OUTPUTS = ("/enc_p/Split_output_0", "/enc_p/Split_output_1", "/dp/Split_output_0", "/enc_p/Cast_1_output_0")
FLOW_INPUTS = ("/Add_output_0", "/Cast_2_output_0")
FLOW_OUTPUT = "/flow/flows.0/Concat_output_0"
DECODER_INPUT = "/Mul_7_output_0"


def split_voice(model_path: str | Path, out_dir: str | Path, config: PartsConfig) -> dict[str, Path]:
    """Write encoder/flow/decoder ONNX files with fixed input shapes; returns their paths.

    The encoder's stochastic duration predictor is rewritten with static shapes and its noise made an
    input, and Erf becomes builtin ops (``export.voice_spline``): what lets onnx2tf convert it and
    LiteRT run it without Flex ops.
    """
    import onnx
    from edge_vc.export.voice_spline import NOISE_INPUT, replace_erf, rewrite_duration_predictor
    from onnx.utils import Extractor

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(model_path))
    model = onnx.shape_inference.infer_shapes(model)
    extractor = Extractor(model)
    specs = {
        "encoder": (["input", "input_lengths", "scales"], list(ENCODER_OUTPUTS)),
        "flow": (list(FLOW_INPUTS), [FLOW_OUTPUT]),
        "decoder": ([DECODER_INPUT], ["output"]),
    }
    shapes = {
        "encoder": {"input": [1, config.max_phonemes], "input_lengths": [1], "scales": [3]},
        "flow": {FLOW_INPUTS[0]: [1, 192, config.flow_window], FLOW_INPUTS[1]: [1, 1, config.flow_window]},
        "decoder": {DECODER_INPUT: [1, 192, config.decoder_window]},
    }
    renames = {FLOW_INPUTS[0]: "z_p", FLOW_INPUTS[1]: "y_mask", FLOW_OUTPUT: "z", DECODER_INPUT: "z_in"}
    renames.update(zip(ENCODER_OUTPUTS, ("m_p", "logs_p", "logw", "x_mask"), strict=False))
    paths = {}
    for name, (inputs, outputs) in specs.items():
        part = extractor.extract_model(inputs, outputs)
        _fix_and_rename(part, shapes[name], renames)
        part.graph.name = f"piper_{name}"
        paths[name] = out_dir / f"{name}.onnx"
        onnx.save(part, str(paths[name]))
        simplify(paths[name])
        part = onnx.load(str(paths[name]))  # static shapes are folded now: the spline is recognisable
        rewritten = rewrite_duration_predictor(part) if name == "encoder" else 0
        if rewritten:
            pruned = Extractor(onnx.shape_inference.infer_shapes(part))
            part = pruned.extract_model([*inputs, NOISE_INPUT], [o.name for o in part.graph.output])
        if replace_erf(part) or rewritten:
            onnx.save(part, str(paths[name]))
            simplify(paths[name])
    return paths


def simplify(path: Path) -> None:
    """Fold the shape arithmetic (shapes are static now) and drop ``x + 0`` nodes, in place.

    onnxruntime's basic level only folds constants and removes no-ops, so the result is plain ONNX. The
    ``+ zeros`` (VITS adds an all-zero speaker conditioning when there is none) confuses onnx2tf's layout.
    """
    import onnx
    import onnxruntime
    from onnx import numpy_helper

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(path)
    onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(path))
    _flip_slices_to_gather(model)
    zeros = {t.name for t in model.graph.initializer if not np.any(numpy_helper.to_array(t))}
    rename: dict[str, str] = {}
    keep = []
    for node in model.graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        if node.op_type == "Add" and len(node.input) == 2 and (node.input[1] in zeros or node.input[0] in zeros):
            other = node.input[0] if node.input[1] in zeros else node.input[1]
            if other not in zeros and node.output[0] not in {o.name for o in model.graph.output}:
                rename[node.output[0]] = other
                continue
        keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    used = {i for n in model.graph.node for i in n.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.save(model, str(path))


def _fix_and_rename(model, shapes: dict[str, list[int]], renames: dict[str, str]) -> None:
    """Static input shapes (so constant folding removes the shape arithmetic) and readable tensor names."""
    for value in model.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name], strict=False):
                dim.Clear()
                dim.dim_value = size
    from onnx import helper

    inputs = {v.name for v in model.graph.input}
    for old, new in renames.items():
        if old in inputs:  # graph inputs are only consumed: rename them in place
            for value in model.graph.input:
                if value.name == old:
                    value.name = new
            for node in model.graph.node:
                node.input[:] = [new if i == old else i for i in node.input]
        for value in model.graph.output:  # outputs may also feed other nodes: expose them through Identity
            if value.name == old:
                model.graph.node.append(helper.make_node("Identity", [old], [new], name=f"output_{new}"))
                value.name = new


def _flip_slices_to_gather(model) -> int:
    """Full reversals (Slice with step -1 over a whole axis, VITS's Flip) as Gather with reversed indices.

    onnx2tf mistranslates the negative-step Slice on the channel axis (the flip vanishes); Gather with a
    constant index vector is converted correctly. Exact in fp32.
    """
    import onnx
    from onnx import helper, numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model)
    dims = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    count = 0
    for index, node in enumerate(model.graph.node):
        if node.op_type != "Slice" or len(node.input) < 5 or not all(i in inits for i in node.input[1:5]):
            continue
        starts, ends, axes, steps = (inits[i].tolist() for i in node.input[1:5])
        shape = dims.get(node.input[0])
        if len(axes) != 1 or steps != [-1] or starts != [-1] or ends[0] > -(2**62) or not shape:
            continue
        axis = axes[0] % len(shape)
        size = shape[axis]
        if size <= 0:
            continue
        name = f"{node.name.strip('/').replace('/', '_')}_reversed_indices"
        model.graph.initializer.append(numpy_helper.from_array(np.arange(size - 1, -1, -1, dtype=np.int64), name))
        gather = helper.make_node(
            "Gather", [node.input[0], name], list(node.output), name=node.name + "_as_gather", axis=axis
        )
        model.graph.node.remove(node)
        model.graph.node.insert(index, gather)
        count += 1
    return count


def onnx_part(path, threads: int = 1) -> Runner:
    """An ONNX part as a Runner (feeds it does not take are ignored)."""
    from edge_vc.backends.onnx import create_session

    session = create_session(path, threads=threads)
    names = {i.name for i in session.get_inputs()}
    return lambda feeds: session.run(None, {k: v for k, v in feeds.items() if k in names})
