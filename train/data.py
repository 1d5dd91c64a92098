"""Base-voice training data for the learned stage: synthesized speech, its content features and mels.

    python -m edge_vc.train.data --minutes 25          # synthesize (cached), then compute features (cached)

Audio: the bundled joe voice reading ``train.sentences.generate`` (seeded), with the length scale
varied per sentence for tempo variety. Everything is cached under ``cache_folder()`` (``<EDGE_VC_HOME>/cache/learned``,
``~/.local/share/edge-vc/cache/learned`` by default) and keyed by
the settings, so reruns are free.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from edge_vc.fileio import atomic_path


def cache_folder() -> Path:
    """Where training data is cached: ``edge_vc.paths.cache_dir() / "learned"`` (rebuilt when missing)."""
    from edge_vc.paths import cache_dir

    return cache_dir() / "learned"


def synthesize(minutes: float = 25.0, seed: int = 1234, threads: int = 1) -> Path:
    """Synthesize ~``minutes`` of base-voice speech; returns the cached .npz (int16 audio + offsets)."""
    from edge_vc.train.sentences import generate

    from edge_vc.base_voice.voice import BaseVoice

    key = hashlib.sha256(json.dumps([minutes, seed, "joe", 1]).encode()).hexdigest()[:10]
    path = cache_folder() / f"base_audio_{key}.npz"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
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
    with atomic_path(path) as tmp:
        np.savez(tmp, audio=np.concatenate(pieces), offsets=offsets, rate=rate, texts=np.array(texts))
    return path


def utterances(path: Path) -> tuple[int, list[np.ndarray], list[str]]:
    """(rate, float32 utterances, texts) from a cached audio file."""
    data = np.load(path)
    audio = data["audio"].astype(np.float32) / 32767.0
    offsets = data["offsets"]
    pieces = [audio[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    return int(data["rate"]), pieces, [str(t) for t in data["texts"]]


def features(path: Path, threads: int = 2, shifts: tuple[float, ...] = (1.0,), pitch: bool = False) -> Path:
    """Content features, HiFi-GAN log-mels (and pitch) of every cached utterance (float16 .npz beside it).

    ``shifts``: one content version per voice shift (``shifted_content``); the first is stored as
    ``content`` [N, D] when there is one, else all as [V, N, D].
    """
    from edge_vc.features.content import ContentEncoder, shifted_content
    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.features.pitch import pitch_features

    tag = (
        ""
        if tuple(shifts) == (1.0,) and not pitch
        else "_" + "-".join(f"{k:g}" for k in shifts) + ("_f0" if pitch else "")
    )
    out = path.with_name(path.stem + f"_feats{tag}.npz")
    if out.is_file():
        return out
    rate, pieces, _ = utterances(path)
    encoder = ContentEncoder.load(threads=threads)
    contents: list[list[np.ndarray]] = [[] for _ in shifts]
    mels, pitches = [], []
    start = time.time()
    for i, audio in enumerate(pieces):
        mel = hifigan_log_mel(audio, rate)
        for version, k in zip(contents, shifts, strict=True):
            version.append(shifted_content(encoder, audio, rate, mel.shape[0], k).astype(np.float16))
        mels.append(mel.astype(np.float16))
        if pitch:
            pitches.append(pitch_features(audio, rate, mel.shape[0]).astype(np.float16))
        if (i + 1) % 50 == 0:
            print(f"features {i + 1}/{len(pieces)}, {time.time() - start:.0f} s", flush=True)
    lengths = np.array([m.shape[0] for m in mels])
    content = np.stack([np.concatenate(v) for v in contents])
    arrays = {"content": content[0] if len(shifts) == 1 else content, "mel": np.concatenate(mels), "lengths": lengths}
    if pitch:
        arrays["pitch"] = np.concatenate(pitches)
    with atomic_path(out) as tmp:
        np.savez(tmp, **arrays)
    return out


PSEUDO_VOICES = ((5.0, 1.06), (10.0, 1.1), (15.0, 1.15), (20.0, 1.2))
"""(pitch shift in semitones, formant warp) of the pseudo voices made from the base voice."""


def pseudo_voice_targets(path: Path, voices: tuple[tuple[float, float], ...] = PSEUDO_VOICES) -> Path:
    """Mel and pitch targets of the cached utterances re-voiced by the DSP stage (higher pitch, shorter tract).

    Same length as the originals, so they align with every content version of ``features``: the
    decoder learns to render pitch it is given over a wider range than the base voice's own.
    Returns a .npz with ``mel`` [V, N, 80] and ``pitch`` [V, N, 2] (float16).
    """
    from edge_vc.features.hifigan_mel import hifigan_log_mel
    from edge_vc.features.pitch import f0_track, pitch_frames
    from edge_vc.stages.dsp import DSPParams, DSPStage

    tag = "_".join(f"{st:g}-{w:g}" for st, w in voices)
    out = path.with_name(path.stem + f"_pseudo_{tag}.npz")
    if out.is_file():
        return out
    rate, pieces, _ = utterances(path)
    track = np.concatenate([f0_track(p, rate) for p in pieces[:40]])
    base_f0 = float(np.median(track[track > 0]))
    mels, pitches = [], []
    start = time.time()
    for st, warp in voices:
        params = DSPParams(pitch_shift_semitones=st, formant_warp=warp, sample_rate=rate, stats={"base_f0_hz": base_f0})
        stage = DSPStage(params, rate, apply_eq=False)
        vm, vp = [], []
        for audio in pieces:
            n = hifigan_log_mel(audio, rate).shape[0]
            shaped = np.clip(stage.shape_voice(audio), -1, 1).astype(np.float32)
            vm.append(hifigan_log_mel(shaped, rate)[:n].astype(np.float16))
            vp.append(pitch_frames(f0_track(shaped, rate), n).astype(np.float16))
        mels.append(np.concatenate(vm))
        pitches.append(np.concatenate(vp))
        print(f"pseudo voice {st:+g} st, warp {warp:g}: {time.time() - start:.0f} s", flush=True)
    with atomic_path(out) as tmp:
        np.savez(tmp, mel=np.stack(mels), pitch=np.stack(pitches))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-features", action="store_true")
    parser.add_argument("--shifts", default="1", help="comma-separated voice shifts of the content versions")
    parser.add_argument("--pitch", action="store_true", help="also store the pitch input")
    args = parser.parse_args()
    path = synthesize(args.minutes, args.seed, args.threads)
    print(path)
    if not args.no_features:
        shifts = tuple(float(k) for k in args.shifts.split(","))
        print(features(path, threads=args.threads, shifts=shifts, pitch=args.pitch))


if __name__ == "__main__":
    main()
