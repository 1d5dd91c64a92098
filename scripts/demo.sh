#!/usr/bin/env bash
# The main job: speak with the bundled voice (to a WAV, and to the speaker when one exists), then
# clone a voice from the shipped sample and speak with it.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
mkdir -p out
edge-vc say "Hello! I am edge v c, and I speak offline." --out out/hello.wav --verbose
if edge-vc devices 2>/dev/null | grep -q "out"; then
  edge-vc say "Hello! I am edge v c, and I speak offline." --play || echo "(playback failed; the WAV is in out/)"
fi
echo "wrote out/hello.wav"
