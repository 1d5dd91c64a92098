"""Full-integer INT8 of the voice's decoder part (what NPUs need): convert with calibration, compare to float.

    .venv/bin/python benchmarks/litert_int8_decoder.py --work out/litert-int8

Splits the bundled voice into its parts, makes calibration windows of real latents (the calibration
sentences of ``export/sentences.py`` through the ONNX parts, noise on), converts the decoder with
onnx2tf ``-oiqt`` and prints, per TFLite variant, which ops have float outputs, the correlation and SNR
of its audio against the float32 TFLite decoder on two calibration windows, and the CPU time per window.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="out/litert-int8")
    args = parser.parse_args()
    from edge_vc.export.sentences import CALIBRATION
    from edge_vc.export.voice_parts import PartsConfig, PartsVoice, onnx_part, split_voice

    from edge_vc.backends.tflite import interpreter_class
    from edge_vc.base_voice.catalog import bundled_voice
    from edge_vc.base_voice.config import VoiceConfig
    from edge_vc.base_voice.litert_voice import PART_NAMES, tflite_runner
    from edge_vc.base_voice.phonemes import Phonemizer

    work = Path(args.work)
    cfg = PartsConfig()
    source = bundled_voice()
    parts = split_voice(source.model_path, work / "onnx", cfg)
    voice = PartsVoice(*(onnx_part(parts[n]) for n in PART_NAMES), cfg)
    phonemizer = Phonemizer(VoiceConfig.load(source.config_path))
    rng = np.random.default_rng(0)
    windows = []
    for sentence in CALIBRATION:
        z = voice.latent(phonemizer.to_ids(phonemizer.phonemize(sentence)), (0.667, 1.0, 0.8), rng=rng)
        for start in range(-cfg.decoder_context, z.shape[-1], cfg.decoder_core):
            w = np.zeros((1, 192, cfg.decoder_window), np.float32)
            lo, hi = max(start, 0), min(start + cfg.decoder_window, z.shape[-1])
            w[..., lo - start : hi - start] = z[..., lo:hi]
            windows.append(w[0].T)  # channels-last, as onnx2tf's input
    calib = np.stack(windows)
    np.save(work / "calib.npy", calib)
    print(f"{len(calib)} calibration windows")
    tf_dir = work / "tf"
    command = [sys.executable, "-m", "onnx2tf", "-i", str(parts["decoder"]), "-o", str(tf_dir), "-oiqt", "-coion"]
    command += ["-v", "error", "-cind", "z_in", str(work / "calib.npy"), "[[[0.0]]]", "[[[1.0]]]"]
    subprocess.run(command, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    shape = [(1, 1, 1, cfg.decoder_window * 256)]
    reference = tflite_runner(tf_dir / "decoder_float32.tflite", shape, threads=1)
    for variant in ("dynamic_range_quant", "integer_quant"):
        path = tf_dir / f"decoder_{variant}.tflite"
        interpreter = interpreter_class()(model_path=str(path))
        interpreter.allocate_tensors()
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
        ops = interpreter._get_ops_details()
        float_ops = Counter(
            o["op_name"] for o in ops if any(tensors[i]["dtype"] == np.float32 for i in o["outputs"] if i in tensors)
        )
        run = tflite_runner(path, shape, threads=1)
        for k in (5, 20):
            feeds = {"z_in": calib[k].T[None].copy()}
            out, ref = run(feeds)[0].reshape(-1), reference(feeds)[0].reshape(-1)
            snr = 10 * np.log10(np.sum(ref**2) / max(float(np.sum((out - ref) ** 2)), 1e-20))
            print(f"{variant} window {k}: correlation {np.corrcoef(out, ref)[0, 1]:.3f}, SNR {snr:.1f} dB")
        started = time.process_time()
        for _ in range(5):
            run(feeds)
        per_window = (time.process_time() - started) / 5 * 1000
        print(f"{variant}: {per_window:.0f} ms CPU per window; float ops {dict(float_ops)}")


if __name__ == "__main__":
    main()
