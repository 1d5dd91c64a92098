"""Training loop shared by pretraining and adaptation: random crops, L1 on log-mel, checkpoints.

A ``Corpus`` is one long stream of (content, mel) frames; batches are random crops of it. Training
is resumable: ``train`` saves model + optimiser + step to a checkpoint every ``save_every`` steps
(atomically) and on a time budget, and picks up from it when called again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from edge_vc.models.voice_decoder import VoiceDecoder

from edge_vc.fileio import atomic_path


@dataclass
class Corpus:
    """Aligned frames: content [N, D] (or [V, N, D]: V perturbed versions), log-mel [N, 80], pitch [N, 2]."""

    content: np.ndarray
    mel: np.ndarray
    speaker: int = 0
    pitch: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return int(self.mel.shape[0])

    @staticmethod
    def load(path: str | Path, speaker: int = 0) -> Corpus:
        data = np.load(path)
        pitch = data["pitch"] if "pitch" in data.files else None
        return Corpus(data["content"], data["mel"], speaker, pitch)

    @staticmethod
    def from_audio(
        audio: np.ndarray, rate: int, encoder, speaker: int = 1, pitch: bool = False, shifts: tuple[float, ...] = (1.0,)
    ) -> Corpus:
        """Content features (one version per voice shift), HiFi-GAN log-mel and pitch of one recording."""
        from edge_vc.features.content import shifted_content
        from edge_vc.features.hifigan_mel import hifigan_log_mel
        from edge_vc.features.pitch import pitch_features

        mel = hifigan_log_mel(audio, rate)
        content = np.stack([shifted_content(encoder, audio, rate, mel.shape[0], k) for k in shifts])
        return Corpus(
            content[0] if len(shifts) == 1 else content, mel, speaker,
            pitch_features(audio, rate, mel.shape[0]) if pitch else None,
        )  # fmt: skip


def sample(corpus: Corpus, n: int, frames: int, rng: np.random.Generator):
    """``n`` random crops: content [n, frames, D], mel [n, 80, frames], speaker [n], pitch [n, frames, 2] or None.

    A corpus with content versions gives each crop the content of a random version.
    """
    frames = min(frames, corpus.frames)
    starts = rng.integers(0, corpus.frames - frames + 1, size=n)
    if corpus.content.ndim == 3:
        versions = rng.integers(0, corpus.content.shape[0], size=n)
        content = np.stack([corpus.content[v, s : s + frames] for v, s in zip(versions, starts, strict=True)])
    else:
        content = np.stack([corpus.content[s : s + frames] for s in starts])
    mel = np.stack([corpus.mel[s : s + frames].T for s in starts]).astype(np.float32)
    pitch = None
    if corpus.pitch is not None:
        pitch = torch.from_numpy(np.stack([corpus.pitch[s : s + frames] for s in starts]).astype(np.float32))
    speaker = torch.full((n,), corpus.speaker, dtype=torch.long)
    return torch.from_numpy(content.astype(np.float32)), torch.from_numpy(mel), speaker, pitch


@dataclass
class Schedule:
    steps: int = 1000
    lr: float = 1e-3
    final_lr_ratio: float = 0.1
    warmup: int = 50
    batch: int = 8
    frames: int = 200
    weight_decay: float = 0.01

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        t = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.lr * (self.final_lr_ratio + (1 - self.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _save(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train(
    model: VoiceDecoder,
    sources: list[tuple[Corpus, float]],
    schedule: Schedule,
    checkpoint: Path | None = None,
    params: list[torch.nn.Parameter] | None = None,
    seconds: float | None = None,
    save_every: int = 100,
    seed: int = 0,
    progress: Callable[[int, int, float], None] | None = None,
    lr_scales: dict[str, float] | None = None,
    extra_loss: Callable[[np.random.Generator], torch.Tensor] | None = None,
) -> dict:
    """Train until ``schedule.steps`` (resuming from ``checkpoint``) or ``seconds`` run out.

    ``sources`` are (corpus, share of each batch); ``lr_scales`` maps parameter-name prefixes to
    learning-rate multipliers; ``extra_loss(rng)`` is added to each step's L1 (adaptation's losses on
    the speaker row, ``edge_vc.train.adapt.speaker_row_loss``). Returns {"step", "done", "loss", "seconds"}.
    """
    params = params if params is not None else list(model.parameters())
    scales = lr_scales or {}
    groups: dict[float, list] = {}
    by_id = {id(p): n for n, p in model.named_parameters()}
    for p in params:
        name = by_id.get(id(p), "")
        scale = next((v for k, v in scales.items() if name.startswith(k)), 1.0)
        groups.setdefault(scale, []).append(p)
    param_groups = [{"params": ps, "lr_scale": sc} for sc, ps in groups.items()]
    opt = torch.optim.AdamW(param_groups, lr=schedule.lr, weight_decay=schedule.weight_decay)
    step = 0
    rng = np.random.default_rng(seed)
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
        rng = np.random.default_rng([seed, step])
    counts = [max(1, round(schedule.batch * share)) for _, share in sources]
    model.train()
    start = time.monotonic()
    losses: list[float] = []

    def save() -> None:
        if checkpoint is not None:
            _save(checkpoint, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step})

    try:
        while step < schedule.steps:
            if seconds is not None and time.monotonic() - start > seconds:
                break
            batches = [sample(c, n, schedule.frames, rng) for (c, _), n in zip(sources, counts, strict=True)]
            frames = min(b[0].shape[1] for b in batches)
            content = torch.cat([b[0][:, :frames] for b in batches])
            mel = torch.cat([b[1][:, :, :frames] for b in batches])
            speaker = torch.cat([b[2] for b in batches])
            pitch = torch.cat([b[3][:, :frames] for b in batches]) if batches[0][3] is not None else None
            for group in opt.param_groups:
                group["lr"] = schedule.lr_at(step) * group.get("lr_scale", 1.0)
            loss = (model(content, speaker, pitch) - mel).abs().mean()
            total = loss + extra_loss(rng) if extra_loss is not None else loss
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            losses.append(loss.item())
            if progress is not None:
                progress(step, schedule.steps, float(np.mean(losses[-20:])))
            if step % save_every == 0:
                save()
    except KeyboardInterrupt:
        save()  # an interrupted run resumes from here
        raise
    save()
    model.eval()
    return {
        "step": step,
        "done": step >= schedule.steps,
        "loss": float(np.mean(losses[-50:])) if losses else None,
        "seconds": time.monotonic() - start,
    }
