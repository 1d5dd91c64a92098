"""`edge-vc say` as a user runs it: outputs, pipes, and specific errors that write nothing."""

from __future__ import annotations

import io
import json
import shutil
import wave

import pytest

from edge_vc.base_voice.catalog import bundled_voice


def _wav_info(data: bytes) -> tuple[int, int]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getframerate(), wav.getnframes()


def test_say_writes_wav(run_cli, tmp_path):
    out = tmp_path / "hello.wav"
    result = run_cli("say", "Hello from edge v c.", "--out", str(out), "--threads", "1")
    assert result.returncode == 0, result.stderr.decode()
    rate, frames = _wav_info(out.read_bytes())
    assert rate == 22050 and frames > 22050 * 0.5
    assert result.stderr == b"", "no chatter without --verbose"


def test_say_reads_stdin_and_streams_raw(run_cli):
    result = run_cli("say", "--raw", input=b"Text from a pipe.")
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout) > 22050 * 2 * 0.5 and len(result.stdout) % 2 == 0


def test_say_wav_to_stdout(run_cli):
    result = run_cli("say", "Pipe me.", "--out", "-", "--verbose")
    assert result.returncode == 0
    assert result.stdout[:4] == b"RIFF" and result.stdout[8:12] == b"WAVE"
    assert b"RTF" in result.stderr
    assert b"memory arena off" in result.stderr  # say's default, as serve's


def test_say_memory_arena_flag_keeps_the_arena(run_cli):
    result = run_cli("say", "Pipe me.", "--out", "-", "--verbose", "--memory-arena")
    assert result.returncode == 0, result.stderr.decode()
    assert b"memory arena on" in result.stderr and result.stdout[:4] == b"RIFF"


@pytest.fixture()
def voice_copy(tmp_path):
    files = bundled_voice()
    model = tmp_path / "copy.onnx"
    config = tmp_path / "copy.onnx.json"
    shutil.copy(files.config_path, config)
    return model, config, files


def _assert_error(result, out_path, code_fragment: str):
    assert result.returncode != 0
    err = result.stderr.decode()
    assert code_fragment in err, err
    assert "Traceback" not in err
    assert not out_path.exists()
    assert not any(p.name.startswith(f".{out_path.name}") for p in out_path.parent.iterdir()), "temp file left"


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(run_cli, tmp_path, text):
    out = tmp_path / "o.wav"
    _assert_error(run_cli("say", text, "--out", str(out)), out, "text is empty")


def test_missing_voice_file(run_cli, tmp_path):
    out = tmp_path / "o.wav"
    _assert_error(
        run_cli("say", "Hi.", "--voice", str(tmp_path / "nope.onnx"), "--out", str(out)), out, "voice model not found"
    )


def test_corrupt_onnx(run_cli, tmp_path, voice_copy):
    model, _, _ = voice_copy
    model.write_bytes(b"this is not an onnx model" * 100)
    out = tmp_path / "o.wav"
    _assert_error(run_cli("say", "Hi.", "--voice", str(model), "--out", str(out)), out, "cannot load ONNX model")


def test_config_with_missing_keys(run_cli, tmp_path, voice_copy):
    model, config, files = voice_copy
    shutil.copy(files.model_path, model)
    data = json.loads(config.read_text())
    del data["audio"]
    del data["espeak"]
    config.write_text(json.dumps(data))
    out = tmp_path / "o.wav"
    _assert_error(
        run_cli("say", "Hi.", "--voice", str(model), "--out", str(out)),
        out,
        "lacks required keys: audio.sample_rate, espeak.voice",
    )


def test_missing_sidecar(run_cli, tmp_path, voice_copy):
    model, config, files = voice_copy
    shutil.copy(files.model_path, model)
    config.unlink()
    out = tmp_path / "o.wav"
    _assert_error(run_cli("say", "Hi.", "--voice", str(model), "--out", str(out)), out, "voice config not found")


def test_unknown_device_name(run_cli, tmp_path):
    out = tmp_path / "o.wav"
    result = run_cli("say", "Hi.", "--device", "no-such-speaker-xyz", "--out", str(out))
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "no output device named 'no-such-speaker-xyz'" in err, err
    assert not out.exists()


def test_unknown_voice_name_lists_known_voices(run_cli):
    result = run_cli("say", "Hi.", "--voice", "marvin")
    assert result.returncode == 3
    assert "unknown voice 'marvin'" in result.stderr.decode() and "en_US-joe-medium" in result.stderr.decode()
