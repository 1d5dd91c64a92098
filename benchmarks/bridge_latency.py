"""Bridge round trip over a pseudo-terminal: Python host ↔ the C firmware simulator (built here).

Sends STATUS_REQ from the firmware side N times and times until the firmware prints the host's STATUS.
The timing includes the simulator's stdin/stdout pipes, so it is an upper bound on the framing cost.

    python benchmarks/bridge_latency.py [--count 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    import serial
    from edge_vc.firmware_bridge.host import BridgeHost, EdgeRuntime, RuntimeConfig

    out = Path(tempfile.mkdtemp(prefix="ebp-bench-"))
    subprocess.run(["make", "-C", str(REPO / "firmware_bridge" / "c"), f"OUT={out}", "SAN=", "all"], check=True,
                   capture_output=True)  # fmt: skip
    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), timeout=0.01)
    host = BridgeHost(port, EdgeRuntime(RuntimeConfig(out_dir=out)))
    stop = threading.Event()
    thread = threading.Thread(target=host.run, args=(stop, 300.0), daemon=True)
    thread.start()
    sim = subprocess.Popen([str(out / "ebp_sim"), str(master)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           pass_fds=(master,), text=True, bufsize=1)  # fmt: skip
    times = []
    try:
        for _ in range(args.count):
            t0 = time.perf_counter()
            sim.stdin.write("status\n")
            sim.stdin.flush()
            for line in sim.stdout:
                if line.startswith("rx 20 "):
                    break
            times.append(time.perf_counter() - t0)
    finally:
        stop.set()
        sim.stdin.close()
        sim.wait(10)
        thread.join(10)
        port.close()
    times.sort()
    result = {
        "count": len(times),
        "median_ms": round(1000 * times[len(times) // 2], 3),
        "p95_ms": round(1000 * times[int(len(times) * 0.95)], 3),
        "max_ms": round(1000 * times[-1], 3),
        "host_read_timeout_ms": 10,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
