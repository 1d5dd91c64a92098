#!/usr/bin/env bash
# Set up edge-vc on a fresh Debian / Ubuntu / Raspberry Pi OS machine: system packages, a venv, the project.
#   bash scripts/setup.sh            # runtime only
#   bash scripts/setup.sh test       # plus test/export extras and dev data (what CI uses)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null 2>&1; then
  pkgs="python3 python3-venv python3-pip libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins"
  # Tests also build the reference firmware in C.
  if [ "$extras" = "test" ]; then pkgs="$pkgs build-essential python3-dev"; fi
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
  python scripts/fetch_dev_data.py >/dev/null
else
  # consent: spoken consent check at `enroll --mic`; learned: the learned voice stage at run time.
  python -m pip install -q -e ".[consent,learned]"
fi
echo "edge-vc set up in $(pwd)/.venv"
