"""One interleaved benchmark run: every configuration is measured once per round, rounds repeat.

Interleaving (rather than measuring one configuration to the end, then the next) spreads thermal
throttling, frequency scaling and background load over all configurations alike, so ratios
measured in one run are fair even on a busy or hot device.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_vc.bench.config import BenchConfig
from edge_vc.bench.system import current_rss_mb, machine_info, peak_rss_mb, size_mb
from edge_vc.bench.timing import Stats
from edge_vc.bench.variants import (
    Variant,
    available_stages,
    build_stage,
    encoder_variants,
    files_of,
    load_voice_variant,
    voice_variants,
)

if TYPE_CHECKING:
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.speaker.encoder import SpeakerEncoder


def default_reference() -> Path:
    """The shipped 7 s sample ``edge_vc/data/en_robert.wav`` (real speech, Apache-2.0; see NOTICE.md there)."""
    from importlib.resources import files

    return Path(str(files("edge_vc.data").joinpath("en_robert.wav")))


@dataclass
class Job:
    """One measurable configuration; ``run()`` returns named samples of one repetition."""

    key: dict[str, object]
    run: Callable[[], dict[str, float]]
    max_rounds: int | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def load_reference(config: BenchConfig, voice) -> tuple[np.ndarray, int, str]:
    """The enrollment reference, tiled or cut to ``reference_seconds``; returns (audio, rate, source)."""
    from edge_vc.audio.io import read_audio

    if config.reference and not Path(config.reference).is_file():
        from edge_vc.errors import AudioFormatError

        raise AudioFormatError(f"reference recording not found: {config.reference}")
    path = Path(config.reference) if config.reference else default_reference()
    audio, rate = read_audio(path)
    source = str(path)
    n = int(config.reference_seconds * rate)
    tiled = np.resize(audio, n).astype(np.float32) if audio.size < n else audio[:n]
    return tiled, rate, source + ("" if audio.size >= n else f" (tiled from {audio.size / rate:.1f} s)")


class BenchRun:
    """Sets up every configuration found on this install, then measures them in rounds."""

    def __init__(self, config: BenchConfig, progress: Callable[[str], None] | None = None):
        self.config = config.apply_quick()
        self.config.validate()
        if self.config.reference and not Path(self.config.reference).is_file():
            from edge_vc.errors import AudioFormatError

            raise AudioFormatError(f"reference recording not found: {self.config.reference}")
        self.progress = progress or (lambda msg: None)
        self.threads = self.config.resolved_threads()
        self.jobs: list[Job] = []
        self.skipped: list[dict[str, str]] = []
        self.artifacts: list[dict[str, object]] = []
        self.load_rss: dict[str, float] = {}
        self.enrolled_base: str | None = None
        from edge_vc.bench.system import load_average

        self.load_start = load_average()

    # ------------------------------------------------------------ set-up

    def _skip(self, what: str, exc: BaseException) -> None:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.skipped.append({"what": what, "reason": reason})
        self.progress(f"skipped {what}: {reason}")

    def _load_voices(self) -> dict[tuple[str, int], BaseVoice]:
        from edge_vc.base_voice.catalog import VoiceFiles, resolve_voice

        base = resolve_voice(self.config.voice)
        voices = {}
        for variant in voice_variants(self.config.voice, self.config.variants, self.config.backend):
            sidecar = variant.path.with_name(variant.path.name + ".json")
            files = VoiceFiles(base.name, variant.path, sidecar if sidecar.is_file() else base.config_path)
            self.artifacts.append(
                {
                    "kind": "voice",
                    "label": variant.label,
                    "path": str(variant.path),
                    "size_mb": size_mb(*files_of(variant)),
                }
            )
            for t in self.threads:
                before = current_rss_mb()
                try:
                    voices[(variant.label, t)] = load_voice_variant(variant, files, t)
                except Exception as exc:  # any backend failure is reported, not fatal
                    self._skip(f"voice {variant.label} ({variant.path.name})", exc)
                    break
                self.load_rss.setdefault(f"voice {variant.label}", round(current_rss_mb() - before, 1))
        return voices

    def _load_encoders(self) -> dict[tuple[str, int], SpeakerEncoder]:
        encoders = {}
        variants: list[Variant] = encoder_variants(self.config.encoders)
        if not variants:
            self.skipped.append({"what": "speaker encoder", "reason": "no speaker_encoder model in edge_vc/data"})
        for variant in variants:
            self.artifacts.append(
                {
                    "kind": "speaker-encoder",
                    "label": variant.label,
                    "path": str(variant.path),
                    "size_mb": size_mb(variant.path),
                }
            )
            for t in self.threads:
                try:
                    from edge_vc.speaker.encoder import SpeakerEncoder

                    encoders[(variant.label, t)] = SpeakerEncoder.load(variant.path, threads=t)
                except Exception as exc:
                    self._skip(f"speaker encoder {variant.label} ({variant.path.name})", exc)
                    break
        return encoders

    def setup(self) -> None:
        from edge_vc.base_voice.phonemes import Phonemizer

        cfg = self.config
        self.progress("loading models")
        voices = self._load_voices()
        if not voices:
            raise RuntimeError("no voice variant could be loaded")
        encoders = self._load_encoders()
        top = max(self.threads)
        fp32_label = next(label for (label, _t) in voices)
        ref_voice = voices[(fp32_label, top)]
        self.reference, self.reference_rate, self.reference_source = load_reference(cfg, ref_voice)
        ref_chunks = list(ref_voice.synthesize(cfg.sentences))
        ref_seconds = sum(c.duration for c in ref_chunks)
        encoder_top = next((enc for (label, t), enc in encoders.items() if t == top), None)

        phonemizer = Phonemizer(ref_voice.config)
        self.jobs.append(
            Job(
                {"stage": "phonemize"},
                lambda: {
                    "rtf": _timed(lambda: [phonemizer.to_ids(phonemizer.phonemize(s)) for s in cfg.sentences])
                    / ref_seconds
                },
            )
        )
        for (label, t), voice in voices.items():
            self.jobs.append(Job({"stage": "vits", "variant": label, "threads": t}, self._vits_job(voice)))
        for (label, t), encoder in encoders.items():
            seconds = self.reference.size / self.reference_rate
            self.jobs.append(
                Job(
                    {"stage": "speaker_encoder", "variant": label, "threads": t},
                    lambda e=encoder, s=seconds: {  # type: ignore[misc]  # mypy cannot type default-arg lambdas
                        "rtf": _timed(lambda: e.embed(self.reference, self.reference_rate)) / s
                    },
                )
            )

        stages = {}
        for name in available_stages(cfg.stages or None):
            try:
                stages[name] = build_stage(name, self.reference, self.reference_rate, ref_voice, encoder_top)
            except Exception as exc:
                self._skip(f"voice stage {name}", exc)
                continue
            self.jobs.append(
                Job(
                    {"stage": "enrollment", "voice_stage": name, "reference_s": cfg.reference_seconds},
                    lambda n=name: {"seconds": self._enroll_once(n, ref_voice, encoder_top)},  # type: ignore[misc]
                    max_rounds=min(cfg.repeats, 3),
                )
            )
        if not cfg.stages or "enroll" in cfg.stages:
            self._add_product_enrollment(stages, top)
        for name in sorted(set(cfg.stages) - set(STAGE_NAMES()) - set(stages) - {"enroll"}):
            self.skipped.append({"what": f"voice stage {name}", "reason": "not registered in bench.variants"})
        per_thread_stages = {(name, t): stage for name, stage in stages.items() for t in self.threads}
        for profile in cfg.profiles:
            for t in self.threads:
                try:
                    from edge_vc.loader import load as load_pipeline

                    speaker = load_pipeline(profile, threads=t)
                    if speaker.profile_name is None:
                        raise ValueError(f"{profile!r} is not an enrolled profile")
                    per_thread_stages[(f"profile:{profile}", t)] = speaker.stage
                except Exception as exc:
                    self._skip(f"profile {profile}", exc)
                    break
        for (name, t), stage in per_thread_stages.items():
            key = {"stage": "voice_stage", "voice_stage": name, "threads": t}
            self.jobs.append(Job(key, self._stage_job(stage, ref_chunks, ref_seconds)))
            for (label, vt), voice in voices.items():
                if vt == t:
                    self.jobs.append(
                        Job(
                            {"stage": "end_to_end", "variant": label, "voice_stage": name, "threads": t},
                            self._e2e_job(voice, stage),
                        )
                    )
        if "piper-tts" in cfg.compare:
            self._add_piper_jobs(voices, fp32_label)

    def _add_product_enrollment(self, stages: dict, threads: int) -> None:
        """The product's enrollment (edge_vc.enroll.flow) timed on the reference; its stage joins ``stages``."""
        from edge_vc.bench.enrollment import enroll_speaker, product_enrollment_available

        missing = product_enrollment_available()
        if missing:
            self.skipped.append({"what": "product enrollment", "reason": missing})
            return
        args = (self.reference, self.reference_rate, "auto", threads)
        try:
            speaker = enroll_speaker(*args)
        except Exception as exc:
            self._skip("product enrollment", exc)
            return
        stages["enroll"] = speaker.stage
        self.enrolled_base = speaker.voice.name
        self.jobs.append(
            Job(
                {"stage": "enrollment", "voice_stage": "enroll", "reference_s": self.config.reference_seconds},
                lambda: {"seconds": _timed(lambda: enroll_speaker(*args))},
                max_rounds=min(self.config.repeats, 3),
            )
        )

    # ------------------------------------------------------------ jobs

    def _vits_job(self, voice) -> Callable[[], dict[str, float]]:
        from edge_vc.base_voice.phonemes import Phonemizer

        phonemizer = Phonemizer(voice.config)
        id_lists = [phonemizer.to_ids(phonemizer.phonemize(s)) for s in self.config.sentences]
        syn = voice.config.default_synthesis()

        def run() -> dict[str, float]:
            start, cpu = time.perf_counter(), time.process_time()
            samples = sum(voice.phoneme_ids_to_audio(ids, syn).size for ids in id_lists)
            seconds = samples / voice.sample_rate
            return {"rtf": (time.perf_counter() - start) / seconds, "cpu_rtf": (time.process_time() - cpu) / seconds}

        return run

    @staticmethod
    def _stage_job(stage, chunks, seconds: float) -> Callable[[], dict[str, float]]:
        """The stage's RTF over the sentences, and per part for a stream that records its costs
        (``costs``: wall and CPU seconds per part, as the learned stage's streams do)."""

        def run() -> dict[str, float]:
            start, cpu = time.perf_counter(), time.process_time()
            stream = stage.stream()
            for chunk in chunks:
                stream.process(chunk)
            result = {"rtf": (time.perf_counter() - start) / seconds, "cpu_rtf": (time.process_time() - cpu) / seconds}
            part_wall, part_cpu = (getattr(getattr(stream, "costs", None), name, {}) for name in ("wall", "cpu"))
            for part in part_wall:
                if part != "total":
                    result[f"part_{part}_rtf"] = part_wall[part] / seconds
                    result[f"part_{part}_cpu_rtf"] = part_cpu[part] / seconds
            return result

        return run

    def _e2e_job(self, voice, stage) -> Callable[[], dict[str, float]]:
        from edge_vc.pipeline import VoicePipeline

        speaker = VoicePipeline(voice, stage)

        def run() -> dict[str, float]:
            start, cpu = time.perf_counter(), time.process_time()
            first, seconds = None, 0.0
            for chunk in speaker.synthesize(self.config.paragraph):
                if first is None:
                    first = time.perf_counter() - start
                seconds += chunk.duration
            return {
                "rtf": (time.perf_counter() - start) / seconds,
                "cpu_rtf": (time.process_time() - cpu) / seconds,
                "ttfa_s": first if first is not None else float("nan"),
            }

        return run

    def _enroll_once(self, name: str, voice, encoder) -> float:
        start = time.perf_counter()
        if encoder is not None:
            encoder.embed(self.reference, self.reference_rate)
        build_stage(name, self.reference, self.reference_rate, voice, encoder)
        return time.perf_counter() - start

    def _add_piper_jobs(self, voices, fp32_label: str) -> None:
        try:
            from piper import PiperVoice

            from edge_vc.backends.onnx import create_session
        except ImportError as exc:
            self._skip("compare piper-tts", ImportError(f"piper-tts is not installed ({exc.name})"))
            return
        model = voices[(fp32_label, self.threads[0])]
        from edge_vc.base_voice.catalog import resolve_voice

        files = resolve_voice(self.config.voice)
        for t in self.threads:
            piper = PiperVoice.load(str(files.model_path), config_path=str(files.config_path))
            piper.session = create_session(files.model_path, threads=t)  # same thread budget as edge-vc

            def run(p=piper) -> dict[str, float]:
                start, cpu = time.perf_counter(), time.process_time()
                first, samples = None, 0
                for chunk in p.synthesize(self.config.paragraph):
                    first = first if first is not None else time.perf_counter() - start
                    samples += chunk.audio_float_array.size
                seconds = samples / model.sample_rate
                return {
                    "rtf": (time.perf_counter() - start) / seconds,
                    "cpu_rtf": (time.process_time() - cpu) / seconds,
                    "ttfa_s": first if first is not None else float("nan"),
                }

            self.jobs.append(Job({"stage": "piper-tts", "variant": fp32_label, "threads": t}, run))

    # ------------------------------------------------------------ rounds

    def measure(self) -> None:
        rounds = self.config.warmup + self.config.repeats
        for r in range(rounds):
            warm = r < self.config.warmup
            self.progress(
                f"{'warm-up' if warm else 'round'} {r + 1 - (0 if warm else self.config.warmup)}"
                f"/{self.config.warmup if warm else self.config.repeats}"
            )
            shift = r % max(1, len(self.jobs))
            for job in self.jobs[shift:] + self.jobs[:shift]:  # rotate the order every round
                done = len(next(iter(job.samples.values()), []))
                if not warm and job.max_rounds is not None and done >= job.max_rounds:
                    continue
                if warm and job.max_rounds is not None and job.key["stage"] == "enrollment":
                    continue
                result = job.run()
                if not warm:
                    for name, value in result.items():
                        job.samples.setdefault(name, []).append(float(value))

    def results(self, command: str | None = None) -> dict[str, object]:
        rows = []
        for job in self.jobs:
            row = dict(job.key)
            for name, values in job.samples.items():
                row[name] = Stats.of(values).to_dict()
            rows.append(row)
        machine = machine_info()
        machine["load_average_start"] = self.load_start
        return {
            "schema": "edge-vc-bench/1",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command or " ".join(sys.argv),
            "machine": machine,
            "config": self.config.to_dict(),
            "threads": self.threads,
            "reference": {
                "source": self.reference_source,
                "seconds": round(self.reference.size / self.reference_rate, 2),
            },
            "rows": rows,
            "memory": {"peak_rss_mb": round(peak_rss_mb(), 1), "load_rss_mb": self.load_rss},
            "artifacts": self.artifacts,
            "skipped": self.skipped,
            "enrolled_base_voice": self.enrolled_base,
        }


def STAGE_NAMES() -> list[str]:  # noqa: N802 - read at call time so added builders count
    from edge_vc.bench.variants import STAGE_BUILDERS

    return list(STAGE_BUILDERS)


def run_bench(
    config: BenchConfig, progress: Callable[[str], None] | None = None, command: str | None = None
) -> dict[str, object]:
    """Set up, measure in interleaved rounds, and return the JSON-ready results."""
    run = BenchRun(config, progress)
    run.setup()
    run.measure()
    results = run.results(command)
    from edge_vc.bench.report import comparisons

    results["compare"] = comparisons(results)
    return results
