"""The base voice on LiteRT against onnxruntime fp32 and INT8: WER, speaker cosine, mel distance, RTF, load.

    .venv/bin/python benchmarks/litert_voice.py --threads 1 2 4 --reps 3 --out benchmarks/results/litert_voice.json

Quality: the 12 evaluation sentences (``export/sentences.py``) with noise scales 0, whisper tiny.en WER,
the product speaker encoder's cosine and the log-mel distance to the fp32 ONNX rendering of the same
ids. Speed: the VITS only (phoneme ids -> audio, as ``BaseVoice.phoneme_ids_to_audio``), all voices
interleaved in every repetition, median process-CPU RTF (wall too) over ``--reps``; load time and the
resident memory added by each load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--speed-sentences", type=int, default=6)
    parser.add_argument("--out", default="benchmarks/results/litert_voice.json")
    args = parser.parse_args()

    from edge_vc.export.sentences import EVALUATION
    from edge_vc.export.voice_eval import interleaved_speed, quality

    from edge_vc.base_voice.config import SynthesisConfig
    from edge_vc.base_voice.phonemes import Phonemizer
    from edge_vc.base_voice.voice import BaseVoice
    from edge_vc.bench.asr import WhisperASR
    from edge_vc.bench.spectral import mel_distance
    from edge_vc.bench.system import current_rss_mb, load_average
    from edge_vc.data.voices import JOE_INT8
    from edge_vc.speaker.encoder import SpeakerEncoder

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = load_average()
    specs = {"onnx-fp32": (None, "onnx"), "onnx-int8": (str(JOE_INT8), "onnx"), "litert": (None, "litert")}
    quiet = SynthesisConfig(noise_scale=0.0, length_scale=1.0, noise_w=0.0)
    voices, loads = {}, {}
    for threads in args.threads:
        for name, (voice, backend) in specs.items():
            rss, t0 = current_rss_mb(), time.perf_counter()
            voices[(name, threads)] = BaseVoice.load(voice, threads=threads, backend=backend)
            if threads == args.threads[0]:
                seconds = round(time.perf_counter() - t0, 2)
                loads[name] = {"seconds": seconds, "rss_mb": round(current_rss_mb() - rss, 1)}
    first = args.threads[0]
    phonemizer = Phonemizer(voices[("onnx-fp32", first)].config)
    ids = [phonemizer.to_ids(phonemizer.phonemize(s)) for s in EVALUATION]
    rate = voices[("onnx-fp32", first)].sample_rate

    audio = {name: [voices[(name, first)].phoneme_ids_to_audio(i, quiet) for i in ids] for name in specs}
    asr, encoder = WhisperASR(), SpeakerEncoder.load()
    report: dict = {"date": started, "machine": platform.machine(), "cores": os.cpu_count(), "quality": {}}
    for name in specs:
        q = quality(audio["onnx-fp32"], audio[name], EVALUATION, rate, name, asr=asr, encoder=encoder).to_dict()
        q["mel_distance_db"] = float(
            np.mean([mel_distance(r, c, rate) for r, c in zip(audio["onnx-fp32"], audio[name], strict=True)])
        )
        q["seconds_of_audio"] = round(sum(a.size for a in audio[name]) / rate, 2)
        report["quality"][name] = q
        print(name, {k: q.get(k) for k in ("wer", "reference_wer", "cosine_mean", "cosine_min", "mel_distance_db")})
    report["speed"] = {}
    for threads in args.threads:
        renderers = {name: (lambda i, v=voices[(name, threads)]: v.phoneme_ids_to_audio(i, quiet)) for name in specs}
        results = interleaved_speed(renderers, ids[: args.speed_sentences], rate, args.reps)
        report["speed"][threads] = [r.to_dict() for r in results]
        print(threads, [(r.name, round(r.rtf, 4), round(r.wall_s / r.audio_s, 4)) for r in results])
    report["load"] = loads
    report["load_average"] = {"start": load_before, "end": load_average()}
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
