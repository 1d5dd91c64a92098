"""A small mel critic for adaptation: the speaker row's output on base-voice content against the enrollment.

Least-squares GAN on log-mel crops. The critic (four 1-D convolutions over time, dilations up to 4,
31 frames of context, the 80 bands as channels, 67 k parameters) sees real crops of the enrollment's
mel and the speaker row's mel for replay content (the pairing used at synthesis, which the L1 loss
never trains); the decoder is pushed to make the latter indistinguishable. The critic is trained
alongside and thrown away. Measured: docs/learned-stage.md.
"""

from __future__ import annotations

import numpy as np
import torch
from edge_vc.train.loop import Corpus, sample
from torch import nn


class MelCritic(nn.Module):
    """forward(mel [n, 80, T], content [n, T, D] if content_dim) → a realness score per frame [n, 1, T].

    It judges 31 frames of context around each frame; ``frames=1``: each frame's spectrum alone.

    With ``content_dim`` the critic also sees the content features the mel should say (each crop's
    features standardised per channel, so that a recording's constant offsets do not give it away)."""

    def __init__(
        self, n_mels: int = 80, channels: int = 64, content_dim: int = 0, content_channels: int = 32, frames: int = 0
    ) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.2)
        self.content = nn.Conv1d(content_dim, content_channels, 1) if content_dim else None
        width = n_mels + (content_channels if content_dim else 0)
        k, last = (5, 3) if frames != 1 else (1, 1)  # frames=1: each frame's spectrum alone, no context
        self.net = nn.Sequential(
            nn.Conv1d(width, channels, k, padding=k // 2), act,
            nn.Conv1d(channels, channels, k, padding=2 * (k // 2), dilation=2), act,
            nn.Conv1d(channels, channels, k, padding=4 * (k // 2), dilation=4), act,
            nn.Conv1d(channels, 1, last, padding=last // 2),
        )  # fmt: skip

    def forward(self, mel: torch.Tensor, content: torch.Tensor | None = None) -> torch.Tensor:
        if self.content is None or content is None:
            return self.net(mel)
        c = content.transpose(1, 2)
        c = (c - c.mean(2, keepdim=True)) / (c.std(2, keepdim=True) + 1e-3)
        return self.net(torch.cat([mel, self.content(c)], 1))


class AdversarialTarget:
    """The critic, its optimiser and the enrollment crops it sees as real."""

    def __init__(
        self,
        speaker: Corpus,
        weight: float,
        lr: float = 2e-4,
        seed: int = 0,
        sees_content: bool = False,
        frames: int = 0,
    ) -> None:
        self.speaker, self.weight, self.sees_content = speaker, weight, sees_content
        with torch.random.fork_rng():  # the critic's start, without moving the decoder's dropout stream
            torch.manual_seed(seed)
            dim = int(speaker.content.shape[-1]) if sees_content else 0
            self.critic = MelCritic(int(speaker.mel.shape[1]), content_dim=dim, frames=frames)
        self.opt = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=(0.5, 0.9))

    def loss(self, out: torch.Tensor, rng: np.random.Generator, content: torch.Tensor | None = None) -> torch.Tensor:
        """One critic step on (enrollment crops, ``out`` detached), then the decoder's weighted LSGAN loss;
        ``content``: what ``out`` says, shown to a critic that sees content (with each real crop's own)."""
        real_content, real, _, _ = sample(self.speaker, out.shape[0], out.shape[2], rng)
        if not self.sees_content:
            real_content = content = None
        self.opt.zero_grad(set_to_none=True)
        fake = self.critic(out.detach(), content)
        critic_loss = ((self.critic(real, real_content) - 1) ** 2).mean() + (fake**2).mean()
        critic_loss.backward()
        self.opt.step()
        self.critic.zero_grad(set_to_none=True)
        return self.weight * ((self.critic(out, content) - 1) ** 2).mean()
