"""VITS' stochastic duration predictor (inference direction) with its rational-quadratic spline flows.

Sampling path only (``reverse``): noise [b, 2, t] × noise_w flows backwards through spline coupling
layers conditioned on the text states (+ the speaker), and the first channel is log-duration. The
spline follows Durkan et al. 2019 (monotonic rational-quadratic, linear tails); it is written without
boolean indexing (clamp + where) so it exports to ONNX. Training (the variational forward pass) is
not implemented here.
"""

from __future__ import annotations

import math

import torch
from edge_vc.models.vits_modules import Flip, LayerNorm
from torch import nn
from torch.nn import functional as F

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3


class DDSConv(nn.Module):
    """Dilated depth-separable convolutions (``convs_sep``, ``convs_1x1``, ``norms_1``, ``norms_2``)."""

    def __init__(self, channels: int, kernel_size: int, n_layers: int) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.convs_sep = nn.ModuleList()
        self.convs_1x1 = nn.ModuleList()
        self.norms_1 = nn.ModuleList()
        self.norms_2 = nn.ModuleList()
        for i in range(n_layers):
            dilation = kernel_size**i
            padding = (kernel_size * dilation - dilation) // 2
            self.convs_sep.append(
                nn.Conv1d(channels, channels, kernel_size, groups=channels, dilation=dilation, padding=padding)
            )
            self.convs_1x1.append(nn.Conv1d(channels, channels, 1))
            self.norms_1.append(LayerNorm(channels))
            self.norms_2.append(LayerNorm(channels))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        if g is not None:
            x = x + g
        for i in range(self.n_layers):
            y = F.gelu(self.norms_1[i](self.convs_sep[i](x * x_mask)))
            y = F.gelu(self.norms_2[i](self.convs_1x1[i](y)))
            x = x + y
        return x * x_mask


def _bin_index(locations: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Index of the bin of each value (locations: [..., bins + 1] ascending)."""
    return (torch.sum((values.unsqueeze(-1) >= locations).to(torch.long), dim=-1) - 1).clamp(0, locations.size(-1) - 2)


def _knots(unnormalized: torch.Tensor, bound: float, minimum: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions [..., bins + 1], sizes [..., bins]) of spline knots spanning [-bound, bound]."""
    bins = unnormalized.size(-1)
    sizes = minimum + (1 - minimum * bins) * torch.softmax(unnormalized, dim=-1)
    cum = F.pad(torch.cumsum(sizes, dim=-1), (1, 0), value=0.0)
    cum = 2 * bound * cum - bound
    cum = torch.cat([torch.full_like(cum[..., :1], -bound), cum[..., 1:-1], torch.full_like(cum[..., :1], bound)], -1)
    return cum, cum[..., 1:] - cum[..., :-1]


def rational_quadratic_spline(
    inputs: torch.Tensor,
    unnormalized_widths: torch.Tensor,
    unnormalized_heights: torch.Tensor,
    unnormalized_derivatives: torch.Tensor,
    inverse: bool,
    tail_bound: float = 5.0,
) -> torch.Tensor:
    """Monotonic RQ spline on [-B, B], identity outside; ``unnormalized_derivatives`` has bins - 1 entries."""
    constant = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)
    derivs = F.pad(unnormalized_derivatives, (1, 1), value=constant)
    derivs = MIN_DERIVATIVE + F.softplus(derivs)
    cumwidths, widths = _knots(unnormalized_widths, tail_bound, MIN_BIN_WIDTH)
    cumheights, heights = _knots(unnormalized_heights, tail_bound, MIN_BIN_HEIGHT)
    inside = (inputs >= -tail_bound) & (inputs <= tail_bound)
    x = inputs.clamp(-tail_bound, tail_bound)
    idx = _bin_index(cumheights if inverse else cumwidths, x).unsqueeze(-1)

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.gather(-1, idx).squeeze(-1)

    x_k, w_k, y_k, h_k = pick(cumwidths[..., :-1]), pick(widths), pick(cumheights[..., :-1]), pick(heights)
    d_k, d_k1 = pick(derivs[..., :-1]), pick(derivs[..., 1:])
    s_k = h_k / w_k
    if inverse:
        dy = x - y_k
        a = dy * (d_k1 + d_k - 2 * s_k) + h_k * (s_k - d_k)
        b = h_k * d_k - dy * (d_k1 + d_k - 2 * s_k)
        c = -s_k * dy
        disc = torch.clamp(b.pow(2) - 4 * a * c, min=0.0)
        theta = (2 * c) / (-b - torch.sqrt(disc))
        out = theta * w_k + x_k
    else:
        theta = (x - x_k) / w_k
        t1 = theta * (1 - theta)
        out = y_k + h_k * (s_k * theta.pow(2) + d_k * t1) / (s_k + (d_k1 + d_k - 2 * s_k) * t1)
    return torch.where(inside, out, inputs)


class ElementwiseAffine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, reverse: bool = False, **kwargs) -> torch.Tensor:
        if reverse:
            return (x - self.m) * torch.exp(-self.logs) * x_mask
        return (self.m + torch.exp(self.logs) * x) * x_mask


class ConvFlow(nn.Module):
    """Spline coupling: the first half (with the condition) parameterises a spline on the second."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int, n_layers: int, num_bins: int = 10):
        super().__init__()
        self.filter_channels = filter_channels
        self.num_bins = num_bins
        self.half = in_channels // 2
        self.pre = nn.Conv1d(self.half, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, self.half * (num_bins * 3 - 1), 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half, self.half], 1)
        h = self.proj(self.convs(self.pre(x0), x_mask, g=g)) * x_mask
        b, c, t = x0.shape
        h = h.reshape(b, c, -1, t).permute(0, 1, 3, 2)
        scale = math.sqrt(self.filter_channels)
        widths = h[..., : self.num_bins] / scale
        heights = h[..., self.num_bins : 2 * self.num_bins] / scale
        derivs = h[..., 2 * self.num_bins :]
        x1 = rational_quadratic_spline(x1, widths, heights, derivs, inverse=reverse)
        return torch.cat([x0, x1], 1) * x_mask


class StochasticDurationPredictor(nn.Module):
    """Log-durations sampled by reversing spline flows conditioned on text states and speaker."""

    def __init__(self, in_channels: int, kernel_size: int = 3, n_flows: int = 4, gin_channels: int = 0) -> None:
        super().__init__()
        filter_channels = in_channels  # as in VITS
        self.flows = nn.ModuleList([ElementwiseAffine(2)])
        for _ in range(n_flows):
            self.flows.append(ConvFlow(2, filter_channels, kernel_size, n_layers=3))
            self.flows.append(Flip())
        self.pre = nn.Conv1d(in_channels, filter_channels, 1)
        self.proj = nn.Conv1d(filter_channels, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, n_layers=3)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, filter_channels, 1)

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: torch.Tensor | None = None, noise_scale=1.0
    ) -> torch.Tensor:
        """Sampled log-durations [b, 1, t] (inference)."""
        x = self.pre(x.detach())
        if g is not None:
            x = x + self.cond(g.detach())
        x = self.proj(self.convs(x, x_mask)) * x_mask
        flows = list(reversed(self.flows))
        flows = flows[:-2] + [flows[-1]]  # the first ConvFlow only serves training
        z = torch.randn(x.size(0), 2, x.size(2), dtype=x.dtype, device=x.device) * noise_scale
        for flow in flows:
            z = flow(z, x_mask, g=x, reverse=True)
        return z[:, :1]
