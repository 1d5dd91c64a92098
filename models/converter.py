"""VITS-style zero-shot voice converter with OpenVoice's tone-colour-converter layout (torch).

Parts (state-dict prefixes as in OpenVoice's ``SynthesizerTrn`` with ``n_speakers=0``):
``enc_q`` posterior encoder (linear spectrogram -> latent z, WN stack), ``flow`` speaker-conditioned
coupling flow (removes the source tone colour, adds the target's), ``dec`` HiFi-GAN decoder, and
``ref_enc`` reference encoder (spectrogram -> tone-colour vector ``g``, 6 strided 2-D convs + GRU).
Conversion: z = enc_q(spec); z_p = flow(z, g_src); z' = flow⁻¹(z_p, g_tgt); audio = dec(z').
With ``zero_g`` (OpenVoice V2) the encoder and decoder get a zero condition; only the flow sees g.

OpenVoice checkpoints store legacy weight norm (``*.weight_g`` / ``*.weight_v``);
``load_openvoice_state_dict`` folds them, ``openvoice_state_dict_keys`` lists the names it expects.
A randomly initialised converter is NOT a voice: it only exercises shapes, export and streaming.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from edge_vc.models.vits_modules import (
    Generator,
    PosteriorEncoder,
    ResidualCouplingBlock,
    apply_legacy_weight_norm,
    fold_weight_norm,
)
from torch import nn
from torch.nn import functional as F

from edge_vc.configs import from_mapping

REF_ENC_FILTERS = (32, 32, 64, 64, 128, 128)


@dataclass
class ConverterConfig:
    """OpenVoice converter ``config.json`` (``data`` + ``model`` sections); defaults are OpenVoice V2."""

    sampling_rate: int = 22050
    filter_length: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    inter_channels: int = 192
    hidden_channels: int = 192
    filter_channels: int = 768
    resblock: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    upsample_rates: list[int] = field(default_factory=lambda: [8, 8, 2, 2])
    upsample_initial_channel: int = 512
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 4, 4])
    gin_channels: int = 256
    zero_g: bool = True
    """V2: encoder and decoder get g = 0; only the flow is speaker-conditioned."""

    @property
    def spec_channels(self) -> int:
        return self.filter_length // 2 + 1

    @staticmethod
    def tiny() -> ConverterConfig:
        """Small sizes for tests (same structure, hop 256 at 22 050 Hz)."""
        return ConverterConfig(
            inter_channels=32,
            hidden_channels=32,
            filter_channels=64,
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3, 5]],
            upsample_rates=[8, 8, 4],
            upsample_initial_channel=64,
            upsample_kernel_sizes=[16, 16, 8],
        )

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ConverterConfig:
        """Accept OpenVoice's nested layout ({"data": ..., "model": ...}) or this class's flat one."""
        flat: dict[str, Any] = {}
        if "data" in data or "model" in data:
            flat.update(data.get("data", {}))
            flat.update(data.get("model", {}))
            if int(flat.get("n_speakers", 0)) != 0:
                raise ValueError("this is a base-speaker TTS config (n_speakers > 0), not a converter config")
        else:
            flat.update(data)
        return from_mapping(ConverterConfig, flat, what="converter config", unknown="ignore")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        if math.prod(self.upsample_rates) != self.hop_length:
            raise ValueError(f"upsample rates {self.upsample_rates} do not multiply to hop_length {self.hop_length}")
        if self.inter_channels % 2:
            raise ValueError("inter_channels must be even")
        if self.win_length > self.filter_length:
            raise ValueError("win_length must be <= filter_length")


class ReferenceEncoder(nn.Module):
    """Spectrogram frames [b, t, bins] -> tone-colour vector [b, gin]."""

    def __init__(self, spec_channels: int, gin_channels: int) -> None:
        super().__init__()
        self.spec_channels = spec_channels
        filters = (1, *REF_ENC_FILTERS)
        self.convs = nn.ModuleList(
            nn.Conv2d(filters[i], filters[i + 1], kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
            for i in range(len(REF_ENC_FILTERS))
        )
        bins = spec_channels
        for _ in REF_ENC_FILTERS:
            bins = (bins - 3 + 2) // 2 + 1
        self.gru = nn.GRU(input_size=REF_ENC_FILTERS[-1] * bins, hidden_size=128, batch_first=True)
        self.proj = nn.Linear(128, gin_channels)
        self.layernorm = nn.LayerNorm(spec_channels)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        b = inputs.size(0)
        out = self.layernorm(inputs.reshape(b, 1, -1, self.spec_channels))
        for conv in self.convs:
            out = F.relu(conv(out))
        out = out.transpose(1, 2)
        out = out.reshape(b, out.size(1), -1)
        _, hidden = self.gru(out)
        return self.proj(hidden.squeeze(0))


class ToneColorConverter(nn.Module):
    """OpenVoice-layout converter: ``enc_q``, ``flow``, ``dec``, ``ref_enc``."""

    def __init__(self, config: ConverterConfig) -> None:
        super().__init__()
        config.validate()
        c = config
        self.config = config
        self.dec = Generator(
            c.inter_channels,
            c.resblock,
            c.resblock_kernel_sizes,
            c.resblock_dilation_sizes,
            c.upsample_rates,
            c.upsample_initial_channel,
            c.upsample_kernel_sizes,
            gin_channels=c.gin_channels,
        )
        self.enc_q = PosteriorEncoder(
            c.spec_channels, c.inter_channels, c.hidden_channels, 5, 1, 16, gin_channels=c.gin_channels
        )
        self.flow = ResidualCouplingBlock(c.inter_channels, c.hidden_channels, 5, 1, 4, gin_channels=c.gin_channels)
        self.ref_enc = ReferenceEncoder(c.spec_channels, c.gin_channels)

    def weight_norm_modules(self) -> list[nn.Module]:
        """Modules OpenVoice wraps in (legacy) weight norm — their weights are stored as g/v pairs."""
        mods = self.dec.weight_norm_modules() + self.enc_q.enc.weight_norm_modules()
        for flow in self.flow.flows[::2]:
            mods += flow.enc.weight_norm_modules()
        return mods + list(self.ref_enc.convs)

    def extract_se(self, spec: torch.Tensor) -> torch.Tensor:
        """Tone colour [b, gin, 1] of a linear spectrogram [b, bins, t]."""
        return self.ref_enc(spec.transpose(1, 2)).unsqueeze(-1)

    def voice_conversion(
        self,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        g_src: torch.Tensor,
        g_tgt: torch.Tensor,
        tau: float = 0.0,
    ) -> torch.Tensor:
        """Audio [b, 1, frames * hop] of ``spec`` re-coloured from ``g_src`` to ``g_tgt`` ([b, gin, 1])."""
        zero = self.config.zero_g
        z, _, _, y_mask = self.enc_q(spec, spec_lengths, g=torch.zeros_like(g_src) if zero else g_src, tau=tau)
        z_p = self.flow(z, y_mask, g=g_src)
        z_hat = self.flow(z_p, y_mask, g=g_tgt, reverse=True)
        return self.dec(z_hat * y_mask, g=torch.zeros_like(g_tgt) if zero else g_tgt)


def openvoice_state_dict_keys(config: ConverterConfig) -> list[str]:
    """The parameter names an OpenVoice converter checkpoint holds (legacy weight norm: ``weight_g/_v``)."""
    model = ToneColorConverter(config)
    apply_legacy_weight_norm(model.weight_norm_modules())
    return list(model.state_dict().keys())


def load_openvoice_state_dict(model: ToneColorConverter, state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Load an OpenVoice ``checkpoint['model']`` dict; returns {"missing": [...], "unexpected": [...]}.

    Keys of the text-to-speech half (``enc_p``, ``dp``, ``sdp``, ``emb_g``) are ignored, as OpenVoice's
    own loader does; any missing converter key is an error.
    """
    folded = fold_weight_norm(state)
    ignored_prefixes = ("enc_p.", "dp.", "sdp.", "emb_g.")
    wanted = model.state_dict()
    usable = {k: v for k, v in folded.items() if k in wanted}
    unexpected = [k for k in folded if k not in wanted and not k.startswith(ignored_prefixes)]
    missing = [k for k in wanted if k not in usable]
    if missing:
        raise KeyError(f"checkpoint lacks {len(missing)} converter parameters, e.g. {missing[:3]}")
    for key, value in usable.items():
        if tuple(value.shape) != tuple(wanted[key].shape):
            raise ValueError(f"{key}: checkpoint shape {tuple(value.shape)}, config gives {tuple(wanted[key].shape)}")
    model.load_state_dict(usable, strict=True)
    return {"missing": missing, "unexpected": unexpected}


def linear_spectrogram(audio: torch.Tensor, config: ConverterConfig) -> torch.Tensor:
    """Magnitude STFT [b, bins, frames] as OpenVoice computes it (reflect pad, no centering, Hann)."""
    n_fft, hop, win = config.filter_length, config.hop_length, config.win_length
    pad = (n_fft - hop) // 2
    y = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(win, dtype=audio.dtype, device=audio.device)
    spec = torch.stft(y, n_fft, hop_length=hop, win_length=win, window=window, center=False, return_complex=True)
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-6)
