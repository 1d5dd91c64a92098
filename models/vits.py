"""A multi-speaker VITS (text -> waveform) in torch, and its export to Piper's ONNX voice format.

Structure after Kim et al. 2021 (VITS) as used by Piper: a transformer text encoder gives prior
means/log-stds per phoneme, a duration predictor decides frames per phoneme, a normalizing flow maps
prior samples to the posterior space, and a HiFi-GAN decoder makes audio. A speaker table ``emb_g``
gives ``g`` which conditions the duration predictor, the flow and the decoder — the speaker space that
``edge_vc.speaker.atlas`` searches. Sizes are configurable; ``VitsConfig.tiny()`` is for tests.

The duration predictor is the stochastic one by default (``use_sdp``, as Piper; inference direction
only, ``models/vits_sdp.py``) or the deterministic one. Not implemented: relative-position attention
(plain masked attention here) and the training losses.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from edge_vc.models.vits_modules import (
    Generator,
    LayerNorm,
    PosteriorEncoder,
    ResidualCouplingBlock,
    generate_path,
    sequence_mask,
)
from edge_vc.models.vits_sdp import StochasticDurationPredictor
from torch import nn

from edge_vc.configs import from_mapping


@dataclass
class VitsConfig:
    """Sizes of a multi-speaker VITS."""

    n_vocab: int = 256
    """Phoneme id table size (Piper uses 256)."""

    spec_channels: int = 513
    """Linear spectrogram bins of the posterior encoder (n_fft // 2 + 1)."""

    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    resblock: str = "2"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 5, 7])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 2], [2, 6], [3, 12]])
    upsample_rates: list[int] = field(default_factory=lambda: [8, 8, 4])
    upsample_initial_channel: int = 256
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 8])
    n_speakers: int = 4
    """Rows of the speaker table ``emb_g``; 1 means a single-speaker voice (no table, no ``sid``)."""

    gin_channels: int = 512
    """Width of the speaker vector ``g``."""

    sample_rate: int = 22050
    use_sdp: bool = True
    """Stochastic duration predictor (Piper's default); False: the deterministic one."""

    @staticmethod
    def tiny(n_speakers: int = 4) -> VitsConfig:
        """A small network for tests (seconds to build and export)."""
        return VitsConfig(
            inter_channels=32,
            hidden_channels=32,
            filter_channels=64,
            n_layers=2,
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3]],
            upsample_initial_channel=64,
            n_speakers=n_speakers,
            gin_channels=64,
        )

    @property
    def hop_length(self) -> int:
        return int(math.prod(self.upsample_rates))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> VitsConfig:
        return from_mapping(VitsConfig, data, what="VITS config", unknown="ignore")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if self.n_speakers < 1:
            raise ValueError(f"n_speakers must be >= 1, got {self.n_speakers}")
        if self.hidden_channels % self.n_heads:
            raise ValueError("hidden_channels must be divisible by n_heads")
        if self.inter_channels % 2:
            raise ValueError("inter_channels must be even (coupling layers split it in half)")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")


class MultiHeadAttention(nn.Module):
    """Masked self-attention with 1x1-conv projections (``conv_q``/``conv_k``/``conv_v``/``conv_o``)."""

    def __init__(self, channels: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, d, t = x.shape
        q = self.conv_q(x).view(b, self.n_heads, self.k_channels, t).transpose(2, 3)
        k = self.conv_k(x).view(b, self.n_heads, self.k_channels, t).transpose(2, 3)
        v = self.conv_v(x).view(b, self.n_heads, self.k_channels, t).transpose(2, 3)
        scores = torch.matmul(q / math.sqrt(self.k_channels), k.transpose(-2, -1))
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.conv_o(out.transpose(2, 3).contiguous().view(b, d, t))


class FFN(nn.Module):
    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(x * x_mask))
        return self.conv_2(x * x_mask) * x_mask


class Encoder(nn.Module):
    """Post-norm transformer stack over phonemes."""

    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        c = config
        self.attn_layers = nn.ModuleList(MultiHeadAttention(c.hidden_channels, c.n_heads) for _ in range(c.n_layers))
        self.norm_layers_1 = nn.ModuleList(LayerNorm(c.hidden_channels) for _ in range(c.n_layers))
        self.ffn_layers = nn.ModuleList(
            FFN(c.hidden_channels, c.filter_channels, c.kernel_size) for _ in range(c.n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(LayerNorm(c.hidden_channels) for _ in range(c.n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for attn, norm1, ffn, norm2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm1(x + attn(x, attn_mask))
            x = norm2(x + ffn(x, x_mask))
        return x * x_mask


class TextEncoder(nn.Module):
    """Phoneme ids -> hidden states and the prior's mean/log-std per phoneme."""

    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        self.hidden_channels = config.hidden_channels
        self.out_channels = config.inter_channels
        self.emb = nn.Embedding(config.n_vocab, config.hidden_channels)
        nn.init.normal_(self.emb.weight, 0.0, config.hidden_channels**-0.5)
        self.encoder = Encoder(config)
        self.proj = nn.Conv1d(config.hidden_channels, config.inter_channels * 2, 1)

    def forward(self, x: torch.Tensor, x_lengths: torch.Tensor):
        x = (self.emb(x) * math.sqrt(self.hidden_channels)).transpose(1, -1)
        x_mask = sequence_mask(x_lengths, x.size(2)).unsqueeze(1).to(x.dtype)
        x = self.encoder(x, x_mask)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return x, m, logs, x_mask


class DurationPredictor(nn.Module):
    """Log-duration per phoneme from the text states, shifted by the speaker (``cond``)."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int, gin_channels: int = 0) -> None:
        super().__init__()
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm_1 = LayerNorm(filter_channels)
        self.conv_2 = nn.Conv1d(filter_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm_2 = LayerNorm(filter_channels)
        self.proj = nn.Conv1d(filter_channels, 1, 1)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, in_channels, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        x = x.detach()
        if g is not None:
            x = x + self.cond(g.detach())
        x = self.norm_1(torch.relu(self.conv_1(x * x_mask)))
        x = self.norm_2(torch.relu(self.conv_2(x * x_mask)))
        return self.proj(x * x_mask) * x_mask


class SynthesizerTrn(nn.Module):
    """Multi-speaker VITS with Piper's inference interface."""

    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        config.validate()
        c = config
        self.config = config
        gin = c.gin_channels if c.n_speakers > 1 else 0
        self.enc_p = TextEncoder(c)
        self.dec = Generator(
            c.inter_channels,
            c.resblock,
            c.resblock_kernel_sizes,
            c.resblock_dilation_sizes,
            c.upsample_rates,
            c.upsample_initial_channel,
            c.upsample_kernel_sizes,
            gin_channels=gin,
        )
        self.enc_q = PosteriorEncoder(c.spec_channels, c.inter_channels, c.hidden_channels, 5, 1, 16, gin_channels=gin)
        self.flow = ResidualCouplingBlock(c.inter_channels, c.hidden_channels, 5, 1, 4, gin_channels=gin)
        if c.use_sdp:
            self.dp = StochasticDurationPredictor(c.hidden_channels, 3, 4, gin_channels=gin)
        else:
            self.dp = DurationPredictor(c.hidden_channels, 256, 3, gin_channels=gin)
        if c.n_speakers > 1:
            self.emb_g = nn.Embedding(c.n_speakers, c.gin_channels)

    def speaker_vector(self, sid: torch.Tensor | None) -> torch.Tensor | None:
        """``g`` [b, gin, 1] for speaker ids (None for a single-speaker model)."""
        if self.config.n_speakers <= 1:
            return None
        return self.emb_g(sid).unsqueeze(-1)

    def infer_with_g(
        self,
        x: torch.Tensor,
        x_lengths: torch.Tensor,
        g: torch.Tensor | None,
        noise_scale: torch.Tensor | float = 0.667,
        length_scale: torch.Tensor | float = 1.0,
        noise_w: torch.Tensor | float = 0.8,
    ) -> torch.Tensor:
        """Audio [b, 1, samples] for phoneme ids with an explicit speaker vector ``g``."""
        x, m_p, logs_p, x_mask = self.enc_p(x, x_lengths)
        if self.config.use_sdp:
            logw = self.dp(x, x_mask, g=g, noise_scale=noise_w)
        else:
            logw = self.dp(x, x_mask, g=g)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)
        y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
        y_mask = sequence_mask(y_lengths, None).unsqueeze(1).to(x_mask.dtype)
        attn = generate_path(w_ceil, x_mask.unsqueeze(2) * y_mask.unsqueeze(-1)).squeeze(1)
        m_p = torch.matmul(attn, m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(attn, logs_p.transpose(1, 2)).transpose(1, 2)
        z_p = m_p + torch.randn_like(m_p) * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, y_mask, g=g, reverse=True)
        return self.dec(z * y_mask, g=g)

    def forward(
        self, x: torch.Tensor, x_lengths: torch.Tensor, scales: torch.Tensor, sid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Piper's ONNX interface: scales = [noise_scale, length_scale, noise_w]; audio [b, 1, 1, samples]."""
        g = self.speaker_vector(sid)
        audio = self.infer_with_g(x, x_lengths, g, noise_scale=scales[0], length_scale=scales[1], noise_w=scales[2])
        return audio.unsqueeze(1)


def piper_voice_config(config: VitsConfig, dataset: str, speaker_names: list[str] | None = None) -> dict[str, Any]:
    """The ``.onnx.json`` sidecar Piper writes, with piper-phonemize's default espeak phoneme map."""
    from piper_phonemize import get_espeak_map

    phoneme_id_map = {str(k): [int(i) for i in v] for k, v in get_espeak_map().items()}
    names = speaker_names or [f"speaker_{i}" for i in range(config.n_speakers)]
    return {
        "audio": {"sample_rate": config.sample_rate, "quality": "test"},
        "espeak": {"voice": "en-us"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": phoneme_id_map,
        "num_symbols": config.n_vocab,
        "num_speakers": config.n_speakers,
        "speaker_id_map": {name: i for i, name in enumerate(names)} if config.n_speakers > 1 else {},
        "language": {"code": "en_US"},
        "dataset": dataset,
    }


def export_piper_onnx(
    model: SynthesizerTrn,
    onnx_path: str | Path,
    dataset: str | None = None,
    speaker_names: list[str] | None = None,
    opset: int = 15,
) -> tuple[Path, Path]:
    """Write ``NAME.onnx`` + ``NAME.onnx.json`` in Piper's layout (inputs input, input_lengths, scales[, sid])."""
    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    n_speakers = model.config.n_speakers
    ids = torch.randint(1, model.config.n_vocab, (1, 30), dtype=torch.long)
    args: tuple = (ids, torch.LongTensor([30]), torch.FloatTensor([0.667, 1.0, 0.8]))
    names = ["input", "input_lengths", "scales"]
    if n_speakers > 1:
        args = (*args, torch.LongTensor([0]))
        names.append("sid")
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            str(onnx_path),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=["output"],
            dynamic_axes={
                "input": {0: "batch_size", 1: "phonemes"},
                "input_lengths": {0: "batch_size"},
                "output": {0: "batch_size", 3: "time"},
            },
        )
    name = dataset or onnx_path.name.removesuffix(".onnx")
    config_path = onnx_path.with_name(onnx_path.name + ".json")
    config_path.write_text(json.dumps(piper_voice_config(model.config, name, speaker_names), indent=2), "utf-8")
    return onnx_path, config_path


def random_speaker_table(model: SynthesizerTrn, scale: float, seed: int = 0) -> None:
    """Fill ``emb_g`` with N(0, scale²) rows (test fixtures: speakers far apart in ``g``)."""
    if model.config.n_speakers <= 1:
        return
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.emb_g.weight.copy_(torch.randn(model.emb_g.weight.shape, generator=gen) * scale)


def set_mean_duration(model: SynthesizerTrn, frames: float) -> None:
    """Bias the duration predictor so an untrained model gives about ``frames`` frames per phoneme."""
    with torch.no_grad():
        if isinstance(model.dp, StochasticDurationPredictor):
            model.dp.flows[0].m[0].fill_(-math.log(frames))  # reversed affine: logw = -m with near-identity flows
            for flow in model.dp.flows:
                if hasattr(flow, "proj"):
                    flow.proj.weight.normal_(0.0, 0.05)  # untrained splines, mildly non-identity
        else:
            model.dp.proj.weight.mul_(0.1)
            model.dp.proj.bias.fill_(math.log(frames))


__all__ = [
    "VitsConfig",
    "SynthesizerTrn",
    "export_piper_onnx",
    "piper_voice_config",
    "random_speaker_table",
    "set_mean_duration",
]
