"""Speaker-space cloning on a random-weight multi-speaker VITS fixture (a test fixture, not a voice)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from tests.fixtures.random_multispeaker import FIXTURE_PREFIX, build_random_multispeaker_voice

N_SPEAKERS = 4
OTHER_TEXT = "A quick brown fox jumps over the lazy dog, then runs far away into the quiet forest."


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A private EDGE_VC_HOME for this module."""
    home = tmp_path_factory.mktemp("edgevc-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGE_VC_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def fixture_voice(tmp_path_factory, store):
    """VoiceFiles of the random 4-speaker fixture, in a temp folder (never in the store)."""
    from edge_vc.base_voice.catalog import VoiceFiles

    model, config = build_random_multispeaker_voice(tmp_path_factory.mktemp("fixture"), n_speakers=N_SPEAKERS)
    assert model.name.startswith(FIXTURE_PREFIX)
    return VoiceFiles(model.name.removesuffix(".onnx"), model, config)


@pytest.fixture(scope="module")
def encoder():
    """The product's speaker encoder."""
    from edge_vc.speaker.encoder import SpeakerEncoder

    return SpeakerEncoder.load(threads=1)


@pytest.fixture(scope="module")
def space(fixture_voice):
    from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice

    return SpeakerSpaceVoice.load_space(fixture_voice, threads=1)


@pytest.fixture(scope="module")
def atlas(fixture_voice, space, encoder):
    from edge_vc.speaker.atlas import build_atlas

    return build_atlas(fixture_voice, space, encoder.embed, "product")


@pytest.mark.slow
def test_g_input_variant_equals_sid_lookup(fixture_voice, tmp_path):
    """Graph surgery: g = table row k gives the same audio as sid = k (noise scales 0)."""
    from edge_vc.export.multispeaker import export_g_input_voice

    result = export_g_input_voice(fixture_voice.model_path, tmp_path / "g.onnx")
    original = ort.InferenceSession(str(fixture_voice.model_path), providers=["CPUExecutionProvider"])
    variant = ort.InferenceSession(str(result.model_path), providers=["CPUExecutionProvider"])
    assert "sid" not in {i.name for i in variant.get_inputs()}
    assert variant.get_modelmeta().custom_metadata_map["edge_vc_kind"] == "edge-vc/vits-g-input"
    table = np.load(result.table_path)
    assert table.shape[0] == N_SPEAKERS
    ids = np.random.default_rng(0).integers(1, 150, size=(1, 40)).astype(np.int64)
    common = {"input": ids, "input_lengths": np.array([40], np.int64), "scales": np.array([0, 1, 0], np.float32)}
    outputs = []
    for k in range(N_SPEAKERS):
        want = original.run(None, {**common, "sid": np.array([k], np.int64)})[0]
        got = variant.run(None, {**common, "g": table[k : k + 1]})[0]
        assert want.shape == got.shape
        assert np.max(np.abs(want - got)) <= 1e-5
        outputs.append(want.reshape(-1))
    assert outputs[0].shape != outputs[1].shape or np.max(np.abs(outputs[0] - outputs[1])) > 1e-3


def test_surgery_refuses_single_speaker_voice(base_voice):
    import onnx
    from edge_vc.export.multispeaker import SurgeryError, make_g_input_model

    from edge_vc.base_voice.catalog import bundled_voice

    with pytest.raises(SurgeryError, match="single-speaker"):
        make_g_input_model(onnx.load(str(bundled_voice().model_path), load_external_data=False))


@pytest.mark.slow
def test_fixture_speakers_are_distinguishable(atlas):
    """The self-consistency test below means something only if the encoder separates the speakers."""
    assert atlas.complete
    sims = atlas.embeddings @ atlas.embeddings.T
    off_diagonal = sims[~np.eye(N_SPEAKERS, dtype=bool)]
    assert off_diagonal.max() < 0.95, f"fixture speakers too alike for the encoder: {np.round(sims, 3)}"


@pytest.mark.slow
def test_self_consistency_ranks_each_speaker_first(fixture_voice, atlas, space, encoder):
    """Audio of fixture speaker k (another sentence, plain sid model) -> the atlas ranks k first, for every k."""
    from edge_vc.base_voice.config import SynthesisConfig
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.speaker.atlas import match_speaker, rank

    plain = BaseVoice.load(fixture_voice, threads=1)
    for k in range(N_SPEAKERS):
        syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0, speaker_id=k)
        audio = np.concatenate([c.audio for c in plain.synthesize(OTHER_TEXT, syn)])
        target = encoder.embed(audio, plain.sample_rate)
        ranking = rank(atlas, target)
        assert ranking[0][0] == k, f"speaker {k}: ranking {ranking}"
        assert ranking[0][1] - ranking[1][1] > 0.02
        match = match_speaker(atlas, space, target, encoder.embed, top_k=3)
        assert max(match.weights, key=match.weights.get) == k
        assert match.similarity == pytest.approx(max(match.candidates.values()))
        assert match.similarity > ranking[1][1]


@pytest.mark.slow
def test_atlas_resumes_and_caches(fixture_voice, space, encoder, store):
    from edge_vc.speaker.atlas import Atlas, atlas_path, build_atlas

    calls = []
    partial = build_atlas(fixture_voice, space, encoder.embed, "resume-test", stop_after=2)
    assert int(partial.done.sum()) == 2
    saved = Atlas.load(atlas_path(fixture_voice, "resume-test"))
    assert saved is not None and int(saved.done.sum()) == 2
    full = build_atlas(fixture_voice, space, encoder.embed, "resume-test", progress=lambda d, n: calls.append(d))
    assert full.complete and calls == [3, 4]
    np.testing.assert_array_equal(full.embeddings[:2], partial.embeddings[:2])
    calls.clear()
    build_atlas(fixture_voice, space, encoder.embed, "resume-test", progress=lambda d, n: calls.append(d))
    assert calls == []


@pytest.mark.slow
def test_weights_are_convex(atlas):
    from edge_vc.speaker.atlas import lsq_weights, rank, softmax_weights

    target = atlas.embeddings[0] * 0.6 + atlas.embeddings[1] * 0.4
    ranking = rank(atlas, target)
    for weights in (softmax_weights(ranking, 3), lsq_weights(atlas, target, ranking, 3)):
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-6)
        assert all(w >= 0 for w in weights.values())
    lsq = lsq_weights(atlas, target, ranking, 4)
    assert set(lsq) >= {0, 1} and lsq[0] > lsq.get(2, 0) and lsq[1] > lsq.get(3, 0)


def test_single_speaker_voice_has_no_speaker_space(store):
    from edge_vc.base_voice.catalog import bundled_voice
    from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice
    from edge_vc.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="one speaker"):
        SpeakerSpaceVoice.load_space(bundled_voice())


@pytest.mark.slow
def test_cli_exports_int8_speaker_space_variant(fixture_voice, encoder, tmp_path, run_cli):
    out = tmp_path / "fx.g.int8.onnx"
    done = run_cli("export", "speaker-space", str(fixture_voice.model_path), "--int8", "--out", str(out))
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    fp32 = tmp_path / "fx.g.onnx"
    assert run_cli("export", "speaker-space", str(fixture_voice.model_path), "--out", str(fp32)).returncode == 0
    a = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert b.get_modelmeta().custom_metadata_map["int8"] == "true"
    assert out.stat().st_size < 0.6 * fp32.stat().st_size
    table = np.load(tmp_path / "fx.g.int8.speakers.npy")
    ids = np.random.default_rng(1).integers(1, 150, size=(1, 40)).astype(np.int64)
    for k in range(N_SPEAKERS):
        feed = {"input": ids, "input_lengths": np.array([40]), "scales": np.array([0, 1, 0], np.float32)}
        x = a.run(None, {**feed, "g": table[k : k + 1]})[0].ravel()
        y = b.run(None, {**feed, "g": table[k : k + 1]})[0].ravel()
        # INT8 weights in the duration predictor may move a phoneme by a frame: compare lengths and speaker
        assert abs(x.size - y.size) <= 0.05 * x.size
        assert encoder.similarity(encoder.embed(x, 22050), encoder.embed(y, 22050)) > 0.95

    done = run_cli("export", "speaker-space", "en_US-joe-medium", "--out", str(tmp_path / "joe.onnx"))
    assert done.returncode != 0 and "single-speaker" in done.stderr.decode()


@pytest.mark.slow
def test_choose_base_prefers_matching_multispeaker_voice_and_explains(fixture_voice, encoder, store):
    """Default enrollment path: every base voice is measured; the fixture speaker's own voice wins."""
    from edge_vc.base_voice.config import SynthesisConfig
    from edge_vc.base_voice.speaker_space import SpeakerSpaceVoice
    from edge_vc.base_voice.store import install_voice
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.speaker.base_select import BaseChoice, choose_base, explain, load_base_voice

    install_voice(fixture_voice.model_path, name="fixture-installed")
    plain = BaseVoice.load(fixture_voice, threads=1)
    syn = SynthesisConfig(noise_scale=0.0, noise_w=0.0, speaker_id=2)
    audio = np.concatenate([c.audio for c in plain.synthesize(OTHER_TEXT, syn)])
    target = encoder.embed(audio, plain.sample_rate)
    lines: list[str] = []
    best, evaluated = choose_base(target, encoder.embed, "product-choose", threads=1, log=lines.append)
    assert {c.voice for c in evaluated} == {"en_US-joe-medium", "fixture-installed"}
    joe = next(c for c in evaluated if c.voice == "en_US-joe-medium")
    assert not joe.uses_speaker_space and "no atlas" in joe.note
    assert any("en_US-joe-medium" in line and "no atlas, DSP stage only" in line for line in lines)
    assert best.voice == "fixture-installed" and max(best.weights, key=best.weights.get) == 2
    assert best.similarity > joe.similarity
    message = explain(best, evaluated)
    assert "fixture-installed" in message and "ahead of en_US-joe-medium" in message
    stored = BaseChoice.from_dict(best.to_dict())
    voice = load_base_voice(stored.to_dict(), threads=1)
    assert isinstance(voice, SpeakerSpaceVoice)
    np.testing.assert_allclose(voice.g, np.asarray(best.g, np.float32))
    only_joe, evaluated = choose_base(target, encoder.embed, "product-choose", base="en_US-joe-medium")
    assert only_joe.voice == "en_US-joe-medium" and len(evaluated) == 1 and not only_joe.g


@pytest.mark.slow
def test_stochastic_duration_spline_inverts_and_depends_on_speaker():
    import torch
    from edge_vc.models.vits import SynthesizerTrn, VitsConfig, random_speaker_table
    from edge_vc.models.vits_sdp import rational_quadratic_spline

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 50, generator=gen) * 3
    w, h, d = (torch.randn(2, 1, 50, n, generator=gen) for n in (10, 10, 9))
    y = rational_quadratic_spline(x, w, h, d, inverse=False)
    assert not torch.allclose(y, x, atol=1e-3)
    back = rational_quadratic_spline(y, w, h, d, inverse=True)
    assert torch.max(torch.abs(back - x)) < 1e-4
    model = SynthesizerTrn(VitsConfig.tiny(n_speakers=2)).eval()
    random_speaker_table(model, 4.0)
    for flow in model.dp.flows:
        if hasattr(flow, "proj"):
            torch.nn.init.normal_(flow.proj.weight, 0, 0.05)
    ids = torch.randint(1, 100, (1, 20), generator=gen)
    with torch.no_grad():
        x_enc, _, _, mask = model.enc_p(ids, torch.tensor([20]))
        logw = [model.dp(x_enc, mask, g=model.speaker_vector(torch.tensor([k])), noise_scale=0.0) for k in (0, 1)]
    assert torch.max(torch.abs(logw[0] - logw[1])) > 1e-3
