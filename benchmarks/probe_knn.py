"""Probe (not in the product): the learned stage's predicted log-mel moved toward the enrollment's own frames.

    python benchmarks/probe_knn.py adapt --speakers a,b          # adapt decoders with AdaptConfig defaults
    python benchmarks/probe_knn.py probe --speakers a,b --renditions 2 --variants base,k=4,k=4_a=0.5
    python benchmarks/probe_knn.py adapt --recipe moment_weight=1,moment_classes=all   # other AdaptConfig
    python benchmarks/probe_knn.py probe --recipe "default;moment_weight=1,moment_classes=all" --variants base

Each variant replaces every predicted frame by the mean of its ``k`` nearest enrollment frames (L2 on
the log-mel; ``ctx=N``: frames stacked with N neighbours each side for the distance), blended with
weight ``a`` (1: the kNN frames alone) over all bands or, with ``split=B``, from band B up (logistic
crossover); ``v=1`` only in voiced frames, from voiced enrollment frames (``v=0``: only in unvoiced
frames, from unvoiced ones); ``c=1`` neighbours by content features (cosine of the whisper encoder
frames) instead of the log-mel. ``bed``: no kNN; the output plus the enrollment's quietest fifth of 20
ms frames (its noise floor) under it, at the recording's level. ``mm``: no kNN; voiced and unvoiced speech
frames moved so that their per-band mean (``s=1``: and spread) is the enrollment's instead of what the
decoder predicts for ``--calibration`` other base-voice sentences (``a``, ``v`` as above; ``m``: the spread
ratio clipped to [1/m, m], default 2). Scores per variant on the same base
renditions: ECAPA to the enrollment (measurement only), whisper tiny.en WER, DNSMOS OVRL. Results are
appended to ``--out`` (JSON lines); docs/learned-stage.md has the measured rows. ``--recipe`` names
AdaptConfig fields that differ from the defaults (``name=value,...``; ``default``: none); its decoders live
in their own folder. ``probe`` takes several recipes (``;``-separated), all scored on the same renditions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_vc.train.moments import class_stats, frame_classes  # noqa: E402

from benchmarks.eval_learned import adapt_decoder, dev_speakers  # noqa: E402
from edge_vc.stages.base import process_whole  # noqa: E402

WORK = REPO / ".cache" / "learned" / "knn"


def spec_options(spec: str) -> dict[str, str]:
    """``k=4_a=0.5`` → {"k": "4", "a": "0.5"}; a leading bare name (``mm``) is skipped."""
    return dict(kv.split("=") for kv in spec.split("_") if "=" in kv)


def knn_mel(mel, voiced, ref_mel, ref_voiced, spec: str, content=None, ref_content=None) -> np.ndarray:
    """``mel`` [T, 80] moved toward its nearest enrollment frames as ``spec`` says (module docstring)."""
    o = spec_options(spec)
    k, ctx, split, alpha = int(o.get("k", 4)), int(o.get("ctx", 0)), int(o.get("split", 0)), float(o.get("a", 1))
    only = None if voiced is None or "v" not in o else o["v"] == "1"  # voiced (True) or unvoiced frames only
    ref = ref_mel if only is None else ref_mel[ref_voiced == only]

    def stack(m: np.ndarray) -> np.ndarray:
        if ctx == 0:
            return m
        pad = np.pad(m, ((ctx, ctx), (0, 0)), mode="edge")
        return np.concatenate([pad[i : i + m.shape[0]] for i in range(2 * ctx + 1)], axis=1)

    if o.get("c") == "1":  # by content: negative cosine of the encoder frames (all enrollment frames)
        unit = lambda x: x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-8)  # noqa: E731
        distance, ref = -unit(content) @ unit(ref_content).T, ref_mel
    else:
        q, r = stack(mel), stack(ref)
        distance = (q**2).sum(1)[:, None] - 2 * q @ r.T + (r**2).sum(1)[None]
    nearest = ref[np.argpartition(distance, k, axis=1)[:, :k]].mean(1)
    weight = alpha / (1 + np.exp(-(np.arange(80) - split) / 3.0)) if split else np.full(80, alpha)
    weight = weight[None] * (1.0 if only is None else (voiced == only)[:, None])
    return (mel + weight * (nearest - mel)).astype(np.float32)


def spread_safe_stats(mel: np.ndarray, classes: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``class_stats`` with 1e-3 added to each spread (the ``mm`` variants divide by it)."""
    return {c: (m, sd + 1e-3) for c, (m, sd) in class_stats(mel, classes).items()}


def moment_match(mel, voiced, ref_stats, pred_stats, spec: str) -> np.ndarray:
    """``mm`` variants: each class's frames moved so that its per-band mean (``s=1``: and spread) is the
    enrollment's instead of what the decoder predicts for base-voice speech; weight ``a``; ``v=1``/``v=0``
    only voiced / unvoiced speech frames."""
    o = spec_options(spec)
    alpha, spread, top = float(o.get("a", 1)), o.get("s") == "1", float(o.get("m", 2.0))
    wanted = [2] if o.get("v") == "1" else [1] if o.get("v") == "0" else [1, 2]
    classes = frame_classes(mel, voiced)
    out = mel.copy()
    for c in wanted:
        if c not in ref_stats or c not in pred_stats:
            continue
        (rm, rs), (pm, ps) = ref_stats[c], pred_stats[c]
        scale = np.clip(rs / ps, 1 / top, top) if spread else 1.0  # top: the largest spread ratio applied
        frames = classes == c
        moved = rm + (mel[frames] - pm) * scale
        out[frames] = mel[frames] + alpha * (moved - mel[frames])
    return out.astype(np.float32)


def noise_bed(audio: np.ndarray, rate: int, out_rate: int, share: float = 0.2) -> np.ndarray:
    """The recording's quietest ``share`` of 20 ms frames, joined, at ``out_rate``: its noise floor and room."""
    from edge_vc.audio.io import resample

    x = resample(np.asarray(audio, dtype=np.float32), rate, out_rate)
    hop = out_rate // 50
    frames = x[: x.size // hop * hop].reshape(-1, hop)
    rms = np.sqrt((frames**2).mean(1))
    quiet = frames[rms <= np.quantile(rms, share)]
    return quiet.reshape(-1)


def recipe_overrides(recipe: str) -> dict:
    """``name=value,...`` as AdaptConfig keyword arguments (numbers as numbers)."""
    out: dict = {}
    for item in filter(None, "" if recipe == "default" else recipe.split(",")):
        key, _, value = item.partition("=")
        if value in ("true", "false"):
            out[key] = value == "true"
            continue
        try:
            out[key] = float(value) if "." in value or key.endswith("weight") else int(value)
        except ValueError:
            out[key] = value
    return out


def recipe_folder(recipe: str) -> Path:
    return WORK if recipe in ("", "default") else WORK / recipe.replace(",", "_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["adapt", "probe"])
    parser.add_argument("--speakers", default="")
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--renditions", type=int, default=2)
    parser.add_argument("--variants", default="base,k=4,k=4_a=0.5")
    parser.add_argument("--calibration", type=int, default=30, help="sentences for the mm variants' statistics")
    parser.add_argument("--recipe", default="", help="AdaptConfig overrides, name=value,... (own decoder folder)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "learned_knn_probe.jsonl")
    args = parser.parse_args()
    from edge_vc.train.adapt import BASE_DECODER, AdaptConfig
    from edge_vc.train.loop import Corpus

    from edge_vc.features.content import ContentEncoder

    speakers = dev_speakers()
    wanted = [s for s in args.speakers.split(",") if s] or list(speakers)
    encoder = ContentEncoder.load(threads=1)
    recipes = [r for r in args.recipe.split(";") if r] or ["default"]
    if args.mode == "adapt":
        if len(recipes) > 1:
            raise SystemExit("adapt takes one recipe")
        overrides, work = recipe_overrides(recipes[0]), recipe_folder(recipes[0])
        for name in wanted:
            folder = work / name
            folder.mkdir(parents=True, exist_ok=True)
            enroll, rate, _ = speakers[name]
            config = AdaptConfig(threads=1, **overrides)
            result, seconds, _ = adapt_decoder(enroll, rate, encoder, config, folder, BASE_DECODER)
            print(name, "adapted in", round(seconds, 1), "s, loss", round(result["loss"], 4), flush=True)
        return
    from edge_vc.export.sentences import EVALUATION
    from edge_vc.models.ecapa import EcapaVerifier
    from edge_vc.train.adapt_profile import PROBES

    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR, word_error_rate
    from edge_vc.bench.quality import DNSMOS
    from edge_vc.stages.learned import LearnedStage, LearnedStageConfig
    from edge_vc.vocoder import load_vocoder

    sentences = [s for s in EVALUATION if s not in PROBES][: args.sentences]
    from edge_vc.train.sentences import generate

    calibration = generate(args.calibration, seed=4321)  # base-voice speech for the decoder's own statistics
    voice = BaseVoice.load(threads=1)
    vocoder = load_vocoder("source-filter", threads=1)
    verifier, dnsmos, asr = EcapaVerifier(threads=1), DNSMOS(), WhisperASR(threads=1)  # measurement only
    texts = [s for s in sentences for _ in range(args.renditions)]
    base_chunks = [list(voice.synthesize(s)) for s in texts]
    sr = voice.sample_rate
    uses_mm = any(v.startswith("mm") for v in args.variants.split(","))
    calibration_audio = [np.concatenate([c.audio for c in voice.synthesize(t)]) for t in calibration] if uses_mm else []
    for name in wanted:
        enroll, rate, _ = speakers[name]
        corpus = Corpus.from_audio(enroll, rate, encoder, speaker=1, pitch=True)
        ref_mel, ref_voiced = corpus.mel.astype(np.float32), corpus.pitch[:, 1] > 0.5
        ref_content = corpus.content.astype(np.float32)
        ref_stats = spread_safe_stats(ref_mel, frame_classes(ref_mel, ref_voiced))
        enroll_embedding = verifier.embed(enroll, rate)
        for recipe in recipes:
            config = LearnedStageConfig(str(recipe_folder(recipe) / name / "decoder.onnx"), "source-filter")
            stage = LearnedStage(config, content=encoder, vocoder=vocoder)
            predicted = stage.mel
            pred_stats: dict = {}
            if uses_mm:
                pairs = [predicted(voice_audio, sr) for voice_audio in calibration_audio]
                if any(p is None for _, p in pairs):
                    raise SystemExit(f"{name}: the mm variants need a decoder with a pitch input")
                cal_mel = np.concatenate([m for m, _ in pairs])
                cal_voiced = np.concatenate([p[:, 1] > 0.5 for _, p in pairs if p is not None])
                pred_stats = spread_safe_stats(cal_mel, frame_classes(cal_mel, cal_voiced))
            row: dict = {"speaker": name, "date": time.strftime("%F %T"), "renditions": args.renditions}
            if recipe != "default":
                row["recipe"] = recipe
            for spec in args.variants.split(","):

                def mel(
                    audio,
                    sample_rate,
                    costs=None,
                    spec=spec,
                    predicted=predicted,
                    ref=(ref_mel, ref_voiced),
                    rc=ref_content,
                    ref_stats=ref_stats,
                    pred_stats=pred_stats,
                ):
                    out, pitch = predicted(audio, sample_rate, costs)
                    if spec in ("base", "bed"):
                        return out, pitch
                    voiced = None if pitch is None else pitch[:, 1] > 0.5
                    if spec.startswith("mm"):
                        return moment_match(out, voiced, ref_stats, pred_stats, spec), pitch
                    content = encoder.encode(audio, sample_rate, out.shape[0]) if "c=1" in spec else None
                    return knn_mel(out, voiced, *ref, spec, content, rc), pitch

                stage.mel = mel  # type: ignore[method-assign]
                outputs = [np.concatenate([c.audio for c in process_whole(stage, chunks)]) for chunks in base_chunks]
                if spec == "bed":  # the stage's output unchanged, plus the enrollment's own quietest frames under it
                    bed = noise_bed(enroll, rate, sr)
                    outputs = [o + np.resize(bed, o.size) for o in outputs]
                heard = [asr.transcribe(o, sr) for o in outputs]
                wer = float(np.mean([word_error_rate(t, h) for t, h in zip(texts, heard, strict=True)]))
                joined = np.concatenate(outputs)
                ecapa = verifier.similarity(verifier.embed(joined, sr), enroll_embedding)
                quality = dnsmos(joined, sr).to_dict()
                row[spec] = {"ecapa": round(float(ecapa), 4), "wer": round(wer, 4), "dnsmos": quality}
                print(name, spec, row[spec], flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
