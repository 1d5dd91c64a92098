"""Server memory while rotating requests over several learned profiles (issue: RSS toward 1 GB).

Enrolls N profiles (dev clips, or the shipped sample), adapts each (few steps: memory does not depend
on how well a decoder is trained; the quality gate is opened so the learned stage is used), starts
``edge-vc serve`` with an LRU smaller than N, then sends one request per profile in turn for the
given minutes and samples the server's RSS from /proc every second.

    python benchmarks/serve_memory.py --minutes 30 --out benchmarks/results/serve_memory
    python benchmarks/serve_memory.py --minutes 2 --home /tmp/serve-mem   # reuse adapted profiles

Writes OUT.json (samples, per-cycle RSS) and OUT.md (summary).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

TEXTS = [
    "The museum opens at nine, so we should leave the house a little earlier tomorrow.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow.",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def edge_vc(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "edge_vc", *args], env=env, check=True, stdout=subprocess.DEVNULL)


def clips(count: int) -> list[Path]:
    from edge_vc.bench.devdata import devdata_dir

    seed = devdata_dir() / "seed-vc"
    found = sorted(seed.glob("s*p1.wav")) if seed.is_dir() else []
    sample = Path(__file__).resolve().parent.parent / "samples" / "en_robert.wav"
    return [found[i] if i < len(found) else sample for i in range(count)]


def prepare(home: Path, count: int, steps: int, env: dict[str, str]) -> list[str]:
    from edge_vc.stages.learned import learned_ready

    names = [f"mem{i}" for i in range(count)]
    for name, clip in zip(names, clips(count), strict=True):
        folder = home / "profiles" / name
        if learned_ready(folder):
            continue
        print(f"enroll + adapt {name} from {clip.name}", flush=True)
        if not (folder / "profile.yaml").is_file():
            edge_vc("enroll", name, "--wav", str(clip), "--no-consent", env=env)
        edge_vc("adapt", name, "--steps", str(steps), "--minutes", "60", "--max-wer", "1", "--min-gain", "-1", env=env)
    return names


def speak(port: int, voice: str, text: str) -> float:
    body = json.dumps({"text": text, "voice": voice}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/speak", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=300) as answer:
        return float(answer.headers.get("X-Audio-Seconds", "0"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=60, help="adaptation steps per profile")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--home", type=Path, default=Path("/tmp/edge-vc-serve-memory"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("serve_args", nargs="*", help="more `edge-vc serve` options (after --)")
    args = parser.parse_args()
    env = dict(os.environ, EDGE_VC_HOME=str(args.home))
    names = prepare(args.home, args.profiles, args.steps, env)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "edge_vc", "serve", "--port", str(port), "--no-wyoming", "--workers", "1",
         "--threads", str(args.threads), *args.serve_args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            samples.append((round(time.monotonic() - started, 1), round(rss_mb(server.pid), 1)))
            stop.wait(1.0)

    try:
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        idle = rss_mb(server.pid)
        threading.Thread(target=sample, daemon=True).start()
        cycles: list[dict] = []
        requests = 0
        audio = 0.0
        while time.monotonic() - started < args.minutes * 60:
            for i, name in enumerate(names):
                audio += speak(port, name, TEXTS[(len(cycles) + i) % len(TEXTS)])
                requests += 1
            cycles.append({"t": round(time.monotonic() - started, 1), "rss_mb": round(rss_mb(server.pid), 1)})
            print(f"cycle {len(cycles)}: {cycles[-1]['rss_mb']} MiB at {cycles[-1]['t']} s", flush=True)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
    peak = max(r for _, r in samples)
    warm = cycles[min(1, len(cycles) - 1)]["rss_mb"]
    result = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "profiles": len(names),
        "serve_args": args.serve_args,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "requests": requests,
        "audio_seconds": round(audio, 1),
        "idle_rss_mb": round(idle, 1),
        "peak_rss_mb": peak,
        "rss_after_cycle_2_mb": warm,
        "rss_last_cycle_mb": cycles[-1]["rss_mb"],
        "growth_after_warm_up_mb": round(cycles[-1]["rss_mb"] - warm, 1),
        "load_average": os.getloadavg(),
        "cycles": cycles,
        "samples": samples,
    }
    summary = {k: v for k, v in result.items() if k not in ("cycles", "samples")}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        rows = "\n".join(f"| {k} | {v} |" for k, v in summary.items())
        title = "# serve memory, rotating learned profiles"
        args.out.with_suffix(".md").write_text(f"{title}\n\n| | |\n|---|---|\n{rows}\n")


if __name__ == "__main__":
    main()
