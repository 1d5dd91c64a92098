#!/usr/bin/env bash
# Start PulseAudio with a null sink (a real PortAudio device without a sound card); audio played to
# the sink comes back on its monitor source. Used by tests and CI; harmless when already running.
set -euo pipefail
if ! pactl info >/dev/null 2>&1; then
  pulseaudio --start --exit-idle-time=-1 -n -F /dev/null \
    --load="module-null-sink sink_name=edgevc_null" --load="module-native-protocol-unix" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do pactl info >/dev/null 2>&1 && break; sleep 0.5; done
fi
pactl list short sinks | grep -q edgevc_null || pactl load-module module-null-sink sink_name=edgevc_null >/dev/null
pactl set-default-sink edgevc_null
pactl set-default-source edgevc_null.monitor
pactl info | grep -E "Default (Sink|Source)"
