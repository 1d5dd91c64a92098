"""``--report enroll.png``: waveform, spectrogram and pitch contour with the coach's findings.

matplotlib is an optional extra (``pip install 'edge-vc[report]'``), imported only here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_vc.errors import EnrollmentError

_COLORS = {"ok": "#2e7d32", "info": "#1565c0", "warn": "#ef6c00", "refuse": "#c62828"}


def require_matplotlib() -> None:
    """Fail early, before recording, when the report cannot be drawn."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise EnrollmentError("--report needs matplotlib: pip install 'edge-vc[report]'") from exc


def draw_report(report, path: str | Path, title: str = "enrollment") -> Path:
    """Draw the report PNG for a CoachReport; returns the path."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge_vc.dsp.analysis import yin_f0

    audio = np.asarray(report.audio, dtype=np.float32)
    rate = int(report.sample_rate)
    t = np.arange(audio.size) / rate
    fig, axes = plt.subplots(4, 1, figsize=(11, 10), gridspec_kw={"height_ratios": [1, 1.4, 1, 1.1]})
    ax = axes[0]
    ax.plot(t, audio, lw=0.4, color="#37474f")
    ax.set_xlim(0, max(t[-1] if t.size else 1.0, 1e-3))
    ax.set_ylim(-1, 1)
    ax.set_ylabel("amplitude")
    ax.set_title(f"{title}: {report.total_seconds:.1f} s, {report.speech_seconds:.1f} s of speech")

    ax = axes[1]
    if audio.size > 1024:
        dither = np.random.default_rng(0).standard_normal(audio.size).astype(np.float32) * 1e-6
        ax.specgram(audio + dither, NFFT=1024, Fs=rate, noverlap=768, cmap="magma", vmin=-130)
    ax.set_ylim(0, min(8000, rate / 2))
    ax.set_ylabel("Hz")

    ax = axes[2]
    track = yin_f0(audio, rate) if audio.size else None
    if track is not None and track.f0.size:
        f0 = np.where(track.f0 > 0, track.f0, np.nan)
        ax.plot(np.arange(f0.size) * track.hop_s, f0, ".", ms=2, color="#6a1b9a")
        ax.set_title(f"pitch contour (median {track.median_hz():.0f} Hz)", fontsize=9)
    ax.set_xlim(axes[0].get_xlim())
    ax.set_ylabel("F0 Hz")
    ax.set_xlabel("seconds")

    ax = axes[3]
    ax.axis("off")
    import textwrap

    y = 1.0
    for finding in report.findings:
        text = textwrap.fill(f"{finding.level.upper():6s} {finding.check}: {finding.message}", 140,
                             subsequent_indent=" " * 7)  # fmt: skip
        ax.text(0.0, y, text, color=_COLORS.get(finding.level, "black"), fontsize=8, family="monospace", va="top",
                transform=ax.transAxes)  # fmt: skip
        y -= 0.1 * (text.count("\n") + 1)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
