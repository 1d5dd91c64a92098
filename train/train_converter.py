"""Train a tone-colour converter (OpenVoice layout) on multi-speaker audio without transcripts.

Recipe (see train/converter.md): the posterior encoder turns a linear spectrogram into z; the flow,
conditioned on the reference encoder's tone colour g (taken from ANOTHER clip of the same speaker, so
g cannot carry the content), maps z to z_p; the decoder rebuilds the waveform from z. Losses:
* reconstruction: L1 on log-mel of decoder output vs. input segment (×45, as VITS) + multi-resolution
  STFT magnitude loss (stands in for the HiFi-GAN discriminators; add them for final quality);
* speaker removal: KL of the posterior after the flow to a prior N(0, I), plus a conversion cycle:
  decode a segment as another speaker B, re-encode it, and its z_p (with g_B) must equal the
  original z_p, while the reference encoder must hear B in it — neither needs transcripts.
The checkpoint is written as OpenVoice does ({"model": state_dict} with legacy weight norm) plus its
``config.json``, so ``edge-vc export converter`` takes it directly. A manifest sits beside it.

    python -m edge_vc.train.train_converter --data DIR --out runs/converter --steps 200000 [--tiny]

DIR holds one sub-folder of audio files per speaker (wav/flac; any rate, resampled).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from edge_vc.models.converter import ConverterConfig, ToneColorConverter, linear_spectrogram
from edge_vc.models.vits_modules import apply_legacy_weight_norm
from torch.nn import functional as F

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def load_speakers(folder: Path, rate: int, min_seconds: float = 1.0) -> dict[str, list[np.ndarray]]:
    """{speaker: [clips]} from ``folder/<speaker>/*.wav`` (at least two clips per speaker)."""
    from edge_vc.audio.io import read_audio

    speakers: dict[str, list[np.ndarray]] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        clips = [read_audio(f, rate)[0] for f in sorted(sub.iterdir()) if f.suffix.lower() in AUDIO_SUFFIXES]
        clips = [c for c in clips if c.size >= min_seconds * rate]
        if len(clips) >= 2:
            speakers[sub.name] = clips
    if len(speakers) < 2:
        raise SystemExit(f"{folder}: need at least 2 speakers with 2+ clips of >= {min_seconds} s each")
    return speakers


def _segment(clip: np.ndarray, samples: int, rng: random.Random) -> np.ndarray:
    if clip.size <= samples:
        return np.pad(clip, (0, samples - clip.size))
    start = rng.randrange(0, clip.size - samples)
    return clip[start : start + samples]


class MelLoss:
    """Log-mel L1 and multi-resolution STFT magnitude loss (torch, mel weights from edge_vc.features.mel)."""

    def __init__(self, config: ConverterConfig, device: torch.device) -> None:
        from edge_vc.features.mel import MelConfig, mel_filterbank

        mel = MelConfig(sample_rate=config.sampling_rate, n_fft=config.filter_length, n_mels=80, fmax=8000)
        self.fb = torch.from_numpy(mel_filterbank(mel)).to(device)
        self.config = config
        self.resolutions = [(512, 128), (1024, 256), (2048, 512)]

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        spec = linear_spectrogram(audio, self.config)
        return torch.log(torch.clamp(self.fb @ spec, min=1e-5))

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = 45.0 * F.l1_loss(self.log_mel(pred), self.log_mel(target))
        for n_fft, hop in self.resolutions:
            window = torch.hann_window(n_fft, device=pred.device)
            p = torch.stft(pred, n_fft, hop, window=window, return_complex=True).abs()
            t = torch.stft(target, n_fft, hop, window=window, return_complex=True).abs()
            loss = loss + torch.norm(t - p) / torch.norm(t).clamp_min(1e-5)
            loss = loss + F.l1_loss(torch.log(p + 1e-5), torch.log(t + 1e-5))
        return loss


def train_step(model, batch, g_batch, g_other, mel_loss, segment_frames: int) -> dict[str, torch.Tensor]:
    """One step on audio [b, samples]; g from other clips of the same speakers, g_other from other speakers."""
    config = model.config
    hop = config.hop_length
    spec = linear_spectrogram(batch, config)
    lengths = torch.full((spec.size(0),), spec.size(2), dtype=torch.long, device=spec.device)
    g = model.extract_se(g_batch)
    g_x = model.extract_se(g_other)
    zero = torch.zeros_like(g)
    z, m_q, logs_q, mask = model.enc_q(spec, lengths, g=zero if config.zero_g else g)
    z_p = model.flow(z, mask, g=g)
    # VITS' sampled KL to a prior N(0, I) on z_p (the mean-only couplings have log-det 0)
    kl = torch.sum((-logs_q - 0.5 + 0.5 * z_p**2) * mask) / mask.sum()
    # random decoder segment, as VITS trains HiFi-GAN
    start = random.randrange(0, max(1, spec.size(2) - segment_frames))
    z_seg = z[:, :, start : start + segment_frames]
    audio_seg = batch[:, start * hop : (start + segment_frames) * hop]
    pred = model.dec(z_seg, g=zero if config.zero_g else g).squeeze(1)
    recon = mel_loss(pred, audio_seg[:, : pred.size(1)])
    # conversion cycle through audio: decode the segment as speaker B, re-encode it, and the
    # tone-colour-free z_p must come back; the reference encoder must hear speaker B in it
    z_b = model.flow(
        z_p[:, :, start : start + segment_frames], mask[:, :, start : start + segment_frames], g=g_x, reverse=True
    )
    audio_b = model.dec(z_b, g=zero if config.zero_g else g_x).squeeze(1)
    spec_b = linear_spectrogram(audio_b, config)
    len_b = torch.full((spec_b.size(0),), spec_b.size(2), dtype=torch.long, device=spec_b.device)
    _, m_b, _, mask_b = model.enc_q(spec_b, len_b, g=zero if config.zero_g else g_x, tau=0.0)
    z_p_back = model.flow(m_b, mask_b, g=g_x)
    n = min(z_p_back.size(2), segment_frames)
    cycle = F.l1_loss(z_p_back[:, :, :n], z_p[:, :, start : start + n].detach())
    cycle = cycle + (1.0 - F.cosine_similarity(model.extract_se(spec_b).flatten(1), g_x.detach().flatten(1)).mean())
    return {"loss": recon + kl + cycle, "recon": recon, "kl": kl, "cycle": cycle}


def save_checkpoint(model: ToneColorConverter, out: Path, step: int, extra: dict) -> Path:
    """OpenVoice-format checkpoint (legacy weight-norm names) + config.json + manifest.json."""
    import copy

    out.mkdir(parents=True, exist_ok=True)
    export = copy.deepcopy(model).cpu()
    apply_legacy_weight_norm(export.weight_norm_modules())
    path = out / "checkpoint.pth"
    torch.save({"model": export.state_dict(), "iteration": step}, path)
    c = model.config.to_dict()
    data_keys = ("sampling_rate", "filter_length", "hop_length", "win_length")
    config = {
        "_version_": "v2",
        "data": {**{k: c[k] for k in data_keys}, "n_speakers": 0},
        "model": {k: v for k, v in c.items() if k not in data_keys},
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "manifest.json").write_text(json.dumps({"step": step, **extra}, indent=2))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=2.0, help="training segment length")
    parser.add_argument("--segment-frames", type=int, default=32, help="decoder segment (frames)")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--save-every", type=int, default=5000)
    parser.add_argument("--tiny", action="store_true", help="small network (smoke tests)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    config = ConverterConfig.tiny() if args.tiny else ConverterConfig()
    speakers = load_speakers(args.data, config.sampling_rate)
    names = list(speakers)
    model = ToneColorConverter(config).to(device).train()
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.8, 0.99), weight_decay=0.01)
    sched = torch.optim.lr_scheduler.ExponentialLR(optim, gamma=0.999875)
    mel_loss = MelLoss(config, device)
    samples = int(args.seconds * config.sampling_rate) // config.hop_length * config.hop_length
    started, last = time.time(), {}
    for step in range(1, args.steps + 1):
        batch, refs, others = [], [], []
        for _ in range(args.batch):
            a, b = rng.sample(names, 2)
            clip, ref = rng.sample(speakers[a], 2)
            batch.append(_segment(clip, samples, rng))
            refs.append(_segment(ref, samples, rng))
            others.append(_segment(rng.choice(speakers[b]), samples, rng))

        def to(x):
            return torch.from_numpy(np.stack(x)).float().to(device)

        audio = to(batch)
        spec_ref = linear_spectrogram(to(refs), config)
        spec_other = linear_spectrogram(to(others), config)
        losses = train_step(model, audio, spec_ref, spec_other, mel_loss, args.segment_frames)
        optim.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 100.0)
        optim.step()
        sched.step()
        last = {k: float(v.detach()) for k, v in losses.items()}
        if step % 100 == 0 or step == args.steps:
            print(f"step {step}: " + " ".join(f"{k} {v:.3f}" for k, v in last.items()), flush=True)
        if step % args.save_every == 0 or step == args.steps:
            save_checkpoint(
                model,
                args.out,
                step,
                {
                    "speakers": len(names),
                    "device": str(device),
                    "seconds": round(time.time() - started, 1),
                    "losses": last,
                    "args": {k: str(v) for k, v in vars(args).items()},
                },
            )
    print(f"wrote {args.out / 'checkpoint.pth'} and config.json (export: edge-vc export converter)")


if __name__ == "__main__":
    main()
