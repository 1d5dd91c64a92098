"""Bench results for people: a terminal table, comparison ratios, a PNG plot, a Markdown table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGE_ORDER = ("phonemize", "vits", "voice_stage", "speaker_encoder", "end_to_end", "piper-tts", "enrollment")


def _sort_key(row: dict[str, Any]) -> tuple:
    stage = row.get("stage", "")
    return (
        STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER),
        str(row.get("variant", "")),
        str(row.get("voice_stage", "")),
        int(row.get("threads") or 0),
    )


def comparisons(results: dict[str, Any]) -> list[dict[str, Any]]:
    """edge-vc end to end (fp32, no voice stage) over piper-tts, per thread count: <1 means edge-vc is faster."""
    rows = results["rows"]
    piper = {r["threads"]: r for r in rows if r["stage"] == "piper-tts" and "rtf" in r}
    out = []
    for r in rows:
        if r["stage"] != "end_to_end" or r.get("voice_stage") != "none" or r.get("threads") not in piper:
            continue
        if r.get("variant") != piper[r["threads"]]["variant"]:
            continue
        p = piper[r["threads"]]
        out.append(
            {
                "reference": "piper-tts",
                "threads": r["threads"],
                "variant": r["variant"],
                "edge_vc_rtf": r["rtf"]["median"],
                "piper_rtf": p["rtf"]["median"],
                "rtf_ratio": round(r["rtf"]["median"] / p["rtf"]["median"], 3),
                "edge_vc_ttfa_s": r["ttfa_s"]["median"],
                "piper_ttfa_s": p["ttfa_s"]["median"],
                "ttfa_ratio": round(r["ttfa_s"]["median"] / p["ttfa_s"]["median"], 3),
            }
        )
    return out


def part_costs(row: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(part, RTF stats, CPU RTF stats) of a voice-stage row that recorded its parts' costs, in stage order."""
    parts = [k[len("part_") : -len("_rtf")] for k in row if k.startswith("part_") and not k.endswith("_cpu_rtf")]
    return [(p, row[f"part_{p}_rtf"], row.get(f"part_{p}_cpu_rtf")) for p in parts]


def _fmt(stats: dict[str, Any] | None, unit: str = "") -> str:
    if not stats:
        return "-"
    med = stats["median"]
    spread = (stats["q3"] - stats["q1"]) / med * 100 if med else 0.0
    return f"{med:.4g}{unit} ±{spread / 2:.0f}%"


def format_table(results: dict[str, Any]) -> str:
    """A fixed-width table of every measured row, then memory, sizes, comparisons and skips."""
    m = results["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    lines = [
        f"edge-vc bench  {results['date']}",
        f"machine: {m['cpu']} ({m['arch']}, {m['cores']} cores), {m['system']}, Python {m['python']}",
        f"libraries: {libs}",
        f"load average at start / end: {m.get('load_average_start')} / {m.get('load_average')} "
        "(other work on the machine slows every row alike; compare ratios within one run)",
        f"reference: {results['reference']['source']}",
        "RTF = wall seconds / audio seconds (< 1 is faster than real time); ± = half the interquartile range;",
        "CPU RTF = process CPU seconds (all threads) / audio seconds: the work done, insensitive to other load",
        "",
    ]
    header = (
        f"{'stage':<16} {'variant':<12} {'voice stage':<14} {'thr':>3}  {'RTF':>14}  {'CPU RTF':>9}  "
        f"{'first audio':>14}  {'time':>12}"
    )
    lines += [header, "-" * len(header)]
    for r in sorted(results["rows"], key=_sort_key):
        cpu = format(r["cpu_rtf"]["median"], ".4g") if "cpu_rtf" in r else "-"
        lines.append(
            f"{r['stage']:<16} {str(r.get('variant', '-')):<12} {str(r.get('voice_stage', '-')):<14} "
            f"{str(r.get('threads', '-')):>3}  {_fmt(r.get('rtf')):>14}  "
            f"{cpu:>9}  {_fmt(r.get('ttfa_s'), ' s'):>14}  "
            f"{_fmt(r.get('seconds'), ' s'):>12}"
        )
        parts = part_costs(r)
        if parts:
            lines.append(
                "  cost per second of audio by part (RTF / CPU RTF): "
                + ", ".join(f"{p} {w['median']:.2g}" + (f" / {c['median']:.2g}" if c else "") for p, w, c in parts)
            )
    n = max((r[k]["n"] for r in results["rows"] for k in ("rtf", "seconds") if k in r), default=0)
    lines.append(f"(median of up to {n} interleaved repetitions after {results['config']['warmup']} warm-up)")
    lines.append("")
    mem = results["memory"]
    loads = ", ".join(f"{k} +{v} MiB" for k, v in mem["load_rss_mb"].items())
    lines.append(f"peak RSS {mem['peak_rss_mb']} MiB (whole run); resident memory added by loading: {loads}")
    for a in results["artifacts"]:
        lines.append(f"artifact {a['kind']:<16} {a['label']:<12} {a['size_mb']:8.1f} MB  {a['path']}")
    for c in results.get("compare", []):
        lines.append(
            f"vs {c['reference']} ({c['variant']}, {c['threads']} thr): RTF {c['edge_vc_rtf']:.4g} vs "
            f"{c['piper_rtf']:.4g} (ratio {c['rtf_ratio']}), first audio {c['edge_vc_ttfa_s']:.3g} s vs "
            f"{c['piper_ttfa_s']:.3g} s (ratio {c['ttfa_ratio']})"
        )
    for s in results["skipped"]:
        lines.append(f"skipped {s['what']}: {s['reason']}")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: str | Path) -> Path:
    """PNG: RTF by thread count, one line per backend/precision (VITS alone and end to end)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from edge_vc.errors import EdgeVCError

        raise EdgeVCError("--plot needs matplotlib: pip install 'edge-vc[plot]'") from exc
    series: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for r in results["rows"]:
        if "rtf" not in r or not r.get("threads") or r.get("voice_stage") == "none" and r["stage"] == "voice_stage":
            continue
        if r["stage"] == "vits":
            name = f"VITS {r['variant']}"
        elif r["stage"] == "end_to_end":
            name = f"end to end {r['variant']} + {r['voice_stage']}"
        elif r["stage"] in ("piper-tts", "speaker_encoder", "voice_stage"):
            name = f"{r['stage']} {r.get('variant') or r.get('voice_stage')}"
        else:
            continue
        series.setdefault(name, []).append((int(r["threads"]), r["rtf"]))
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for name, points in sorted(series.items()):
        points.sort(key=lambda p: p[0])
        xs = [p[0] for p in points]
        med = [p[1]["median"] for p in points]
        err = [
            [m - p[1]["q1"] for m, p in zip(med, points, strict=True)],
            [p[1]["q3"] - m for m, p in zip(med, points, strict=True)],
        ]
        ax.errorbar(xs, med, yerr=err, marker="o", capsize=3, label=name)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("threads")
    ax.set_ylabel("real-time factor (lower is faster)")
    m = results["machine"]
    ax.set_title(f"edge-vc bench: {m['cpu']} ({m['arch']}, {m['cores']} cores)", fontsize=10)
    ax.set_xticks(sorted({p[0] for pts in series.values() for p in pts}) or [1])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
