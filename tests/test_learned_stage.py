"""Learned voice stage: content features, decoder export parity, adaptation end to end, resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_whisper_mel_matches_faster_whisper(devdata):
    """The content front-end reproduces faster-whisper's log-mel exactly (numpy only)."""
    from faster_whisper.feature_extractor import FeatureExtractor

    from edge_vc.audio.io import read_audio
    from edge_vc.features.content import whisper_log_mel

    audio, _ = read_audio(devdata("seed-vc") / "s1p1.wav", 16000)
    reference = FeatureExtractor(feature_size=80)(np.pad(audio, (0, 480000 - audio.size)), padding=160)[:, :3000]
    assert np.abs(whisper_log_mel(audio) - reference).max() < 1e-4


def test_content_features_follow_speech(devdata):
    """Frames align to the HiFi-GAN mel, and speech differs from silence in content space."""
    from edge_vc.audio.io import read_audio
    from edge_vc.features.content import ContentEncoder
    from edge_vc.features.hifigan_mel import hifigan_log_mel

    audio, rate = read_audio(devdata("seed-vc") / "s2p1.wav", 22050)
    audio = audio[: 4 * rate]
    mel = hifigan_log_mel(audio, rate)
    assert mel.shape == (audio.size // 256, 80)
    encoder = ContentEncoder.load(threads=2)
    feats = encoder.encode(audio, rate, mel.shape[0])
    assert feats.shape == (mel.shape[0], 384) and np.isfinite(feats).all()
    silence = encoder.encode(np.zeros_like(audio), rate, mel.shape[0])
    assert np.abs(feats - silence).mean() > 0.1


@pytest.mark.slow
def test_decoder_onnx_matches_torch(tmp_path):
    """The exported speaker decoder gives the PyTorch mel within 1e-3."""
    from edge_vc.train.adapt import export_decoder, init_from_base

    from edge_vc.backends.onnx import create_session, read_metadata

    model = init_from_base()
    with torch.no_grad():
        model.film.weight[1].normal_(0, 0.1)  # a speaker row that differs from the base voice's
    diff = export_decoder(model, tmp_path / "decoder.onnx", {"kind": "edge-vc/learned-decoder"})
    assert diff <= 1e-3
    session = create_session(tmp_path / "decoder.onnx", threads=1)
    assert read_metadata(session)["kind"] == "edge-vc/learned-decoder"
    rng = np.random.default_rng(0)
    feeds = {"content": rng.normal(size=(1, 90, 384)).astype(np.float32)}
    if model.config.pitch_dim:  # log-F0 re 150 Hz and voicing
        feeds["pitch"] = np.stack([rng.normal(0, 0.5, 90), rng.random(90) > 0.4], -1)[None].astype(np.float32)
    assert [i.name for i in session.get_inputs()] == list(feeds)
    got = session.run(None, feeds)[0]
    assert got.shape == (1, 80, 90)
    with torch.no_grad():
        inputs = {k: torch.from_numpy(v) for k, v in feeds.items()}
        base = model(inputs["content"], torch.zeros(1, dtype=torch.long), inputs.get("pitch")).numpy()
    assert np.abs(got - base).max() > 1e-2  # speaker 1 is exported, not the base voice


@pytest.fixture(scope="module")
def learned_home(tmp_path_factory, devdata):
    """An EDGE_VC_HOME with a built fp32 vocoder and a profile holding a real enrollment clip."""
    from edge_vc.train.export_vocoder import export_fp32

    from edge_vc.audio.io import read_audio, write_wav

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("EDGE_VC_HOME")
    os.environ["EDGE_VC_HOME"] = str(home)
    (home / "vocoder").mkdir()
    export_fp32(home / "vocoder", devdata("hifigan") / "generator_universal.pth.tar")
    profile = home / "profiles" / "s1"
    profile.mkdir(parents=True)
    audio, rate = read_audio(devdata("seed-vc") / "s1p1.wav", 22050)
    write_wav(profile / "enrollment.wav", audio, rate)
    yield home
    if old is None:
        os.environ.pop("EDGE_VC_HOME", None)
    else:
        os.environ["EDGE_VC_HOME"] = old


@pytest.mark.slow
def test_adaptation_interrupt_resume_and_gate(learned_home):
    """Ctrl-C mid-training leaves a resumable checkpoint and the profile un-switched; the next run
    resumes where it stopped, exports a decoder the stage runs, and the quality gate refuses an
    under-trained decoder (the profile keeps DSP)."""
    from edge_vc.train.adapt import AdaptConfig
    from edge_vc.train.adapt_profile import GateConfig, run_adaptation

    from edge_vc.audio.chunk import AudioChunk
    from edge_vc.stages.learned import LearnedStage, learned_ready, learned_status

    profile = learned_home / "profiles" / "s1"
    config = AdaptConfig(steps=12, replay_minutes=0.3, threads=2)

    def interrupt_at_7(step, total, loss):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_adaptation(profile, minutes=10, config=config, echo=lambda m: None, progress=interrupt_at_7)
    state = torch.load(profile / "learned" / "adapt.ckpt", weights_only=False)
    assert state["step"] == 7
    assert learned_status(profile)["status"] == "partial"
    assert not learned_ready(profile) and not (profile / "learned" / "decoder.onnx").exists()

    seen = []
    impossible = GateConfig(max_wer=-1.0)  # a WER no decoder reaches: the gate must reject
    status = run_adaptation(profile, minutes=10, config=config, gate=impossible, echo=lambda m: None,
                            progress=lambda step, total, loss: seen.append(step))  # fmt: skip
    assert seen == [8, 9, 10, 11, 12]
    assert status["steps"] == 12 and status["onnx_max_abs_diff"] <= 1e-3
    gate = status["gate"]
    assert status["status"] == "rejected" and not gate["passed"] and "WER" in gate["reasons"][0]
    assert "DSP" in status["message"] and 0 <= gate["wer"] <= 3
    assert not learned_ready(profile)
    assert json.loads((profile / "learned" / "learned.json").read_text())["status"] == "rejected"
    stage = LearnedStage.for_profile(profile, threads=2, vocoder="fp32")
    tone = (0.3 * np.sin(2 * np.pi * 150 * np.arange(22050) / 22050)).astype(np.float32)
    whole = stage.stream().process(AudioChunk(22050, tone, text="x", is_last=True))
    assert whole.audio.shape == tone.shape and np.isfinite(whole.audio).all() and np.abs(whole.audio).max() > 1e-3
    # streamed in pieces: short pieces are gathered (empty answers) until 0.5 s (first render) or 1 s
    # (later ones) is there; each render holds back its last 0.2 s for the next; the last piece
    # flushes; together they cover the input
    tone2 = np.tile(tone, 2)
    pieces = [tone2[:4096], tone2[4096:12288], tone2[12288:28672], tone2[28672:]]
    stream = stage.stream()
    outs = [stream.process(AudioChunk(22050, p, is_last=i == 3)).audio for i, p in enumerate(pieces)]
    assert outs[0].size == outs[2].size == 0 and outs[1].size == 12288 - int(0.2 * 22050)
    assert sum(o.size for o in outs) == tone2.size
    assert np.isfinite(np.concatenate(outs)).all() and np.abs(outs[1]).max() > 1e-3
    light = LearnedStage.for_profile(profile, threads=2, vocoder="source-filter")
    assert light.vocoder.precision == "source-filter"
    rendered = light.stream().process(AudioChunk(22050, tone, text="x", is_last=True)).audio
    assert rendered.shape == tone.shape and np.isfinite(rendered).all() and np.abs(rendered).max() > 1e-3


def test_learned_config_refuses_unknown_vocoder():
    from edge_vc.stages.learned import LearnedStageConfig

    config = LearnedStageConfig.from_dict({"decoder_path": "d.onnx", "vocoder": "source-filter"})
    assert config.vocoder == "source-filter" and LearnedStageConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="vocoder must be one of"):
        LearnedStageConfig.from_dict({"decoder_path": "d.onnx", "vocoder": "wavenet"})


@pytest.mark.slow
def test_adapt_cli_then_say_uses_learned_stage(learned_home, devdata, run_cli, tmp_path):
    """enroll --wav → adapt (few steps, gate opened, default source-filter vocoder) → voices show says learned →
    say --voice speaks."""
    pytest.importorskip("edge_vc.profiles.profile")
    from edge_vc.audio.io import read_audio, write_wav
    from edge_vc.dsp.analysis import active_rms_db

    speech, rate = read_audio(devdata("seed-vc") / "s2p1.wav", 22050)
    wav = tmp_path / "quiet.wav"  # recorded 10 dB quieter than the base voice speaks (~-28 vs -18 dBFS)
    write_wav(wav, speech * 10 ** (-10 / 20), rate)
    enrolled = run_cli("enroll", "cli2", "--wav", str(wav), "--no-consent", "--force")
    assert enrolled.returncode == 0, enrolled.stderr.decode()[-2000:]
    adapted = run_cli(
        "adapt", "cli2", "--steps", "10", "--replay-minutes", "0.3",
        "--max-wer", "100", "--min-gain", "-2", "--json",
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr.decode()[-2000:]
    status = json.loads(adapted.stdout)
    assert status["status"] == "ready" and status["steps"] == 10 and status["vocoder"] == "source-filter"
    shown = run_cli("voices", "show", "cli2", "--json")
    assert shown.returncode == 0, shown.stderr.decode()[-2000:]
    shown = json.loads(shown.stdout)
    assert shown["active_stage"] == "learned" and "source-filter vocoder" in shown["active_reason"]
    out = tmp_path / "say.wav"
    # two sentences (~5 s), so the level is measured over enough speech to be stable across the base
    # voice's renditions; one 1.5 s sentence read 1.x-2.26 dB low from run to run
    text = "Hello from the learned stage. It speaks at the level of the recording it was adapted to."
    said = run_cli("say", text, "--voice", "cli2", "-o", str(out))
    assert said.returncode == 0, said.stderr.decode()[-2000:]
    import soundfile as sf

    audio, rate = sf.read(out)
    assert rate > 0 and audio.size > rate * 0.5 and np.abs(audio).max() > 0.01
    # the learned stage speaks at the enrollment's level, as the DSP stage does, not the base voice's
    # (~10 dB louder): measured 2.06 and 2.30 dB below it over these two sentences (cause not found yet,
    # noted in docs/learned-stage.md), so the bound is 3 dB
    assert abs(active_rms_db(audio, rate) - active_rms_db(*read_audio(wav, 22050))) < 3.0


def test_normalised_content_audio_moves_a_real_voice_to_the_base_range(devdata):
    """``content_source="normalised"``: the enrollment re-rendered at the base voice's median F0
    (seed-vc s2, ~340 Hz → 92 Hz), frame-aligned with its mel, formants lowered; bad names refused."""
    from edge_vc.train.adapt import AdaptConfig, normalised_audio
    from edge_vc.train.loop import Corpus

    from edge_vc.audio.io import read_audio
    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.features.pitch import PitchMap, f0_track, frame_stats, pitch_features

    audio, rate = read_audio(devdata("seed-vc") / "s2p1.wav", 22050)
    audio = audio[: 4 * rate]
    mel = hifigan_log_mel(audio, rate)
    pitch = pitch_features(audio, rate, mel.shape[0])
    base_median = 12.0 * np.log2(92.0)
    pitch_map = PitchMap(base_median, 2.75, *frame_stats(pitch))
    assert pitch_map.target_median - base_median > 15  # the speaker sits far above the base voice
    out = normalised_audio(Corpus(np.zeros((mel.shape[0], 4)), mel, 1, pitch), pitch_map)
    assert out.shape == (mel.shape[0] * 256,) and np.isfinite(out).all()
    f0 = f0_track(out, 22050)
    assert abs(12.0 * np.log2(np.median(f0[f0 > 0]) / 92.0)) < 1.5
    out_mel = hifigan_log_mel(out, 22050)[: mel.shape[0]]
    speech = mel.mean(1) > np.percentile(mel.mean(1), 50)
    centroid = [float((np.exp(m[speech]) * np.arange(80)).sum() / np.exp(m[speech]).sum()) for m in (mel, out_mel)]
    assert centroid[1] < centroid[0]  # the spectrum (formants) moved down
    with pytest.raises(ValueError, match="content_source must be one of"):
        AdaptConfig(content_source="denoised").validate()
