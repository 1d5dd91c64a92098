"""edge-vc vs the reference piper-tts on the same voice: RTF and time to first audio, interleaved.

    python benchmarks/vs_piper.py --threads 1 --reps 7 [--json out.json]

Both engines load the same ONNX voice with the same thread count; each repetition runs edge-vc and
piper-tts back to back (alternating which goes first), so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

PARAGRAPH = (
    "The library opens at nine in the morning, and closes at six in the evening. "
    "Visitors can borrow up to ten books at a time with a valid card. "
    "The reading room on the second floor is reserved for quiet study. "
    "Children's story hour takes place every Saturday at eleven. "
    "Please return borrowed items to the desk near the main entrance."
)


def _load_piper(model: str, config: str, threads: int):
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    with open(config, encoding="utf-8") as handle:
        return PiperVoice(session=session, config=PiperConfig.from_dict(json.load(handle)))


def _run(chunks_iter, rate_of) -> tuple[float, float, float]:
    """(seconds to first chunk, total seconds, seconds of audio)."""
    started = time.perf_counter()
    first = None
    samples = 0
    rate = 1
    for chunk in chunks_iter:
        if first is None:
            first = time.perf_counter() - started
        audio, rate = rate_of(chunk)
        samples += len(audio)
    total = time.perf_counter() - started
    return first or total, total, samples / rate


def compare(threads: int = 1, reps: int = 7, text: str = PARAGRAPH) -> dict:
    """Measure both engines, interleaved; returns medians, spreads and ratios."""
    from piper import SynthesisConfig as PiperSyn

    from edge_vc.base_voice.catalog import bundled_voice
    from edge_vc.base_voice.voice import BaseVoice

    files = bundled_voice()
    ours = BaseVoice.load(files, threads=threads)
    ref = _load_piper(str(files.model_path), str(files.config_path), threads)
    our_syn = ours.config.default_synthesis()
    ref_syn = PiperSyn()

    def run_ours():
        return _run(ours.synthesize(text, our_syn), lambda c: (c.audio, c.sample_rate))

    def run_ref():
        return _run(ref.synthesize(text, ref_syn), lambda c: (c.audio_float_array, c.sample_rate))

    run_ours(), run_ref()  # warm-up
    results = {"edge-vc": [], "piper-tts": []}
    for rep in range(reps):
        order = [("edge-vc", run_ours), ("piper-tts", run_ref)]
        if rep % 2:
            order.reverse()
        for name, fn in order:
            results[name].append(fn())

    def summary(rows):
        firsts, totals, audio = zip(*rows, strict=True)
        rtfs = [t / a for t, a in zip(totals, audio, strict=True)]
        return {
            "first_audio_s": statistics.median(firsts),
            "first_audio_spread_s": [min(firsts), max(firsts)],
            "rtf": statistics.median(rtfs),
            "rtf_spread": [min(rtfs), max(rtfs)],
            "audio_s": statistics.median(audio),
        }

    ours_s, ref_s = summary(results["edge-vc"]), summary(results["piper-tts"])
    import onnxruntime
    import piper

    return {
        "threads": threads,
        "reps": reps,
        "sentences": text.count(". ") + 1,
        "edge-vc": ours_s,
        "piper-tts": ref_s,
        "rtf_ratio_piper_over_edgevc": ref_s["rtf"] / ours_s["rtf"],
        "first_audio_ratio_piper_over_edgevc": ref_s["first_audio_s"] / ours_s["first_audio_s"],
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "versions": {
            "onnxruntime": onnxruntime.__version__,
            "piper-tts": getattr(piper, "__version__", "1.8.0"),
            "numpy": np.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    result = compare(args.threads, args.reps)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
