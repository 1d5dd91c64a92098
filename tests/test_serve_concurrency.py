"""Several serve workers speaking through ONE DSP profile at once give the one-at-a-time answers.

The stage is shared by every worker (the engine caches one pipeline per voice); only
``stage.stream()`` is per request. The base voice's noise is switched off
(``noise_scale = noise_w = 0``), which makes VITS deterministic, so every answer can be
compared sample for sample with the answer the same request gets alone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from tests.test_serve import _InProcessServer, _request

TEXTS = [
    "The kitchen light is on, and the front door is locked. Goodnight.",
    "Please water the plants on Tuesday. The red one needs more light.",
    "It is seven degrees outside; take a coat. The bus leaves at eight.",
]


def _tinted_pipeline(base_voice):
    from edge_vc.pipeline import VoicePipeline
    from edge_vc.stages.dsp import DSPParams, DSPStage

    voice = replace(base_voice, config=replace(base_voice.config, noise_scale=0.0, noise_w=0.0))
    params = DSPParams(
        pitch_shift_semitones=3.0,
        pitch_range=1.2,
        formant_warp=1.05,
        eq_freqs_hz=[300.0, 1200.0, 4000.0],
        eq_gains_db=[2.0, -3.0, 4.0],
        loudness_dbfs=-20.0,
        stats={"base_f0_hz": 110.0},
    )
    return VoicePipeline(voice, DSPStage(params, voice.sample_rate), profile_name="tinted")


@pytest.mark.slow
def test_concurrent_requests_for_one_dsp_profile_equal_the_one_at_a_time_answers(base_voice):
    from edge_vc.serve.engine import EngineConfig
    from edge_vc.serve.http import HttpConfig
    from edge_vc.serve.server import ServeConfig

    pipeline = _tinted_pipeline(base_voice)
    config = ServeConfig(EngineConfig(workers=3, max_queue=3), HttpConfig(port=0), wyoming_port=None)
    with _InProcessServer(config, base_voice, loader=lambda name, threads: pipeline) as server:
        port = server.http_port

        def speak(text: str, stream: bool = False) -> bytes:
            status, _, body = _request(port, "POST", "/speak", {"text": text, "stream": stream}, timeout=300)
            assert status == 200, body[:200]
            return body

        alone = {(text, stream): speak(text, stream) for text in TEXTS for stream in (False, True)}
        assert speak(TEXTS[0]) == alone[TEXTS[0], False], "the base voice is not deterministic"
        assert len({len(alone[text, False]) for text in TEXTS}) == 3

        answers: list[tuple[str, bool, bytes]] = []
        errors: list[BaseException] = []
        most_running = 0
        lock = threading.Lock()
        barrier = threading.Barrier(6)
        done = threading.Event()

        def client(text: str, stream: bool) -> None:
            try:
                barrier.wait(30)
                body = speak(text, stream)
                with lock:
                    answers.append((text, stream, body))
            except BaseException as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(exc)

        def watch() -> None:
            nonlocal most_running
            while not done.is_set():
                most_running = max(most_running, server.engine.status()["running"])
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        threads = [threading.Thread(target=client, args=(TEXTS[i % 3], i >= 3)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        done.set()
        watcher.join(5)

    assert not errors, errors
    assert len(answers) == 6
    assert most_running >= 2, "the requests did not overlap; the test proves nothing"
    for text, stream, body in answers:
        assert body == alone[text, stream], f"a concurrent answer differs from the one-at-a-time one: {text!r}"
