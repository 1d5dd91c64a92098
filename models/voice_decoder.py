"""The learned stage's decoder: content features → 80-band HiFi-GAN log-mel, with per-speaker FiLM.

    1×1 conv in (dropout on the input) → residual blocks [conv k5 (dilated) → FiLM → GELU → 1×1 conv]
    → 1×1 conv out (+ the speaker's mean mel)

Speaker 0 is the base voice (pretraining), speaker 1 the adapted speaker. Content standardisation
(base-voice mean/std) is a buffer, so the exported ONNX takes raw encoder features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from edge_vc.configs import from_mapping


@dataclass
class DecoderConfig:
    """Shape of the decoder."""

    content_dim: int = 384
    """Width of the content features (whisper tiny.en: 384)."""

    n_mels: int = 80
    """Output mel bands."""

    channels: int = 256
    """Hidden width."""

    kernel: int = 5
    """Kernel of each block's first conv."""

    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
    """One residual block per entry."""

    n_speakers: int = 2
    """FiLM rows: 0 = base voice, 1 = adapted speaker."""

    dropout: float = 0.2
    """Dropout on the (standardised) input features while training."""

    pitch_dim: int = 0
    """Width of the pitch input (``edge_vc.features.pitch``: log-F0, voicing); 0 = no pitch input."""

    @staticmethod
    def from_dict(data: dict[str, Any]) -> DecoderConfig:
        return from_mapping(DecoderConfig, data, what="decoder config")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dilations"] = list(self.dilations)
        return data

    def validate(self) -> None:
        if min(self.content_dim, self.n_mels, self.channels, self.kernel, self.n_speakers) <= 0:
            raise ValueError("decoder sizes must be > 0")
        if not self.dilations or min(self.dilations) <= 0:
            raise ValueError("dilations must be a non-empty list of positive ints")
        if self.pitch_dim < 0:
            raise ValueError("pitch_dim must be >= 0")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")


class Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        h = self.conv(x) * (1.0 + scale[..., None]) + shift[..., None]
        return x + self.proj(F.gelu(h))


class VoiceDecoder(nn.Module):
    """forward(content [B, T, D], speaker [B], pitch [B, T, P] if pitch_dim) → log-mel [B, n_mels, T]."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.register_buffer("content_mean", torch.zeros(config.content_dim))
        self.register_buffer("content_std", torch.ones(config.content_dim))
        self.inp = nn.Conv1d(config.content_dim, c, 1)
        self.pitch_inp = nn.Conv1d(config.pitch_dim, c, 1) if config.pitch_dim else None
        self.blocks = nn.ModuleList(Block(c, config.kernel, d) for d in config.dilations)
        self.film = nn.Embedding(config.n_speakers, 2 * c * len(config.dilations))
        nn.init.zeros_(self.film.weight)
        self.mel_bias = nn.Embedding(config.n_speakers, config.n_mels)
        nn.init.zeros_(self.mel_bias.weight)
        self.out = nn.Conv1d(c, config.n_mels, 1)

    def set_content_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.content_mean.copy_(mean)
        self.content_std.copy_(std.clamp_min(1e-3))

    def forward(self, content: torch.Tensor, speaker: torch.Tensor, pitch: torch.Tensor | None = None) -> torch.Tensor:
        x = ((content - self.content_mean) / self.content_std).transpose(1, 2)
        x = F.dropout(x, self.config.dropout, self.training)
        x = self.inp(x)
        if self.pitch_inp is not None:
            if pitch is None:
                raise ValueError("this decoder needs a pitch input")
            x = x + self.pitch_inp(pitch.transpose(1, 2))
        film = self.film(speaker).view(speaker.shape[0], len(self.blocks), 2, -1)
        for i, block in enumerate(self.blocks):
            x = block(x, film[:, i, 0], film[:, i, 1])
        return self.out(x) + self.mel_bias(speaker)[..., None]


class SpeakerDecoder(nn.Module):
    """The decoder fixed to one speaker: forward(content [1, T, D][, pitch [1, T, P]]) → log-mel [1, n_mels, T]."""

    def __init__(self, decoder: VoiceDecoder, speaker: int = 1) -> None:
        super().__init__()
        self.decoder = decoder
        self.register_buffer("speaker", torch.tensor([speaker], dtype=torch.long))

    def forward(self, content: torch.Tensor, pitch: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(content, self.speaker.expand(content.shape[0]), pitch)
