"""Markdown rendering of a voice export report (the JSON report is the source of truth)."""

from __future__ import annotations

from typing import Any


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_report(report: dict[str, Any]) -> str:
    """A short human-readable report: artifact facts, speed table, quality table, guard verdict."""
    lines = [
        f"# Voice export: {report.get('format')}",
        "",
        f"- artifact: `{report.get('artifact')}`",
        f"- size: {report.get('bytes', 0) / 1e6:.2f} MB (source {report.get('source_bytes', 0) / 1e6:.2f} MB)",
        f"- sha256: `{report.get('sha256')}`",
        f"- source: `{report.get('source')}` (sha256 `{report.get('source_sha256')}`)",
        f"- machine: {report.get('machine')}, onnxruntime {report.get('onnxruntime')}",
        f"- command: `{report.get('command')}`",
    ]
    if report.get("recipe"):
        lines.append(f"- recipe: `{report['recipe']}`")
    for note in report.get("notes", []):
        lines.append(f"- note: {note}")
    lines += [
        "",
        "## Speed (1 thread, interleaved, median over repetitions)",
        "",
        "| model | CPU s | wall s | audio s | RTF (CPU) | speed-up vs fp32 |",
        "|---|---|---|---|---|---|",
    ]
    for s in report.get("speed", []):
        lines.append(
            f"| {s['name']} | {s['cpu_s']:.3f} | {s['wall_s']:.3f} | {s['audio_s']:.2f} | {s['rtf_cpu']:.4f} "
            f"| {s['speedup_vs_reference']:.2f}x |"
        )
    quality = report.get("quality", {})
    if quality:
        lines += [
            "",
            "## Quality against fp32 (noise scales 0)",
            "",
            "| model | WER | fp32 WER | delta (points) | GE2E cosine mean | min |",
            "|---|---|---|---|---|---|",
        ]
        for name, q in quality.items():
            lines.append(
                f"| {name} | {_fmt(q['wer'])} | {_fmt(q['reference_wer'])} | {_fmt(q['wer_delta_points'], 2)} "
                f"| {_fmt(q['cosine_mean'])} | {_fmt(q['cosine_min'])} |"
            )
        for name, q in quality.items():
            for note in q.get("notes", []):
                lines.append(f"\n{name}: {note}")
    failures = {k: v for k, v in report.get("guard_failures", {}).items() if v}
    lines += ["", "## Guard", ""]
    lines.append("FAILED: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in failures.items()) if failures else "passed")
    return "\n".join(lines) + "\n"
