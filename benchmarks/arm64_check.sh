#!/usr/bin/env bash
# Prove edge-vc installs and speaks on aarch64: an arm64 Debian root (debootstrap) run under
# qemu-user emulation. Installs with the README's set-up command (scripts/setup.sh), speaks one
# sentence with `edge-vc say` (onnxruntime) and again with `edge-vc say --backend litert` (LiteRT, the
# `tflite` extra installed on top), and checks on the host that whisper tiny.en understands both (WER).
#
#   sudo bash benchmarks/arm64_check.sh            # root in /var/tmp/edge-vc-arm64 (reused if present)
#   ARM64_ROOT=/somewhere MAX_WER=0.2 sudo -E bash benchmarks/arm64_check.sh
#   SETUP_CMD="bash scripts/setup.sh runtime" ARM64_EXTRAS=consent,learned sudo -E bash benchmarks/arm64_check.sh
#   ARM64_LITERT=0 ...                             # leave out the LiteRT run
#
# Needs: Debian/Ubuntu host, root, packages debootstrap qemu-user-static binfmt-support, network to
# deb.debian.org and pypi.org, and the host venv (.venv with the eval extra) for the WER check.
# EMULATED TIMINGS ARE NOT PERFORMANCE: qemu-user runs aarch64 code 5-20x slower than a real CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
ROOT="${ARM64_ROOT:-/var/tmp/edge-vc-arm64}"
SUITE="${DEBIAN_SUITE:-bookworm}"          # bookworm: Python 3.11, matching the cp311 aarch64 wheels
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
MAX_WER="${MAX_WER:-0.2}"
LITERT="${ARM64_LITERT:-1}"
WHEEL_ARGS=()
[ -n "${ARM64_EXTRAS:-}" ] && WHEEL_ARGS+=(--extras "$ARM64_EXTRAS")  # the extras SETUP_CMD installs
[ "$LITERT" = "1" ] && WHEEL_ARGS+=(--also tflite)
OUT="${ARM64_OUT:-$REPO/out/arm64}"
TEXT="The quick brown fox jumps over the lazy dog, and then it runs into the forest."
mkdir -p "$OUT"
LOG="$OUT/timings.txt"
: > "$LOG"
stamp() { date +%s; }
phase() { echo "$1 $2" | tee -a "$LOG"; }   # name seconds
T0=$(stamp)

[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 1; }
for tool in debootstrap qemu-aarch64-static; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install debootstrap qemu-user-static binfmt-support" >&2; exit 1; }
done

# 1. binfmt_misc: lets the kernel run aarch64 ELF files through qemu-aarch64-static.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "binfmt_misc could not register qemu-aarch64 (no binfmt_misc in this kernel/container?)." >&2
  echo "Without it a chroot cannot exec aarch64 programs; run this on a host or VM that allows binfmt_misc." >&2
  exit 2
fi

# 2. The arm64 Debian root (minbase + what edge-vc needs at run time).
t=$(stamp)
if [ ! -x "$ROOT/usr/bin/python3" ]; then
  rm -rf "$ROOT"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,libsndfile1,libportaudio2 \
    "$SUITE" "$ROOT" "$MIRROR"
fi
phase debootstrap_s $(( $(stamp) - t ))

mounts=()
cleanup() { for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done; }
trap cleanup EXIT
for m in proc sys dev; do
  mountpoint -q "$ROOT/$m" || { mount --bind "/$m" "$ROOT/$m"; mounts+=("$ROOT/$m"); }
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Trust the host's CA bundle too (networks that intercept TLS add their CA there; harmless otherwise).
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
CA_ENV=""
if [ -f "$HOST_CA" ]; then
  cp "$HOST_CA" "$ROOT/etc/ssl/certs/host-ca-bundle.crt"
  CA_ENV="PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca-bundle.crt"
fi
in_root() {
  # shellcheck disable=SC2086
  chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive $CA_ENV ${QEMU_CPU:+QEMU_CPU=$QEMU_CPU} bash -c "$1"
}
in_root "uname -m; python3 --version" | tee -a "$LOG"

# 3. The committed project (git archive HEAD), installed with the README's set-up command.
rm -rf "$ROOT/opt/edge-vc"
mkdir -p "$ROOT/opt/edge-vc"
git -C "$REPO" archive HEAD | tar -x -C "$ROOT/opt/edge-vc"
# No services may start inside the root (the set-up command installs pulseaudio).
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
if [ -f "$ROOT/opt/edge-vc/scripts/setup.sh" ]; then
  SETUP="${SETUP_CMD:-bash scripts/setup.sh}"
else
  SETUP="${SETUP_CMD:-python3 -m venv .venv && .venv/bin/pip install -q -e .}"
fi
echo "set-up command: $SETUP" | tee -a "$LOG"
# Wheelhouse (default on): the host downloads the aarch64/cp311 wheels of the runtime dependencies and
# pip inside the root installs from it with no index. Slow emulated TLS made PyPI connections from the
# root reset here; ARM64_WHEELHOUSE=0 lets pip in the root use the network itself.
PIP_ENV=""
HOST_PY="$REPO/.venv/bin/python"
[ -x "$HOST_PY" ] || HOST_PY=python3
AARCH64=(--only-binary=:all: --python-version 3.11 --implementation cp
  --platform manylinux_2_36_aarch64 --platform manylinux_2_34_aarch64 --platform manylinux_2_31_aarch64
  --platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 --platform manylinux_2_26_aarch64
  --platform manylinux_2_17_aarch64 --platform manylinux2014_aarch64 --platform linux_aarch64 --platform any)
if [ "${ARM64_WHEELHOUSE:-1}" = "1" ]; then
  t=$(stamp)
  WH="$ROOT/opt/wheels"
  mkdir -p "$WH"
  "$HOST_PY" -m pip download -q "${AARCH64[@]}" -d "$WH" pip "setuptools>=68" wheel
  # the runtime dependency closure at this environment's versions: aarch64 wheels, else the sdist
  for req in $("$HOST_PY" benchmarks/arm64_wheelhouse.py "$ROOT/opt/edge-vc/pyproject.toml" $([ -f "$ROOT/opt/edge-vc/scripts/setup.sh" ] && echo "$ROOT/opt/edge-vc/scripts/setup.sh") "${WHEEL_ARGS[@]}"); do
    "$HOST_PY" -m pip download -q --no-deps "${AARCH64[@]}" -d "$WH" "$req" 2>/dev/null \
      || "$HOST_PY" -m pip download -q --no-deps --no-binary :all: -d "$WH" "$req"
  done
  ls "$WH" > "$OUT/wheelhouse.txt"
  PIP_ENV="PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/wheels"
  phase wheelhouse_s $(( $(stamp) - t ))
fi
t=$(stamp)
in_root "cd /opt/edge-vc && ${PIP_ENV:+export $PIP_ENV;} $SETUP" 2>&1 | tail -n 20
phase setup_s $(( $(stamp) - t ))
# onnxruntime >= ~1.2x crashes on import under qemu-user 7.2 (Debian 12's qemu: SIGSEGV while it probes the
# CPU); real aarch64 hardware is not affected. For the emulated check only, fall back to an older release.
if ! in_root "/opt/edge-vc/.venv/bin/python -c 'import onnxruntime'" >/dev/null 2>&1; then
  ORT_QEMU="${ARM64_QEMU_ORT:-1.19.2}"
  bad=$(in_root "/opt/edge-vc/.venv/bin/pip show onnxruntime 2>/dev/null | sed -n 's/^Version: //p'")
  echo "onnxruntime $bad crashed on import under $(qemu-aarch64-static --version | head -1); using $ORT_QEMU for this emulated check" | tee -a "$LOG"
  "$HOST_PY" -m pip download -q --no-deps "${AARCH64[@]}" -d "$ROOT/tmp/ort" "onnxruntime==$ORT_QEMU"
  in_root "/opt/edge-vc/.venv/bin/pip install -q --no-index --no-deps --force-reinstall /tmp/ort/onnxruntime-$ORT_QEMU-*.whl"
fi
if [ "$LITERT" = "1" ]; then  # LiteRT beside onnxruntime (the `tflite` extra), from the wheelhouse when there is one
  in_root "cd /opt/edge-vc && ${PIP_ENV:+export $PIP_ENV;} .venv/bin/pip install -q 'ai-edge-litert>=2.0'" 2>&1 | tail -n 5
  # ai-edge-litert >= 2.2 crashes (SIGSEGV) under qemu-user 7.2 when it creates an interpreter; 2.1.6 and
  # older work there. As for onnxruntime: for the emulated check only, fall back to an older release.
  LITERT_PROBE="from ai_edge_litert.interpreter import Interpreter; Interpreter(model_path='/opt/edge-vc/edge_vc/data/silero_vad.tflite').allocate_tensors()"
  if ! in_root "/opt/edge-vc/.venv/bin/python -c \"$LITERT_PROBE\"" >/dev/null 2>&1; then
    LITERT_QEMU="${ARM64_QEMU_LITERT:-2.1.6}"
    bad=$(in_root "/opt/edge-vc/.venv/bin/pip show ai-edge-litert 2>/dev/null | sed -n 's/^Version: //p'")
    echo "ai-edge-litert $bad crashed creating an interpreter under $(qemu-aarch64-static --version | head -1); using $LITERT_QEMU for this emulated check" | tee -a "$LOG"
    "$HOST_PY" -m pip download -q --no-deps "${AARCH64[@]}" -d "$ROOT/tmp/litert" "ai-edge-litert==$LITERT_QEMU"
    in_root "/opt/edge-vc/.venv/bin/pip install -q --no-index --no-deps --force-reinstall /tmp/litert/ai_edge_litert-$LITERT_QEMU-*.whl"
  fi
fi
in_root "/opt/edge-vc/.venv/bin/pip list 2>/dev/null" > "$OUT/pip-list.txt"

# 4. Which aarch64 wheels exist (for Debian 12's glibc 2.36 and CPython 3.11), resolved on the host.
: > "$OUT/wheels.txt"
for pkg in onnxruntime piper-phonemize tflite-runtime ai-edge-litert sounddevice soxr soundfile numpy; do
  tmp=$(mktemp -d)
  if "$HOST_PY" -m pip download -q --no-deps "${AARCH64[@]}" -d "$tmp" "$pkg" >/dev/null 2>&1; then
    ls "$tmp"
  else
    echo "$pkg: NO aarch64/cp311 wheel"
  fi >> "$OUT/wheels.txt"
  rm -rf "$tmp"
done
cat "$OUT/wheels.txt"

# 5. Speak, then check intelligibility on the host.
understood() {  # WAV: whisper tiny.en on the host; fails when WER > MAX_WER
  "$REPO/.venv/bin/python" - "$1" "$TEXT" "$MAX_WER" <<'PY' | tee -a "$LOG"
import sys
from edge_vc.audio.io import read_audio
from edge_vc.bench.asr import WhisperASR, word_error_rate
audio, rate = read_audio(sys.argv[1])
hyp = WhisperASR().transcribe(audio, rate)
wer = word_error_rate(sys.argv[2], hyp)
print(f"{sys.argv[1]}: seconds {len(audio) / rate:.2f} rate {rate} transcript {hyp!r} wer {wer:.3f}")
sys.exit(0 if wer <= float(sys.argv[3]) else 1)
PY
}
t=$(stamp)
in_root "cd /tmp && /opt/edge-vc/.venv/bin/edge-vc say --verbose -o /tmp/arm64.wav '$TEXT'"
phase say_s $(( $(stamp) - t ))
cp "$ROOT/tmp/arm64.wav" "$OUT/arm64.wav"
file "$OUT/arm64.wav" | tee -a "$LOG" || true
understood "$OUT/arm64.wav"
status=0
if [ "$LITERT" = "1" ]; then
  t=$(stamp)
  rm -f "$ROOT/tmp/arm64-litert.wav"
  # qemu's default CPU ("max") has extensions whose emulation garbled XNNPACK's output (12.6 s of noise,
  # WER 1.0); a Raspberry Pi 4 core (cortex-a72) gives the right audio. QEMU_CPU passes through to qemu-user.
  export QEMU_CPU="${ARM64_QEMU_CPU:-cortex-a72}"
  if in_root "cd /tmp && /opt/edge-vc/.venv/bin/edge-vc say --backend litert --verbose -o /tmp/arm64-litert.wav '$TEXT'" 2>&1 | tee "$OUT/say-litert.log" \
      && [ -s "$ROOT/tmp/arm64-litert.wav" ]; then
    phase say_litert_s $(( $(stamp) - t ))
    cp "$ROOT/tmp/arm64-litert.wav" "$OUT/arm64-litert.wav"
    if understood "$OUT/arm64-litert.wav"; then echo "litert: works (QEMU_CPU=$QEMU_CPU)" | tee -a "$LOG"; else status=1; fi
  else
    echo "litert: does not work under emulation (say --backend litert failed; see $OUT/say-litert.log)" | tee -a "$LOG"
    status=1
  fi
fi
phase total_s $(( $(stamp) - T0 ))
[ "$status" -eq 0 ] || { echo "arm64 check FAILED (see $LOG)" >&2; exit 1; }
echo "arm64 check passed (timings are EMULATED under qemu-user, not performance): $LOG"
