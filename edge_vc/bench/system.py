"""What machine a benchmark ran on: CPU model, cores, library versions, memory use, file sizes."""

from __future__ import annotations

import os
import platform
from pathlib import Path

LIBRARIES = (
    "edge-vc",
    "onnxruntime",
    "numpy",
    "piper-phonemize",
    "soxr",
    "tflite-runtime",
    "ai-edge-litert",
    "piper-tts",
    "faster-whisper",
)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (x86 ``model name``, ARM ``Model``/``Hardware``), else platform."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        info = ""
    found: dict[str, str] = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware", "CPU part") and value.strip():
            found.setdefault(key, value.strip())
    for key in ("model name", "Model", "Hardware"):
        if key in found:
            return found[key]
    dt_model = Path("/proc/device-tree/model")
    if dt_model.is_file():
        return dt_model.read_text(errors="replace").strip("\x00 \n")
    return platform.processor() or platform.machine()


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries that matter for speed (missing ones left out)."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_info() -> dict[str, object]:
    """CPU, cores, OS, Python and library versions."""
    return {
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count() or 1,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": library_versions(),
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work competing for the CPU), where the OS reports them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if platform.system() != "Darwin" else peak / (1024.0 * 1024.0)


def current_rss_mb() -> float:
    """Current resident memory of this process, in MiB (0 where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def size_mb(*paths: str | Path) -> float:
    """Total size of existing files, in MB (10^6 bytes)."""
    return sum(Path(p).stat().st_size for p in paths if Path(p).is_file()) / 1e6
