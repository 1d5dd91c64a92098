"""Compare vocoder variants on one dev speaker's adapted decoder (from eval_learned's cache).

Every variant re-voices the same base-voice renditions (``--renditions`` per held-out sentence),
streamed chunk by chunk as ``say`` does; prints mean whisper WER and level-matched VFL per variant.

    python benchmarks/recipe_probe/probe_vocoder.py seed-vc-s2 --renditions 5 \\
        --variant fp32 --variant reach=0.75 --variant reach=1.0 --variant reach=1.0,iterations=1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]


def source_filter(spec: str):
    """``reach=1.0,iterations=3,noise_top=0.5`` → a SourceFilterVocoder (reach sets ENVELOPE_REACH)."""
    import edge_vc.vocoder.source_filter as module

    options = dict(item.split("=") for item in spec.split(",") if item)
    module.ENVELOPE_REACH = float(options.pop("reach", module.ENVELOPE_REACH))
    fields = module.SourceFilterVocoder.__dataclass_fields__
    return module.SourceFilterVocoder(**{k: type(fields[k].default)(v) for k, v in options.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("speaker")
    parser.add_argument("--renditions", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], help="fp32, int8, or source-filter options")
    parser.add_argument("--tag", default="f0", help="eval_learned cache tag of the decoder")
    args = parser.parse_args()

    from eval_learned import WORK, dev_speakers

    from edge_vc.bench.asr import WhisperASR, word_error_rate
    from edge_vc.bench.quality import IndependentEmbedder
    from edge_vc.clone.stages.learned import LearnedStage, LearnedStageConfig
    from edge_vc.tts.voice import BaseVoice
    from export.sentences import EVALUATION
    from train.adapt_profile import PROBES

    sentences = [s for s in EVALUATION if s not in PROBES]
    voice = BaseVoice.load(threads=2)
    asr, embedder = WhisperASR(threads=2), IndependentEmbedder()
    enroll, rate, _ = dev_speakers()[args.speaker]
    base = [(s, list(voice.synthesize(s))) for s in sentences for _ in range(args.renditions)]
    decoder = str(WORK / f"{args.speaker}_{args.tag}" / "decoder.onnx")
    for variant in args.variant or ["fp32", ""]:
        if variant in ("fp32", "int8"):
            stage = LearnedStage(LearnedStageConfig(decoder, variant), threads=2)
        else:
            config = LearnedStageConfig(decoder, "source-filter")
            stage = LearnedStage(config, threads=2, vocoder=source_filter(variant))
        outputs = []
        for _, chunks in base:
            stage.reset()
            outputs.append(np.concatenate([stage.process(c).audio for c in chunks]))
        pairs = zip(base, outputs, strict=True)
        wers = [word_error_rate(s, asr.transcribe(o, voice.sample_rate)) for (s, _), o in pairs]
        joined = np.concatenate(outputs)
        vfl = embedder.similarity(joined, voice.sample_rate, enroll, rate, match_levels=True)
        row = {"speaker": args.speaker, "variant": variant or "source-filter", "renditions": len(base)}
        print(json.dumps(row | {"wer": round(float(np.mean(wers)), 3), "vfl_lm": round(vfl, 3)}), flush=True)


if __name__ == "__main__":
    main()
