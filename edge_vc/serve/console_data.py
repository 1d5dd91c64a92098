"""What the console shows: profile summaries, the stage a profile speaks through, the latest bench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_vc.errors import ProfileError
from edge_vc.serve.console_enroll import report_path


def bench_paths() -> tuple[Path, Path]:
    """(JSON results, PNG plot) of the console's latest ``edge-vc bench --quick``."""
    from edge_vc.paths import cache_dir

    folder = cache_dir() / "console"
    return folder / "bench.json", folder / "bench.png"


def bench_summary() -> dict[str, Any]:
    """The latest bench as table rows (median RTF and first-audio time per measured row)."""
    results_path, plot_path = bench_paths()
    if not results_path.is_file():
        return {"rows": [], "measured": None, "plot": None}
    try:
        results = json.loads(results_path.read_text())
    except (OSError, ValueError):
        return {"rows": [], "measured": None, "plot": None, "error": f"{results_path} is unreadable"}
    rows = []
    for row in results.get("rows", []):
        if "rtf" not in row:
            continue
        what = " ".join(str(row[k]) for k in ("stage", "variant", "voice_stage") if row.get(k) not in (None, "", "-"))
        ttfa = (row.get("ttfa_s") or {}).get("median")
        rows.append({
            "what": what, "threads": row.get("threads"), "rtf": f"{row['rtf']['median']:.3g}",
            "first_audio": f"{ttfa:.3g} s" if ttfa is not None else "-",
        })  # fmt: skip
    machine = results.get("machine", {})
    return {
        "rows": rows, "measured": results.get("date"), "command": results.get("command"),
        "machine": f"{machine.get('cpu', '?')}, {machine.get('cores')} cores",
        "plot": "/v1/bench.png" if plot_path.is_file() else None,
    }  # fmt: skip


def profile_names() -> list[str]:
    from edge_vc.profiles.profile import list_profiles

    return list_profiles()


def stage_in_use(name: str) -> str:
    from edge_vc.profiles.profile import VoiceProfile
    from edge_vc.stages.learned import learned_ready

    profile = VoiceProfile.load(name, check_encoder=False)
    return "learned" if profile.path is not None and learned_ready(profile.path) else profile.stage_kind


def describe(name: str, full: bool = False) -> dict[str, Any]:
    """What the page shows of one profile (``full``: its whole profile.yaml document too)."""
    from edge_vc.profiles.profile import VoiceProfile
    from edge_vc.stages.learned import learned_ready, learned_status

    try:
        profile = VoiceProfile.load(name, check_encoder=False)
    except ProfileError as exc:
        if full:
            raise
        return {"name": name, "error": str(exc)}
    learned = learned_status(profile.path) if profile.path else None
    info = {
        "name": profile.name, "created": profile.created, "base_voice": profile.base.get("voice"),
        "stage": "learned" if profile.path and learned_ready(profile.path) else profile.stage_kind,
        "enrolled_stage": profile.stage_kind, "consent": profile.consent.mode,
        "speech_seconds": profile.enrollment.get("speech_seconds"),
        "learned": {k: learned.get(k) for k in ("status", "message", "steps", "updated")} if learned else None,
        "report": f"/v1/profiles/{name}/report.png" if report_path(name).is_file() else None,
    }  # fmt: skip
    if full:
        info["document"] = json.loads(json.dumps(profile.to_dict(), default=str))
    return info
