"""``edge-vc adapt NAME``: adapt the learned stage to a profile's enrollment recording, then gate it.

Steps: enrollment.wav → content + mel; replay data (cached); fine-tune within the time budget
(resumable checkpoint in ``<profile>/learned/adapt.ckpt``); export ``decoder.onnx`` (parity vs torch);
quality gate on held-out probe sentences (WER by whisper tiny.en, similarity by the product's
speaker encoder against the base voice's). ``learned.json`` records the outcome: ``ready`` (the
profile speaks through the learned stage), ``partial`` (budget ran out; run again to resume) or
``rejected`` (gate failed; the profile keeps its DSP stage).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from edge_vc.train.adapt import AdaptConfig, adapt, corpora, export_decoder, level_offset_db, metadata_for, now

from edge_vc.fileio import atomic_write_text
from edge_vc.stages.base import process_whole
from edge_vc.stages.learned import DECODER_FILE, LEARNED_DIR, STATUS_FILE

PROBES = (
    "The weather today is sunny with a light breeze from the west.",
    "Please remind me to buy milk and bread on the way home.",
)
"""Held-out probe sentences (not from the training grammar)."""

EXPORT_RESERVE_S = 55.0
"""Seconds of the budget kept for export and the quality gate (+10 s for decoder.tflite: TensorFlow's import
and the conversion took 9.2 s at load average 7)."""


@dataclass
class GateConfig:
    """Quality gate thresholds on the probe sentences."""

    max_wer: float = 0.2
    """Mean word error rate (whisper tiny.en) of the probes must not exceed this."""

    min_gain: float = 0.02
    """Speaker-encoder similarity to the enrollment must beat the base voice's by this much."""

    def to_dict(self) -> dict:
        return asdict(self)


def _write_status(folder: Path, status: dict) -> None:
    atomic_write_text(folder / STATUS_FILE, json.dumps(status, indent=2) + "\n")


def quality_gate(profile_dir: Path, enrollment: tuple[np.ndarray, int], threads: int, vocoder: str,
                 gate: GateConfig) -> dict:  # fmt: skip
    """Probe sentences through the adapted stage: WER and similarity gain over the base voice."""
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.errors import EdgeVCError
    from edge_vc.speaker.encoder import SpeakerEncoder
    from edge_vc.stages.learned import LearnedStage

    stage = LearnedStage.for_profile(profile_dir, threads=threads, vocoder=vocoder)
    voice = BaseVoice.load(threads=threads)
    base_audio, learned_audio = [], []
    for text in PROBES:
        chunks = list(voice.synthesize(text))
        base_audio.append(np.concatenate([c.audio for c in chunks]))
        learned_audio.append(np.concatenate([c.audio for c in process_whole(stage, chunks)]))
    base = np.concatenate(base_audio)
    learned = np.concatenate(learned_audio)
    report: dict = {"thresholds": gate.to_dict()}
    try:
        encoder = SpeakerEncoder.load(threads=threads)
        target = encoder.embed(enrollment[0], enrollment[1])
        report["similarity"] = SpeakerEncoder.similarity(encoder.embed(learned, voice.sample_rate), target)
        report["similarity_base_voice"] = SpeakerEncoder.similarity(encoder.embed(base, voice.sample_rate), target)
    except EdgeVCError as exc:  # no speaker encoder model installed
        report["similarity"] = report["similarity_base_voice"] = None
        report["similarity_note"] = f"not measured ({exc})"
    try:
        from edge_vc.bench.asr import WhisperASR, word_error_rate

        asr = WhisperASR(threads=threads)
        pairs = zip(PROBES, learned_audio, strict=True)
        wers = [word_error_rate(text, asr.transcribe(audio, voice.sample_rate)) for text, audio in pairs]
        report["wer"] = float(np.mean(wers))
    except Exception as exc:  # the eval extra (faster-whisper) is optional
        report["wer"] = None
        report["wer_note"] = f"not measured ({exc})"
    reasons = []
    if report["wer"] is None:
        reasons.append("cannot check intelligibility: " + report["wer_note"])
    elif report["wer"] > gate.max_wer:
        reasons.append(f"probe WER {report['wer']:.0%} > {gate.max_wer:.0%} (speech would be hard to understand)")
    sim, sim_base = report["similarity"], report["similarity_base_voice"]
    if sim is not None and sim < sim_base + gate.min_gain:
        reasons.append(f"similarity {sim:.3f} is not above the base voice's {sim_base:.3f} + {gate.min_gain}")
    report["passed"] = not reasons
    report["reasons"] = reasons
    return report


def run_adaptation(
    profile_dir: Path,
    minutes: float = 5.0,
    config: AdaptConfig | None = None,
    gate: GateConfig | None = None,
    vocoder: str = "source-filter",
    restart: bool = False,
    echo: Callable[[str], None] = print,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict:
    """Adapt, export and gate one profile; returns the status written to ``learned.json``."""
    from edge_vc.audio.io import read_audio
    from edge_vc.errors import ProfileError
    from edge_vc.features.content import ContentEncoder

    start = time.monotonic()
    config = config or AdaptConfig()
    gate = gate or GateConfig()
    enrollment_path = profile_dir / "enrollment.wav"
    if not enrollment_path.is_file():
        raise ProfileError(f"{profile_dir.name}: no enrollment.wav in {profile_dir} (enroll first)")
    folder = profile_dir / LEARNED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "adapt.ckpt"
    if restart:
        checkpoint.unlink(missing_ok=True)
    audio, rate = read_audio(enrollment_path, 22050)
    if audio.size < 3 * rate:
        raise ProfileError(f"{profile_dir.name}: enrollment is {audio.size / rate:.1f} s; need at least 3 s")
    echo(f"preparing features ({audio.size / rate:.1f} s of enrollment speech, base-voice replay)")
    speaker, replay, pitch_map = corpora(audio, rate, ContentEncoder.load(threads=config.threads), config)
    budget = minutes * 60 - (time.monotonic() - start) - EXPORT_RESERVE_S
    if budget <= 5:
        raise ProfileError(f"--minutes {minutes} leaves no time to train; give it at least 2 minutes")
    echo(f"training up to {config.steps} steps within {budget:.0f} s")
    try:
        model, result = adapt(speaker, replay, checkpoint, config, seconds=budget, progress=progress)
    except KeyboardInterrupt:
        _write_status(folder, {"updated": now(), "status": "partial", "target_steps": config.steps,
                               "message": "interrupted; run `edge-vc adapt` again to resume"})  # fmt: skip
        raise
    status = {
        "updated": now(), "steps": result["step"], "target_steps": config.steps, "loss": result["loss"],
        "train_seconds": round(result["seconds"], 1), "enrollment_seconds": round(audio.size / rate, 1),
        "config": config.to_dict(),
    }  # fmt: skip
    if not result["done"]:
        status.update(status="partial", message=f"stopped at step {result['step']}/{config.steps} (time budget); "
                      "run `edge-vc adapt` again to resume")  # fmt: skip
        _write_status(folder, status)
        return status
    offset = level_offset_db(audio, rate, config.threads)
    meta = metadata_for(config, result, audio.size / rate, pitch_map=pitch_map, level_offset=offset)
    status["onnx_max_abs_diff"] = export_decoder(model, folder / DECODER_FILE, meta)
    status["decoder_bytes"] = (folder / DECODER_FILE).stat().st_size
    report = quality_gate(profile_dir, (audio, rate), config.threads, vocoder, gate)
    status["gate"] = report
    status["vocoder"] = vocoder
    if report["passed"]:
        status.update(status="ready", message="the profile now speaks through the learned stage")
    else:
        status.update(status="rejected", message="kept the DSP stage: " + "; ".join(report["reasons"]))
    status["total_seconds"] = round(time.monotonic() - start, 1)
    _write_status(folder, status)
    return status
