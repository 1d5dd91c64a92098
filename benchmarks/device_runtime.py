"""Measure the device runtime: server start, first-audio latency (HTTP stream, whole WAV, Wyoming),
memory before/after 20 concurrent clients, and text-markup cost. Loopback only; bounded loops.

    python benchmarks/device_runtime.py [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TEXT = "The kitchen light is on and the front door is locked. The weather today is sunny with a light breeze."


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def start(threads: int):
    cmd = [sys.executable, "-m", "edge_vc", "serve", "--port", "0", "--wyoming-port", "0", "--threads", str(threads),
           "--workers", "1", "--max-queue", "2"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(REPO), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    while time.perf_counter() - t0 < 120:
        if select.select([proc.stderr], [], [], 1.0)[0]:
            match = re.search(rb":(\d+), Wyoming on tcp://[\d.]+:(\d+)", proc.stderr.readline())
            if match:
                return proc, int(match.group(1)), int(match.group(2)), time.perf_counter() - t0
    proc.kill()
    raise SystemExit("server did not start")


def post_first_byte(port: int, body: dict) -> tuple[float, float, int]:
    """(seconds to the first audio byte, seconds to the end, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    conn.request("POST", "/speak", body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    first = response.read(64)
    t_first = time.perf_counter() - t0
    rest = response.read()
    conn.close()
    return t_first, time.perf_counter() - t0, len(first) + len(rest)


async def wyoming_first(port: int) -> tuple[float, float]:
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import Synthesize

    async with AsyncTcpClient("127.0.0.1", port) as client:
        t0 = time.perf_counter()
        await client.write_event(Synthesize(TEXT).event())
        first = None
        while True:
            event = await client.read_event()
            if event.type == "audio-chunk" and first is None:
                first = time.perf_counter() - t0
            if event.type in ("audio-stop", "error"):
                return first or float("nan"), time.perf_counter() - t0


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results: dict = {"threads": args.threads, "text_chars": len(TEXT)}
    proc, http_port, wy_port, startup = start(args.threads)
    results["startup_s"] = round(startup, 2)
    try:
        results["rss_idle_mb"] = round(rss_mb(proc.pid), 1)
        post_first_byte(http_port, {"text": TEXT})  # warm-up
        results["rss_warm_mb"] = round(rss_mb(proc.pid), 1)
        stream = [post_first_byte(http_port, {"text": TEXT, "stream": True}) for _ in range(args.repeats)]
        whole = [post_first_byte(http_port, {"text": TEXT}) for _ in range(args.repeats)]
        wyoming = [asyncio.run(wyoming_first(wy_port)) for _ in range(args.repeats)]
        audio_s = (whole[0][2] - 44) / 2 / 22050
        results["audio_s"] = round(audio_s, 2)
        results["http_stream_first_audio_s"] = round(median([s[0] for s in stream]), 3)
        results["http_stream_total_s"] = round(median([s[1] for s in stream]), 3)
        results["http_wav_first_byte_s"] = round(median([w[0] for w in whole]), 3)
        results["wyoming_first_chunk_s"] = round(median([w[0] for w in wyoming]), 3)
        results["wyoming_total_s"] = round(median([w[1] for w in wyoming]), 3)
        results["rtf_whole"] = round(median([w[1] for w in whole]) / audio_s, 3)

        outcomes: list = []
        lock = threading.Lock()

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=240)
            try:
                t0 = time.perf_counter()
                conn.request(
                    "POST", "/speak", body=json.dumps({"text": TEXT}), headers={"Content-Type": "application/json"}
                )
                response = conn.getresponse()
                response.read()
                with lock:
                    outcomes.append((response.status, time.perf_counter() - t0))
            finally:
                conn.close()

        for burst in (1, 2, 3):
            outcomes.clear()
            threads = [threading.Thread(target=client) for _ in range(20)]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(300)
            time.sleep(1.0)
            results[f"burst{burst}_wall_s"] = round(time.perf_counter() - t0 - 1.0, 2)
            results[f"burst{burst}_ok_200"] = sum(1 for s, _ in outcomes if s == 200)
            results[f"burst{burst}_busy_503"] = sum(1 for s, _ in outcomes if s == 503)
            refused = [t for s, t in outcomes if s == 503]
            results[f"burst{burst}_refusal_max_s"] = round(max(refused), 3) if refused else None
            results[f"rss_after_burst{burst}_mb"] = round(rss_mb(proc.pid), 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)

    from edge_vc.text.normalize import normalize_text
    from edge_vc.text.ssml import parse_ssml, speech_plan

    plain = ("On 2024-03-05 Dr. Smith paid $12.50 for 3 km at 10:30 pm, 50% off. " * 700)[:50_000]
    t0 = time.perf_counter()
    list(speech_plan(plain))
    results["normalize_plan_50kB_s"] = round(time.perf_counter() - t0, 3)
    hostile = "<speak>" + '<prosody rate="fast">' * 2500
    t0 = time.perf_counter()
    parse_ssml(hostile)
    results["ssml_parse_hostile_50kB_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    for _ in range(1000):
        normalize_text("It costs $12.50 on March 3rd, 2024 at 10:30.")
    results["normalize_sentence_us"] = round((time.perf_counter() - t0) * 1000, 1)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
