"""Streaming probe of the learned voice stage: first audio, RTF, stalls, per-part cost, and quality.

    python benchmarks/learned_latency.py latency --profile-dir DIR [--threads 1,2] [--repeats 5] [--first 1.0,0.5]
    python benchmarks/learned_latency.py quality --profile-dir DIR [--profile-dir DIR2] [--renditions 3]

``latency`` speaks the bench paragraph (``edge_vc.bench.config.PARAGRAPH``) through the base voice
alone and through the learned stage with each ``--first`` value (``LearnedStream.first_render_s``;
1.0 is what the stage did before, gather 1 s before every render), and with ``--before COMMIT``
through the stage as it was at that commit (first=1 and that commit's source-filter vocoder,
read with ``git show``), interleaved round by round so
background load hits every configuration alike. Per configuration: time to first audio (wall, and
process CPU seconds, which other load on the machine inflates less), end-to-end RTF, the longest
stall a player would hear (a chunk arriving after the audio before it ran out, playback starting at
the first chunk), and the stage's cost per second of audio for each part. The load average is
printed with each run.

``quality`` renders the first ``--sentences`` paragraph sentences, ``--renditions`` base-voice
renditions each, through each ``--first`` value and through the whole utterance at once (one chunk),
and reports whisper tiny.en WER, the product speaker encoder's similarity to the enrollment, and
the log-mel distance (spectral shape and level) of each streamed output to the whole-utterance
render of the same base audio; "whole, noise seed 7" is that render with another excitation-noise
seed, the distance that noise alone makes. Decoders are used as adapted, whatever their quality
gate said (a measuring probe only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_vc.audio.chunk import AudioChunk  # noqa: E402
from edge_vc.bench.config import PARAGRAPH, PARAGRAPH_SENTENCES  # noqa: E402
from edge_vc.stages.learned import PARTS, LearnedStage, LearnedStageConfig  # noqa: E402
from edge_vc.vocoder.source_filter import SourceFilterVocoder  # noqa: E402


def load_stage(profile_dir: Path, threads: int, **parts) -> LearnedStage:
    return LearnedStage(LearnedStageConfig("learned/decoder.onnx"), base_dir=profile_dir, threads=threads, **parts)


def vocoder_at(commit: str):
    """The source-filter vocoder as ``edge_vc/vocoder/source_filter.py`` was at ``commit`` (for a before/after run)."""
    import subprocess
    import types

    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:edge_vc/vocoder/source_filter.py"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    module = types.ModuleType(f"source_filter_{commit}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:source_filter.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module.SourceFilterVocoder()


def speak(voice, stage, first: float | None) -> dict[str, float]:
    """One paragraph through ``voice`` (+ ``stage`` when there is one), timed."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    stream = stage.stream(first_render_s=first) if stage is not None else None
    first_wall = first_cpu = None
    arrivals: list[tuple[float, float]] = []
    base_chunks_after_first = 0
    for chunk in voice.synthesize(PARAGRAPH):
        if first_wall is not None:
            base_chunks_after_first += 1
        out = stream.process(chunk) if stream is not None else chunk
        if out.audio.size == 0:
            continue
        now = time.perf_counter() - wall0
        if first_wall is None:
            first_wall, first_cpu = now, time.process_time() - cpu0
        arrivals.append((now, out.duration))
    total = time.perf_counter() - wall0
    seconds = sum(d for _, d in arrivals)
    stall, clock = 0.0, arrivals[0][0]
    for at, duration in arrivals:  # a player starts at the first chunk and plays without gaps if it can
        stall = max(stall, at - clock)
        clock = max(clock, at) + duration
    row = {
        "ttfa_s": first_wall,
        "ttfa_cpu_s": first_cpu,
        "rtf": total / seconds,
        "cpu_rtf": (time.process_time() - cpu0) / seconds,
        "max_stall_s": stall,
        "base_chunks_after_first_audio": base_chunks_after_first,
    }
    if stream is not None:
        for part in (*PARTS, "total"):
            row[f"{part}_rtf"] = stream.costs.wall[part] / seconds
            row[f"{part}_cpu_rtf"] = stream.costs.cpu[part] / seconds
    return row


def latency(args) -> dict:
    from edge_vc.base_voice.voice import BaseVoice

    firsts = [float(x) for x in args.first.split(",")]
    if args.lean_memory:  # as edge-vc say and serve do by default: arena off, mmap threshold fixed
        from edge_vc.backends.heap import lean_memory

        lean_memory()
    report = {"load_start": os.getloadavg(), "lean_memory": args.lean_memory, "threads": {}}
    for threads in [int(t) for t in args.threads.split(",")]:
        voice = BaseVoice.load(threads=threads)
        stage = load_stage(Path(args.profile_dir[0]), threads)
        configs = [("base voice", None, None)] + [(f"learned first={f:g}", stage, f) for f in firsts]
        if args.before:  # the stage as it was: 1 s gathered before every render, that commit's vocoder
            old = load_stage(Path(args.profile_dir[0]), threads, content=stage.content, vocoder=vocoder_at(args.before))
            configs.append((f"before ({args.before}: first=1, its vocoder)", old, 1.0))
        samples: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
        for r in range(args.warmup + args.repeats):
            order = configs[r % len(configs) :] + configs[: r % len(configs)]
            for name, learned, first in order:
                row = speak(voice, learned, first)
                if r >= args.warmup:
                    samples[name].append(row)
        out = {}
        for name, rows in samples.items():
            out[name] = {k: float(np.median([row[k] for row in rows])) for k in rows[0]}
            out[name]["ttfa_s_all"] = [round(row["ttfa_s"], 3) for row in rows]
        report["threads"][threads] = out
        report.setdefault("load_after", {})[threads] = os.getloadavg()
    return report


def mel_distances(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(spectral shape, level) distance over speech frames: mean |Δ log-mel| with each frame's mean
    removed, and mean |Δ| of the frames' mean log-mel (natural log; as tests/test_learned_streaming.py)."""
    from edge_vc.features.hifigan_mel import hifigan_log_mel

    n = min(a.size, b.size)
    x, y = hifigan_log_mel(a[:n]), hifigan_log_mel(b[:n])
    speech = y.max(axis=1) > np.log(1e-2)
    shape = (x - x.mean(axis=1, keepdims=True)) - (y - y.mean(axis=1, keepdims=True))
    return float(np.abs(shape[speech]).mean()), float(np.abs(x.mean(axis=1) - y.mean(axis=1))[speech].mean())


def quality(args) -> dict:
    from edge_vc.audio.io import read_audio
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR, word_error_rate
    from edge_vc.speaker.encoder import SpeakerEncoder

    firsts = [float(x) for x in args.first.split(",")]
    voice = BaseVoice.load(threads=args.quality_threads)
    asr, encoder = WhisperASR(threads=args.quality_threads), SpeakerEncoder.load(threads=args.quality_threads)
    sentences = PARAGRAPH_SENTENCES[: args.sentences]
    renditions = [[list(voice.synthesize(s)) for s in sentences] for _ in range(args.renditions)]
    report = {"load_start": os.getloadavg(), "sentences": sentences, "renditions": args.renditions, "profiles": {}}
    for profile_dir in args.profile_dir:
        stage = load_stage(Path(profile_dir), args.quality_threads)
        # the same whole-utterance render with another noise seed in the source-filter vocoder: how far
        # two renders differ by the excitation noise alone (chunked renders draw their noise per render)
        reseeded = load_stage(
            Path(profile_dir), args.quality_threads, content=stage.content, vocoder=SourceFilterVocoder(seed=7)
        )
        enroll = encoder.embed(*read_audio(Path(profile_dir) / "enrollment.wav"))
        outputs: dict[str, list[np.ndarray]] = {"whole": [], "whole, noise seed 7": []}
        outputs |= {f"first={f:g}": [] for f in firsts}
        texts = []
        for rendition in renditions:
            for text, chunks in zip(sentences, rendition, strict=True):
                texts.append(text)
                base = np.concatenate([c.audio for c in chunks])
                whole = stage.stream().process(AudioChunk(voice.sample_rate, base, text=text, is_last=True))
                outputs["whole"].append(whole.audio)
                again = reseeded.stream().process(AudioChunk(voice.sample_rate, base, text=text, is_last=True))
                outputs["whole, noise seed 7"].append(again.audio)
                for f in firsts:
                    stream = stage.stream(first_render_s=f)
                    outputs[f"first={f:g}"].append(np.concatenate([stream.process(c).audio for c in chunks]))
        rows = {}
        for name, audios in outputs.items():
            heard = [asr.transcribe(a, voice.sample_rate) for a in audios]
            wers = [word_error_rate(t, h) for t, h in zip(texts, heard, strict=True)]
            joined = np.concatenate(audios)
            rows[name] = {
                "wer": float(np.mean(wers)),
                "similarity": float(encoder.similarity(encoder.embed(joined, voice.sample_rate), enroll)),
            }
            rows[name]["transcripts"] = heard
            if name != "whole":
                pairs = zip(audios, outputs["whole"], strict=True)
                shape_level = np.mean([mel_distances(a, w) for a, w in pairs], axis=0)
                rows[name]["log_mel_shape_vs_whole"], rows[name]["log_mel_level_vs_whole"] = map(float, shape_level)
                pairs = zip(audios, outputs["whole"], strict=True)
                rows[name]["similarity_to_whole"] = float(
                    np.mean([encoder.similarity(encoder.embed(a, 22050), encoder.embed(w, 22050)) for a, w in pairs])
                )
        report["profiles"][Path(profile_dir).name] = rows
    report["load_end"] = os.getloadavg()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("latency", "quality"))
    parser.add_argument("--profile-dir", action="append", required=True, help="adapted profile folder (repeatable)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--first", default="1.0,0.5", help="first_render_s values to compare")
    parser.add_argument("--before", default="", help="latency: also the stage as at this commit (first=1, its vocoder)")
    parser.add_argument("--sentences", type=int, default=5)
    parser.add_argument("--renditions", type=int, default=3)
    parser.add_argument("--quality-threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--lean-memory", action="store_true", help="latency: arena off, mmap threshold fixed (say's default)"
    )
    args = parser.parse_args()
    report = latency(args) if args.mode == "latency" else quality(args)
    report["command"] = " ".join(sys.argv)
    text = json.dumps(report, indent=1, default=float)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
