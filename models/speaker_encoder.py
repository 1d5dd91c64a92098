"""GE2E d-vector speaker encoder (resemblyzer's network) in PyTorch, for export and reference.

3-layer LSTM (40 mel bands in, 256 hidden) → last hidden state of the top layer → Linear 256 →
ReLU → L2 norm. Loads resemblyzer's ``pretrained.pt`` (Apache-2.0) without importing resemblyzer.
Input: (batch, frames, 40) linear power mel frames from ``edge_vc.features.mel`` (resemblyzer config).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

MEL_BANDS = 40
HIDDEN = 256
EMBEDDING = 256
LAYERS = 3


class SpeakerEncoderNet(nn.Module):
    """The GE2E network; ``forward(mels)`` → L2-normalised (batch, 256) embeddings."""

    def __init__(self, n_mels: int = MEL_BANDS, hidden: int = HIDDEN, embedding: int = EMBEDDING, layers: int = LAYERS):
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    @classmethod
    def from_resemblyzer(cls, path: str | Path) -> SpeakerEncoderNet:
        """Load resemblyzer's ``pretrained.pt`` (a checkpoint with ``model_state``)."""
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
        state = checkpoint.get("model_state", checkpoint)
        # similarity_weight/bias belong to the GE2E training loss, not the encoder.
        state = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}
        net = cls()
        net.load_state_dict(state, strict=True)
        return net.eval()
