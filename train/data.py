"""Base-voice training data for the learned stage: synthesized speech, its content features and mels.

    python -m train.data --minutes 25          # synthesize (cached), then compute features (cached)

Audio: the bundled joe voice reading ``train.sentences.generate`` (seeded), with the length scale
varied per sentence for tempo variety. Everything is cached under ``.cache/learned/`` and keyed by
the settings, so reruns are free.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "learned"


def synthesize(minutes: float = 25.0, seed: int = 1234, threads: int = 1) -> Path:
    """Synthesize ~``minutes`` of base-voice speech; returns the cached .npz (int16 audio + offsets)."""
    from edge_vc.tts.voice import BaseVoice

    from .sentences import generate

    key = hashlib.sha256(json.dumps([minutes, seed, "joe", 1]).encode()).hexdigest()[:10]
    path = CACHE / f"base_audio_{key}.npz"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    voice = BaseVoice.load(threads=threads)
    rate = voice.sample_rate
    rng = np.random.default_rng(seed)
    syn = voice.config.default_synthesis()
    pieces: list[np.ndarray] = []
    texts: list[str] = []
    total = 0
    target = minutes * 60 * rate
    start = time.time()
    for sentence in generate(int(minutes * 60 / 2) + 50, seed):
        syn.length_scale = float(rng.uniform(0.85, 1.2))
        audio = np.concatenate([c.audio for c in voice.synthesize(sentence, syn)])
        pieces.append((np.clip(audio, -1, 1) * 32767).astype(np.int16))
        texts.append(sentence)
        total += audio.size
        if len(pieces) % 25 == 0:
            print(f"{len(pieces)} sentences, {total / rate / 60:.1f} min, {time.time() - start:.0f} s", flush=True)
        if total >= target:
            break
    offsets = np.cumsum([0] + [p.size for p in pieces])
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, audio=np.concatenate(pieces), offsets=offsets, rate=rate, texts=np.array(texts))
    tmp.rename(path)
    return path


def utterances(path: Path) -> tuple[int, list[np.ndarray], list[str]]:
    """(rate, float32 utterances, texts) from a cached audio file."""
    data = np.load(path)
    audio = data["audio"].astype(np.float32) / 32767.0
    offsets = data["offsets"]
    pieces = [audio[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    return int(data["rate"]), pieces, [str(t) for t in data["texts"]]


def features(path: Path, threads: int = 2) -> Path:
    """Content features and HiFi-GAN log-mels of every cached utterance (float16 .npz beside it)."""
    from edge_vc.features.content import ContentEncoder
    from edge_vc.features.hifigan_mel import hifigan_log_mel

    out = path.with_name(path.stem + "_feats.npz")
    if out.is_file():
        return out
    rate, pieces, _ = utterances(path)
    encoder = ContentEncoder.load(threads=threads)
    contents, mels = [], []
    start = time.time()
    for i, audio in enumerate(pieces):
        mel = hifigan_log_mel(audio, rate)
        content = encoder.encode(audio, rate, mel.shape[0])
        contents.append(content.astype(np.float16))
        mels.append(mel.astype(np.float16))
        if (i + 1) % 50 == 0:
            print(f"features {i + 1}/{len(pieces)}, {time.time() - start:.0f} s", flush=True)
    lengths = np.array([m.shape[0] for m in mels])
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, content=np.concatenate(contents), mel=np.concatenate(mels), lengths=lengths)
    tmp.rename(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-features", action="store_true")
    args = parser.parse_args()
    path = synthesize(args.minutes, args.seed, args.threads)
    print(path)
    if not args.no_features:
        print(features(path, threads=args.threads))


if __name__ == "__main__":
    main()
