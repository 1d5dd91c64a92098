"""Graph surgery on a multi-speaker Piper voice: make the speaker vector ``g`` a graph input.

A multi-speaker Piper VITS looks up ``g = emb_g[sid]`` with one ``Gather`` on the speaker table and
feeds it to the duration predictor, the flow and the decoder. The variant written here drops that
lookup: it takes ``g`` (float32 [batch, gin]) directly, so any blend of table rows can be spoken. The
table is saved beside the model as ``<name>.speakers.npy``; metadata inside the model says what it is.

Needs only ``onnx`` (a runtime dependency; no torch): ``edge_vc.base_voice.speaker_space`` runs it once per
voice. The toolchain's ``edge-vc export speaker-space --int8`` (``edge_vc.export.multispeaker``) adds INT8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_vc.fileio import atomic_path

G_INPUT = "g"
KIND = "edge-vc/vits-g-input"
_PASS_THROUGH = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Flatten"}


class SurgeryError(ValueError):
    """The model is not a multi-speaker Piper VITS this surgery understands."""


@dataclass
class SpeakerSpaceModel:
    """What the surgery wrote."""

    model_path: Path
    table_path: Path
    num_speakers: int
    gin_channels: int


def _constant_tensors(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    found = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    found[node.output[0]] = numpy_helper.to_array(attr.t)
    return found


def _derives_from(name: str, source: str, producers: dict) -> list | None:
    """Nodes between graph input ``source`` and tensor ``name`` through shape-only ops, or None."""
    chain = []
    while name != source:
        node = producers.get(name)
        if node is None or node.op_type not in _PASS_THROUGH:
            return None
        chain.append(node)
        name = node.input[0]
    return chain


def find_speaker_gather(model, num_speakers: int | None = None):
    """(gather node, table array, nodes between ``sid`` and the gather) for the speaker-table lookup."""
    inputs = {i.name for i in model.graph.input}
    if "sid" not in inputs:
        raise SurgeryError("the model has no 'sid' input: it is a single-speaker voice")
    producers = {out: node for node in model.graph.node for out in node.output}
    constants = _constant_tensors(model)
    candidates = []
    for node in model.graph.node:
        if node.op_type != "Gather" or len(node.input) < 2:
            continue
        table = constants.get(node.input[0])
        if table is None or table.ndim != 2:
            continue
        chain = _derives_from(node.input[1], "sid", producers)
        if chain is None:
            continue
        if num_speakers is not None and table.shape[0] != num_speakers:
            raise SurgeryError(
                f"the speaker table has {table.shape[0]} rows but the config says {num_speakers} speakers"
            )
        candidates.append((node, table, chain))
    if len(candidates) != 1:
        raise SurgeryError(f"expected one Gather on a speaker table fed by 'sid', found {len(candidates)}")
    return candidates[0]


def make_g_input_model(model, num_speakers: int | None = None):
    """A copy of ``model`` whose ``g`` is an input; returns (new model, speaker table [n, gin])."""
    import copy

    import onnx
    from onnx import TensorProto, helper

    model = copy.deepcopy(model)
    gather, table, chain = find_speaker_gather(model, num_speakers)
    graph = model.graph
    old_out = gather.output[0]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old_out:
                node.input[i] = G_INPUT
    if any(out.name == old_out for out in graph.output):
        raise SurgeryError("the speaker vector is a graph output; refusing to rewire it")
    remove = {id(gather)} | {id(n) for n in chain}
    kept = [n for n in graph.node if id(n) not in remove]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in graph.node for name in node.input}
    if "sid" in used:
        raise SurgeryError("'sid' is used elsewhere in the graph; cannot remove it")
    sid_inputs = [i for i in graph.input if i.name == "sid"]
    for item in sid_inputs:
        graph.input.remove(item)
    table_name = gather.input[0]
    for init in list(graph.initializer):
        if init.name == table_name and table_name not in used:
            graph.initializer.remove(init)
    for node in list(graph.node):
        if node.op_type == "Constant" and node.output[0] == table_name and table_name not in used:
            graph.node.remove(node)
    graph.input.append(helper.make_tensor_value_info(G_INPUT, TensorProto.FLOAT, ["batch_size", int(table.shape[1])]))
    onnx.checker.check_model(model)
    return model, np.asarray(table, dtype=np.float32)


def set_metadata(model, values: dict[str, str]) -> None:
    """Set (add or overwrite) ONNX metadata_props entries."""
    existing = {p.key: p for p in model.metadata_props}
    for key, value in values.items():
        if key in existing:
            existing[key].value = value
        else:
            prop = model.metadata_props.add()
            prop.key, prop.value = key, value


def export_g_input_voice(
    source: str | Path,
    out_path: str | Path,
    num_speakers: int | None = None,
    finish: Callable[[Path, Path, np.ndarray], None] | None = None,
) -> SpeakerSpaceModel:
    """Write the ``g``-input variant of the Piper voice ``source`` (and its speaker table) to ``out_path``.

    ``finish(tmp_model, source_config, table)`` may rewrite the model file before it is moved into place
    (the toolchain's INT8 quantization does).
    """
    import onnx

    source, out_path = Path(source), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if num_speakers is None:
        sidecar = source.with_name(source.name + ".json")
        if sidecar.is_file():
            num_speakers = int(json.loads(sidecar.read_text("utf-8")).get("num_speakers", 0)) or None
    original = onnx.load(str(source))
    model, table = make_g_input_model(original, num_speakers)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    set_metadata(
        model,
        {
            "edge_vc_kind": KIND,
            "num_speakers": str(table.shape[0]),
            "gin_channels": str(table.shape[1]),
            "source_model": source.name,
            "source_sha256": digest,
            "int8": "false",
        },
    )
    table_path = out_path.with_name(out_path.name.removesuffix(".onnx") + ".speakers.npy")
    with atomic_path(out_path) as tmp:
        onnx.save(model, str(tmp))
        if finish is not None:
            finish(tmp, source.with_name(source.name + ".json"), table)
    np.save(table_path, table)
    return SpeakerSpaceModel(out_path, table_path, int(table.shape[0]), int(table.shape[1]))
