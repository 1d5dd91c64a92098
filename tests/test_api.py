"""The public Python API: edge_vc.load(...).synthesize(text) yields float32 chunks, shared safely."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace

import numpy as np
import pytest


def test_load_synthesize_as_documented():
    import edge_vc

    voice = edge_vc.load(threads=1)
    assert isinstance(voice, edge_vc.VoicePipeline)
    chunks = list(voice.synthesize("Hello there. This is the public API."))
    assert chunks and all(isinstance(c, edge_vc.AudioChunk) for c in chunks)
    assert all(c.audio.dtype == np.float32 and c.sample_rate == voice.sample_rate == 22050 for c in chunks)
    audio = np.concatenate([c.audio for c in chunks])
    assert 1.0 < audio.size / 22050 < 6.0 and 0.05 < np.abs(audio).max() <= 1.0
    assert chunks[-1].is_last and not any(c.is_last for c in chunks[:-1])


def test_unknown_voice_is_a_user_error():
    import edge_vc

    with pytest.raises(edge_vc.EdgeVCError):
        edge_vc.load("no-such-voice-anywhere")


def test_import_is_light():
    """``import edge_vc`` loads no model runtime: names come on first use."""
    code = "import sys, edge_vc; print(any(m.split('.')[0] in ('onnxruntime', 'numpy') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_one_pipeline_serves_threads_at_once():
    """Concurrent syntheses through one shared DSP pipeline give the one-at-a-time answer."""
    import edge_vc
    from edge_vc.dsp.analysis import band_centers
    from edge_vc.stages.dsp import DSPParams, DSPStage

    plain = edge_vc.load(threads=1)
    voice = replace(plain.voice, config=replace(plain.voice.config, noise_scale=0.0, noise_w=0.0))
    centers = band_centers(22050)
    params = DSPParams(
        pitch_shift_semitones=4.0,
        formant_warp=1.08,
        eq_freqs_hz=[float(f) for f in centers],
        eq_gains_db=[float(g) for g in 3.0 * np.sin(np.linspace(0, 3, len(centers)))],
        loudness_dbfs=-20.0,
    )
    pipeline = edge_vc.VoicePipeline(voice, DSPStage(params, 22050))
    texts = ["The first request is this one, and it goes on.", "A second, different request. It has two parts."]
    alone = [np.concatenate([c.audio for c in pipeline.synthesize(t)]) for t in texts]
    results: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        results[i] = np.concatenate([c.audio for c in pipeline.synthesize(texts[i % 2])])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        np.testing.assert_allclose(results[i], alone[i % 2], atol=1e-5)
