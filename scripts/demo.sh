#!/usr/bin/env bash
# The main job: speak with the bundled voice (to a WAV, and to the speaker when one exists), then
# clone a voice from the shipped sample (DSP voice stage) and speak with it.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
mkdir -p out
text="Hello! I am edge v c, and I speak offline."
edge-vc say "$text" --out out/hello.wav --verbose
play=0
if edge-vc devices 2>/dev/null | grep -qE "^ *[0-9]+ +(in/)?out"; then play=1; fi
if [ "$play" = 1 ]; then edge-vc say "$text" --play || echo "(playback failed; the WAV is in out/)"; fi
echo "wrote out/hello.wav"
# Clone: enroll the shipped 7 s sample (a real enrollment should be 10-60 s from the microphone:
# edge-vc enroll NAME --mic), then speak with the profile.
edge-vc enroll demo-robert --wav samples/en_robert.wav --no-consent --force
edge-vc say "Hello! This is a cloned voice, made from a short recording." --voice demo-robert --out out/clone.wav --verbose
if [ "$play" = 1 ]; then edge-vc say "This is a cloned voice." --voice demo-robert --play || true; fi
echo "wrote out/clone.wav"
