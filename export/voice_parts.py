"""Split a Piper VITS ONNX voice into fixed-size parts (text encoder + durations, flow, decoder) + numpy glue.

The parts are what TFLite needs (static shapes, no data-dependent ops) and what streaming needs (decode the
latent in overlapping windows). Length regulation (durations -> frames) and the prior noise run in numpy.

    encoder  input ids [1, T] (padded), input_lengths, scales -> m_p, logs_p [1, 192, T], logw, x_mask [1, 1, T]
    flow     z_p [1, 192, W], y_mask [1, 1, W]                -> z [1, 192, W]      (windows with context)
    decoder  z [1, 192, W]                                     -> audio [.., W * hop] (windows with context)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENCODER_OUTPUTS = ("/enc_p/Split_output_0", "/enc_p/Split_output_1", "/dp/Split_output_0", "/enc_p/Cast_1_output_0")
FLOW_INPUTS = ("/Add_output_0", "/Cast_2_output_0")
FLOW_OUTPUT = "/flow/flows.0/Concat_output_0"
DECODER_INPUT = "/Mul_7_output_0"
HOP = 256


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
        cfg = PartsConfig(**{k: int(v) for k, v in data.items() if k in PartsConfig.__dataclass_fields__})
        cfg.validate()
        return cfg


def split_voice(model_path: str | Path, out_dir: str | Path, config: PartsConfig) -> dict[str, Path]:
    """Write encoder/flow/decoder ONNX files with fixed input shapes; returns their paths."""
    import onnx
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


Runner = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


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
        feeds = {"x": chunk}
        if mask:
            m = np.zeros((1, 1, size), dtype=np.float32)
            m[..., lo - w_start : hi - w_start] = 1.0
            feeds["mask"] = m
        out = run(feeds)[0]
        out = out.reshape(out.shape[0], -1, out.shape[-1]) if out.ndim > 2 else out
        a, b = (c_start - w_start) * hop, (c_end - w_start) * hop
        pieces.append(out[..., a:b])
    return np.concatenate(pieces, axis=-1)


@dataclass
class PartsVoice:
    """Synthesis through the three parts: encoder once, flow and decoder in windows."""

    encoder: Runner
    flow: Runner
    decoder: Runner
    config: PartsConfig

    def latent(self, ids: list[int], scales=(0.0, 1.0, 0.0), rng: np.random.Generator | None = None) -> np.ndarray:
        """Flow output z [1, 192, frames] for one phoneme-id sequence."""
        cfg = self.config
        if len(ids) > cfg.max_phonemes:
            raise ValueError(f"{len(ids)} phoneme ids; this export takes at most {cfg.max_phonemes} per sentence")
        padded = np.zeros((1, cfg.max_phonemes), dtype=np.int64)
        padded[0, : len(ids)] = ids
        feeds = {
            "input": padded,
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray(scales, dtype=np.float32),
        }
        m_p, logs_p, logw, x_mask = self.encoder(feeds)
        m, logs, frames = expand_durations(m_p, logs_p, logw, x_mask, float(scales[1]))
        noise = (rng or np.random.default_rng()).standard_normal(m.shape).astype(np.float32)
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


def onnx_part(path, threads: int = 1) -> Runner:
    from edge_vc.backends.onnx import create_session

    session = create_session(path, threads=threads)
    return lambda feeds: session.run(None, feeds)
